# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""ipvs_info through a real ansible-playbook run (assertions live in the playbook)."""

import json

from lvs_testlib import ansible_playbook

RULES = """\
-A -t 10.0.0.1:80 -s wrr
-a -t 10.0.0.1:80 -r 10.1.0.2:80 -m -w 3
-a -t 10.0.0.1:80 -r 10.1.0.3:80 -m -w 1
-A -t 10.0.0.1:443 -s sh -p 600 -M 255.255.255.0 -b sh-port
-a -t 10.0.0.1:443 -r 10.1.0.2:443 -g -w 1
-A -f 5 -s rr
-a -f 5 -r 10.1.0.4:0 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum
"""


def test_ipvs_info_playbook(netns):
    netns.restore(RULES)
    before = netns.ipvsadm('-Sn')
    rules_443 = ''.join(line + '\n' for line in RULES.splitlines() if ':443' in line)
    p = ansible_playbook('ipvs_info.yml', '-e', 'netns=%s' % netns.name, '-e', json.dumps({'rules_443': rules_443}))
    assert p.returncode == 0, p.stdout
    assert 'failed=0' in p.stdout and 'changed=0' in p.stdout, p.stdout
    assert netns.ipvsadm('-Sn') == before
