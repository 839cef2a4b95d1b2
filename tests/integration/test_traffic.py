# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Real traffic through a NAT service: a client and two busybox httpd backends
in namespaces of their own, the director in a third."""

import collections
import time

import pytest

from lvs_testlib import BACKENDS, VIP, Netns, Topology, run_module, sh

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


def _service(topo, mode, persistent=False, weights=(3, 1), scheduler='wrr'):
    servers = [dict(rip=addr, forward=mode, weight=w) for (addr, _gw), w in zip(
        (BACKENDS['rs1'], BACKENDS['rs2']), weights)]
    args = dict(vip=VIP, vport=80, scheduler=scheduler, servers=servers, persistent=persistent)
    result = run_module('service', args, topo.lb)
    assert result['changed'] and 'failed' not in result, result


@pytest.mark.parametrize('mode', ['dr', 'tun'])
def test_direct_routing_and_ipip_tunnel_split_3_to_1(mode):
    topo = Topology(mode)
    try:
        _service(topo, mode)
        # wrr 3:1 goes rs1, rs1, rs1, rs2, ...: eight requests show the split.
        assert topo.get(8) == {'rs1': 6, 'rs2': 2}
        servers = run_module('info', dict(gather=['services']), topo.lb)['ipvs']['services'][0]['servers']
        assert sorted(s['forward'] for s in servers) == [mode, mode]
        if mode == 'tun':
            assert all(s['tun_type'] == 'ipip' for s in servers)
    finally:
        topo.close()


def test_drained_server_gets_no_new_connections_while_old_ones_finish(topo):
    _service(topo, 'masq', weights=(1, 1), scheduler='rr')
    held, send = topo.hold()
    (conn,) = [c for c in topo.lb.sh('cat /proc/net/ip_vs_conn').splitlines() if 'ESTABLISHED' in c]
    busy = 'rs1' if '0A150002' in conn else 'rs2'
    other = 'rs2' if busy == 'rs1' else 'rs1'
    result = run_module('server', dict(vip=VIP, vport=80, rip=BACKENDS[busy][0], forward='masq', state='drained'),
                        topo.lb)
    assert result['changed'] and result['server']['weight'] == 0
    assert topo.get(6) == {other: 6}
    assert send() == busy, 'the connection made before draining must still be served by the drained server'


def test_persistence_keeps_a_client_on_one_server(topo):
    _service(topo, 'masq', persistent=True, weights=(1, 1), scheduler='rr')
    answers = topo.get(8)
    assert len(answers) == 1 and sum(answers.values()) == 8, answers
    (svc,) = run_module('info', dict(gather=['services']), topo.lb)['ipvs']['services']
    assert svc['persistent'] and svc['persistence_timeout'] == 360
    assert sum(s['persist_conns'] for s in svc['servers']) == 1


def test_sync_daemon_copies_connections_to_the_backup(topo):
    backup = Netns('bk')
    try:
        sh('ip link add sya netns %s type veth peer name syb netns %s' % (topo.lb.name, backup.name))
        topo.lb.sh('ip addr add 10.30.0.1/24 dev sya && ip link set sya multicast on up')
        backup.sh('ip addr add 10.30.0.2/24 dev syb && ip link set syb multicast on up')
        _service(topo, 'masq')
        assert run_module('service', dict(vip=VIP, vport=80, scheduler='wrr'), backup)['changed']
        assert run_module('daemon', dict(role='backup', mcast_interface='syb', syncid=5), backup)['changed']
        assert run_module('daemon', dict(role='master', mcast_interface='sya', syncid=5), topo.lb)['changed']
        assert topo.get(8) == {'rs1': 6, 'rs2': 2}
        deadline = time.time() + 15
        synced = []
        while time.time() < deadline and len(synced) < 8:
            time.sleep(1)
            synced = [c for c in run_module('info', dict(gather=['connections']), backup)['ipvs']['connections']
                      if c['client'] == '10.10.0.2' and c['vip'] == VIP]
        assert len(synced) == 8, synced
        assert set(c['rip'] for c in synced) == {BACKENDS['rs1'][0], BACKENDS['rs2'][0]}
    finally:
        backup.delete()
