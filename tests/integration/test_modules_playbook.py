# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The resource modules through real ansible-playbook runs: --check --diff,
for real, and again."""

import re

from lvs_testlib import ansible_playbook

EXPECTED = """\
-A -t 10.0.0.1:80 -s wrr
-a -t 10.0.0.1:80 -r 10.1.0.2:80 -m -w 3
-a -t 10.0.0.1:80 -r 10.1.0.3:8080 -m -w 1
-A -t 10.0.0.1:443 -s sh -p 360 -M 255.255.255.0 -b sh-port
-a -t 10.0.0.1:443 -r 10.1.0.9:443 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum
"""


def recap(out):
    # The ignored laddr failure counts as ok (and as ignored) in the recap.
    m = re.search(r'localhost\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)', out)
    assert m, out
    return dict(zip(('ok', 'changed', 'unreachable', 'failed'), map(int, m.groups())))


def diff_lines(out):
    """The diff lines of a run's output, in order."""
    return [line for line in out.splitlines() if line.startswith(('+', '-', '@@'))]


def test_resource_modules_check_diff_real_again(netns):
    netns.sh('ip link add sync0 type dummy && ip link set sync0 multicast on up')
    extra = ('-e', 'netns=%s' % netns.name)

    p = ansible_playbook('modules.yml', '--check', '--diff', *extra)
    assert p.returncode == 0, p.stdout
    assert recap(p.stdout) == dict(ok=7, changed=5, unreachable=0, failed=0), p.stdout
    assert '+    "scheduler": "wrr",' in p.stdout, p.stdout
    assert netns.ipvsadm('-Sn') == '' and netns.ipvsadm('-L --daemon') == ''
    predicted = diff_lines(p.stdout)

    p = ansible_playbook('modules.yml', '--diff', *extra)
    assert p.returncode == 0 and recap(p.stdout)['changed'] == 5, p.stdout
    assert diff_lines(p.stdout) == predicted, 'the --check diff is not the real one\n' + p.stdout
    assert netns.ipvsadm('-Sn') == EXPECTED
    assert netns.ipvsadm('-L --timeout') == 'Timeout (tcp tcpfin udp): 1000 120 60\n'
    assert netns.ipvsadm('-L --daemon').startswith('master sync daemon (mcast=sync0, syncid=3')

    p = ansible_playbook('modules.yml', *extra)
    assert p.returncode == 0 and recap(p.stdout) == dict(ok=7, changed=0, unreachable=0, failed=0), p.stdout
