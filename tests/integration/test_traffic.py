# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Real traffic through a NAT service: a client and two busybox httpd backends
in namespaces of their own, the director in a third."""

import collections
import time

import pytest

from lvs_testlib import VIP, Topology

from ansible_collections.lvs.ipvs.plugins.module_utils import _gather
from ansible_collections.lvs.ipvs.plugins.module_utils._model import make_server, make_service


@pytest.fixture
def topo():
    t = Topology()
    yield t
    t.close()


def test_nat_wrr_3_to_1_with_stats_rates_and_connections(topo):
    from ansible_collections.lvs.ipvs.plugins.module_utils._ipvs import IpvsClient
    client = IpvsClient(netns=topo.lb.name)
    svc = make_service(family='ipv4', protocol='tcp', vip=VIP, vport=80, scheduler='wrr')
    servers = [make_server('10.21.0.2', 80, forward='masq', weight=3),
               make_server('10.22.0.2', 80, forward='masq', weight=1)]
    assert client.add_table([(svc, servers)]) == []

    assert topo.get(40) == {'rs1': 30, 'rs2': 10}

    # The kernel publishes counters from its 2-second estimator: wait for them, then for rates.
    deadline = time.time() + 10
    while client.service(svc.key).stats.conns < 40 and time.time() < deadline:
        time.sleep(0.5)
    (got_svc, got_servers), = client.table()
    assert got_svc.stats.conns == 40 and got_svc.stats.inpkts > 40 and got_svc.stats.outbytes > 0
    by_rip = dict((s.rip, s) for s in got_servers)
    assert (by_rip['10.21.0.2'].stats.conns, by_rip['10.22.0.2'].stats.conns) == (30, 10)
    while client.service(svc.key).rates.cps == 0 and time.time() < deadline:
        time.sleep(0.5)
    rates = client.service(svc.key).rates
    assert rates.cps > 0 and rates.inpps > 0 and rates.outbps > 0

    conns = [c for c in client.connections() if c['vip'] == VIP]
    assert len(conns) == 40
    assert collections.Counter(c['rip'] for c in conns) == {'10.21.0.2': 30, '10.22.0.2': 10}
    assert all(c['protocol'] == 'tcp' and c['client'] == '10.10.0.2' and c['vport'] == 80 for c in conns)
    assert len(topo.lb.ipvsadm('-Lnc').splitlines()) == 40 + 2

    info = _gather.gather(client, {'services', 'stats', 'rates', 'connections'}, vip=VIP, vport=80)
    assert info['services'][0]['stats']['conns'] == 40 and len(info['connections']) == 40

    client.zero(svc.key)
    assert client.service(svc.key).stats.conns == 0
    client.close()
