# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""ipvs_info through a real ansible-playbook run (assertions live in the playbook)."""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

RULES = """\
-A -t 10.0.0.1:80 -s wrr
-a -t 10.0.0.1:80 -r 10.1.0.2:80 -m -w 3
-a -t 10.0.0.1:80 -r 10.1.0.3:80 -m -w 1
-A -t 10.0.0.1:443 -s sh -p 600 -M 255.255.255.0 -b sh-port
-a -t 10.0.0.1:443 -r 10.1.0.2:443 -g -w 1
-A -f 5 -s rr
-a -f 5 -r 10.1.0.4:0 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum
"""


def ansible_playbook(playbook, *args):
    # tests/conftest.py points ANSIBLE_COLLECTIONS_PATH at this checkout.
    env = dict(os.environ, ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_HOME=os.environ.get('ANSIBLE_HOME', '/tmp/ansible-home'),
               ANSIBLE_LOCAL_TEMP=os.environ.get('ANSIBLE_LOCAL_TEMP', '/tmp/ansible-local'),
               ANSIBLE_REMOTE_TEMP=os.environ.get('ANSIBLE_REMOTE_TEMP', '/tmp/ansible-remote'),
               ANSIBLE_NOCOLOR='1', ANSIBLE_RETRY_FILES_ENABLED='0')
    cmd = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
           os.path.join(HERE, 'playbooks', playbook)] + list(args)
    return subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)


def test_ipvs_info_playbook(netns):
    netns.restore(RULES)
    before = netns.ipvsadm('-Sn')
    rules_443 = ''.join(line + '\n' for line in RULES.splitlines() if ':443' in line)
    p = ansible_playbook('ipvs_info.yml', '-e', 'netns=%s' % netns.name, '-e', json.dumps({'rules_443': rules_443}))
    assert p.returncode == 0, p.stdout
    assert 'failed=0' in p.stdout and 'changed=0' in p.stdout, p.stdout
    assert netns.ipvsadm('-Sn') == before
