# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The resource modules and ipvs_info through real ansible-playbook runs, the way users run
them: the controller here, the modules on a fleet host over SSH, each test in a network
namespace of its own there. (Run inside the emulated VM, with the controller emulated too,
these took 17 minutes; from here about a fifth of that.)"""

import json
import re
import shlex

import pytest

HOST = 'client'
PLAYBOOKS = __file__.rsplit('/', 1)[0] + '/playbooks/'

MODULES_EXPECTED = """\
-A -t 10.0.0.1:80 -s wrr
-a -t 10.0.0.1:80 -r 10.1.0.2:80 -m -w 3
-a -t 10.0.0.1:80 -r 10.1.0.3:8080 -m -w 1
-A -t 10.0.0.1:443 -s sh -p 360 -M 255.255.255.0 -b sh-port
-a -t 10.0.0.1:443 -r 10.1.0.9:443 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum
"""

INFO_RULES = """\
-A -t 10.0.0.1:80 -s wrr
-a -t 10.0.0.1:80 -r 10.1.0.2:80 -m -w 3
-a -t 10.0.0.1:80 -r 10.1.0.3:80 -m -w 1
-A -t 10.0.0.1:443 -s sh -p 600 -M 255.255.255.0 -b sh-port
-a -t 10.0.0.1:443 -r 10.1.0.2:443 -g -w 1
-A -f 5 -s rr
-a -f 5 -r 10.1.0.4:0 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum
"""


class RemoteNetns(object):
    """A network namespace on a fleet host, read with that host's ipvsadm."""

    def __init__(self, fleet, name):
        self.fleet = fleet
        self.name = name
        fleet.ssh(HOST, 'ip netns del %s 2>/dev/null; ip netns add %s && ip -n %s link set lo up' % ((name,) * 3))

    def sh(self, cmd):
        return self.fleet.ssh(HOST, 'ip netns exec %s sh -c %s' % (self.name, shlex.quote(cmd))).stdout

    def ipvsadm(self, args):
        return self.sh('ipvsadm %s' % args)

    def delete(self):
        self.fleet.ssh(HOST, 'ip netns del %s' % self.name, check=False)


@pytest.fixture
def netns(fleet, request):
    ns = RemoteNetns(fleet, 'pb-' + request.node.name[5:20])
    yield ns
    ns.delete()


def recap(out):
    # The ignored laddr failure counts as ok (and as ignored) in the recap.
    m = re.search(r'%s\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)' % HOST, out)
    assert m, out
    return dict(zip(('ok', 'changed', 'unreachable', 'failed'), map(int, m.groups())))


def diff_lines(out):
    """The diff lines of a run's output, in order."""
    return [line for line in out.splitlines() if line.startswith(('+', '-', '@@'))]


def test_resource_modules_check_diff_real_again(playbooks, netns):
    netns.sh('ip link add sync0 type dummy && ip link set sync0 multicast on up')

    def run(*args):
        return playbooks.run('-e', 'target=%s netns=%s' % (HOST, netns.name), *args,
                             playbook=PLAYBOOKS + 'modules.yml', check=False)

    p = run('--check', '--diff')
    assert p.rc == 0, p.out
    assert recap(p.out) == dict(ok=7, changed=5, unreachable=0, failed=0), p.out
    assert '+    "scheduler": "wrr",' in p.out, p.out
    assert netns.ipvsadm('-Sn') == '' and netns.ipvsadm('-L --daemon') == ''
    predicted = diff_lines(p.out)

    p = run('--diff')
    assert p.rc == 0 and recap(p.out)['changed'] == 5, p.out
    assert diff_lines(p.out) == predicted, 'the --check diff is not the real one\n' + p.out
    assert netns.ipvsadm('-Sn') == MODULES_EXPECTED
    assert netns.ipvsadm('-L --timeout') == 'Timeout (tcp tcpfin udp): 1000 120 60\n'
    assert netns.ipvsadm('-L --daemon').startswith('master sync daemon (mcast=sync0, syncid=3')

    p = run()
    assert p.rc == 0 and recap(p.out) == dict(ok=7, changed=0, unreachable=0, failed=0), p.out


def test_ipvs_info_playbook(playbooks, netns):
    """ipvs_info against a table ipvsadm -R filled (the assertions live in the playbook)."""
    netns.sh('ipvsadm -R <<"EOF"\n%sEOF' % INFO_RULES)
    before = netns.ipvsadm('-Sn')
    rules_443 = ''.join(line + '\n' for line in INFO_RULES.splitlines() if ':443' in line)
    p = playbooks.run('-e', 'target=%s netns=%s' % (HOST, netns.name), '-e', json.dumps({'rules_443': rules_443}),
                      playbook=PLAYBOOKS + 'ipvs_info.yml', check=False)
    assert p.rc == 0, p.out
    assert 'failed=0' in p.out and 'changed=0' in p.out, p.out
    assert netns.ipvsadm('-Sn') == before
