# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs inside the VM (demo/run): a director namespace with a wrr NAT service,
two busybox httpd backends, a client sending 40 requests, then ipvs_info."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, 'tests'), os.path.join(ROOT, 'tests', 'integration')]

import conftest  # noqa: E402,F401 pylint: disable=unused-import
from lvs_testlib import VIP, Topology  # noqa: E402

from ansible_collections.lvs.ipvs.plugins.module_utils._ipvs import IpvsClient  # noqa: E402
from ansible_collections.lvs.ipvs.plugins.module_utils._model import make_server, make_service  # noqa: E402


def main():
    topo = Topology()
    try:
        print('== director namespace %s: TCP %s:80, wrr, rs1 weight 3, rs2 weight 1 (NAT)' % (topo.lb.name, VIP))
        with IpvsClient(netns=topo.lb.name) as client:
            client.add_table([(make_service(family='ipv4', protocol='tcp', vip=VIP, vport=80, scheduler='wrr'),
                               [make_server('10.21.0.2', 80, forward='masq', weight=3),
                                make_server('10.22.0.2', 80, forward='masq', weight=1)])])
        print('== 40 requests from the client namespace: %s' % dict(topo.get(40)))
        env = dict(os.environ, ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_NOCOLOR='1')
        cmd = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
               os.path.join(ROOT, 'demo', 'playbook.yml'), '-e', json.dumps({'netns': topo.lb.name})]
        print('== ' + ' '.join(cmd[:1] + ['demo/playbook.yml', '-e', 'netns=' + topo.lb.name]), flush=True)
        return subprocess.call(cmd, env=env)
    finally:
        topo.close()


if __name__ == '__main__':
    sys.exit(main())
