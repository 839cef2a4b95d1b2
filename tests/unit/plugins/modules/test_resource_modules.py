# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""ipvs_service, ipvs_server, ipvs_timeout, ipvs_daemon, ipvs_laddr: option
validation and change computation against the fake IPVS kernel (harness.py)."""

import pytest

import cases
from harness import Harness, sent_service_flags, writes

from ansible_collections.lvs.ipvs.plugins.module_utils._model import (
    F_ONEPACKET, F_PERSISTENT, F_SCHED2, Daemon, Timeouts, make_server, make_service,
)
from ansible_collections.lvs.ipvs.plugins.modules import (
    ipvs_daemon, ipvs_laddr, ipvs_server, ipvs_service, ipvs_timeout,
)

WEB = dict(vip='192.0.2.10', vport=80)
KEY = ('ipv4', 'tcp', '192.0.2.10', 80, None)


@pytest.fixture
def h(monkeypatch, capsys):
    harness = Harness(monkeypatch, capsys)
    harness.kernel()
    return harness


def service(fake, key=KEY):
    return next((s for s, _servers in fake.table() if s.key == key), None)


# ---------------------------------------------------------------- ipvs_service

def test_service_with_servers_four_runs_and_diff(h):
    args = dict(WEB, scheduler='wrr', servers=[
        dict(rip='10.0.0.2', forward='masq', weight=3), dict(rip='10.0.0.3', rport=8080, forward='masq')])
    first, real = h.four(ipvs_service, args)
    assert first['changed'] and first['diff']['before'] == {}
    assert first['diff']['after']['scheduler'] == 'wrr'
    assert [(s['rip'], s['rport'], s['weight']) for s in real['service']['servers']] == [
        ('10.0.0.2', 80, 3), ('10.0.0.3', 8080, 1)]
    assert writes(h.fake) == ['NEW_SERVICE', 'NEW_DEST', 'NEW_DEST']
    svc = service(h.fake)
    assert (svc.scheduler, svc.flags, svc.timeout) == ('wrr', 0, 0)
    # The kernel lists real servers newest first; results are sorted by address and port.
    assert [s.rip for s in h.fake.servers(KEY)] == ['10.0.0.3', '10.0.0.2']


def test_update_changes_only_what_is_asked(h):
    h.fake.add_service(make_service(*KEY, scheduler='sh', flags=F_PERSISTENT | F_SCHED2, timeout=600))
    h.fake.add_server(KEY, make_server('10.0.0.9', 80, forward='dr'))
    first, _real = h.four(ipvs_service, dict(WEB, scheduler='sh'))
    assert not first['changed']
    n = len(h.fake.log)
    first, _real = h.four(ipvs_service, dict(WEB, persistence_timeout=900))
    svc = service(h.fake)
    assert (svc.flags, svc.timeout, svc.scheduler) == (F_PERSISTENT | F_SCHED2, 900, 'sh')
    edits = [r for r in h.fake.log[n:] if r.write]
    assert [r.name for r in edits] == ['SET_SERVICE']
    assert sent_service_flags(edits[0])[1] == 0, 'no flag was asked about, so the mask is empty'
    assert first['diff']['before']['persistence_timeout'] == 600 and first['diff']['after']['persistence_timeout'] == 900
    assert [s.rip for s in h.fake.servers(KEY)] == ['10.0.0.9'], 'servers not listed are kept without purge_servers'


def test_purge_drain_and_remove_servers(h):
    h.fake.load([(make_service(*KEY, scheduler='wrr'),
                  [make_server(ip, 80, forward='masq', weight=2) for ip in ('10.0.0.2', '10.0.0.3', '10.0.0.4')])])
    args = dict(WEB, servers=[dict(rip='10.0.0.2', forward='masq', weight=2),
                              dict(rip='10.0.0.3', state='drained'),
                              dict(rip='10.0.0.7', state='absent')], purge_servers=True)
    first, real = h.four(ipvs_service, args)
    assert first['changed']
    assert sorted((s.rip, s.weight) for s in h.fake.servers(KEY)) == [('10.0.0.2', 2), ('10.0.0.3', 0)]
    assert [(s['rip'], s['weight']) for s in real['service']['servers']] == [('10.0.0.2', 2), ('10.0.0.3', 0)]


def test_persistence_defaults_and_one_packet(h):
    h.four(ipvs_service, dict(vip='192.0.2.1', vport=53, protocol='udp', persistent=True, one_packet=True))
    svc = service(h.fake, ('ipv4', 'udp', '192.0.2.1', 53, None))
    assert svc.flags == F_PERSISTENT | F_ONEPACKET and svc.timeout == 360 and svc.netmask == '255.255.255.255'
    h.four(ipvs_service, dict(fwmark=7, family='ipv6', persistent=True, netmask='64', pe='sip'))
    svc = service(h.fake, ('ipv6', None, None, None, 7))
    assert (svc.netmask, svc.pe, svc.timeout) == ('64', 'sip', 360)


def test_absent_and_zero_stats(h):
    h.fake.add_service(make_service(*KEY))
    h.fake.add_traffic(KEY, conns=5, inpkts=1, outpkts=1, inbytes=1, outbytes=1)
    first, _real = h.four(ipvs_service, dict(WEB, zero_stats=True))
    assert first['changed'] and service(h.fake).stats.conns == 0
    assert writes(h.fake) == ['ZERO']
    first, _real = h.four(ipvs_service, dict(WEB, state='absent'))
    assert first['changed'] and not h.fake.has_service(KEY) and first['diff']['after'] == {}


@pytest.mark.parametrize('args, message', cases.SERVICE_BAD)
def test_service_bad_input_fails_and_changes_nothing(h, args, message):
    result = h.run(ipvs_service, args)
    assert result.get('failed') and message in result['msg'], result
    assert writes(h.fake) == [] and h.fake.table() == []


# ---------------------------------------------------------------- ipvs_server

def test_server_present_update_drain_absent(h):
    h.fake.add_service(make_service(*KEY))
    srv = dict(WEB, rip='10.0.0.2', forward='tun', tun_type='gue', tun_port=6080, tun_csum='csum', weight=2)
    first, real = h.four(ipvs_server, srv)
    assert first['changed'] and first['diff']['before'] == {} and real['server']['tun_port'] == 6080
    first, real = h.four(ipvs_server, dict(srv, weight=5, u_threshold=100, l_threshold=10))
    assert first['diff']['before']['weight'] == 2 and first['diff']['after']['weight'] == 5
    first, real = h.four(ipvs_server, dict(WEB, rip='10.0.0.2', state='drained'))
    got = h.fake.servers(KEY)[0]
    assert (got.weight, got.tun_type, got.tun_port, got.u_threshold) == (0, 'gue', 6080, 100)
    first, real = h.four(ipvs_server, dict(WEB, rip='10.0.0.2', state='absent'))
    assert h.fake.servers(KEY) == [] and real['server'] is None
    first, _real = h.four(ipvs_server, dict(WEB, rip='10.0.0.2', state='drained'))
    assert not first['changed']


def test_server_mixed_family_only_for_tunnels(h):
    h.fake.add_service(make_service(*KEY))
    h.four(ipvs_server, dict(WEB, rip='2001:db8::7', forward='tun'))
    assert [(s.rip, s.family, s.forward) for s in h.fake.servers(KEY)] == [('2001:db8::7', 'ipv6', 'tun')]
    n = len(h.fake.log)
    result = h.run(ipvs_server, dict(WEB, rip='2001:db8::8', forward='masq'))
    assert result['failed'] and 'needs forward=tun' in result['msg']
    assert writes(h.fake, n) == []


@pytest.mark.parametrize('args, message', cases.SERVER_BAD)
def test_server_bad_input_fails_and_changes_nothing(h, args, message):
    h.fake.add_service(make_service(*KEY))
    result = h.run(ipvs_server, dict(WEB, **args))
    assert result.get('failed') and message in result['msg'], result
    assert writes(h.fake) == [] and h.fake.servers(KEY) == []


def test_check_mode_assumes_a_missing_service_is_created_earlier(h):
    args = dict(WEB, rip='10.0.0.2', forward='masq')
    result = h.run(ipvs_server, args, check=True, diff=True)
    assert result['changed'] and writes(h.fake) == []
    assert result['diff']['after']['rip'] == '10.0.0.2'
    assert any('check mode assumes an earlier task creates it' in w for w in h.warnings), h.warnings
    result = h.run(ipvs_server, args)
    assert result['failed'] and 'does not exist; create it first' in result['msg']
    assert writes(h.fake) == [] and h.fake.table() == []


# ---------------------------------------------------------------- ipvs_timeout, ipvs_daemon, ipvs_laddr

def test_timeouts_leave_omitted_values(h):
    first, real = h.four(ipvs_timeout, dict(udp=60))
    assert first['diff'] == {'before': {'tcp': 900, 'tcpfin': 120, 'udp': 300}, 'after': {'tcp': 900, 'tcpfin': 120, 'udp': 60}}
    assert h.fake.timeouts == Timeouts(900, 120, 60)


@pytest.mark.parametrize('args, message', cases.TIMEOUT_BAD)
def test_timeout_bad_input(h, args, message):
    result = h.run(ipvs_timeout, args)
    assert result.get('failed') and message in result['msg'], (args, result)
    assert writes(h.fake) == [] and h.fake.timeouts == Timeouts(900, 120, 300)


def test_daemon_start_restart_stop(h):
    args = dict(role='master', mcast_interface='eth1', syncid=7)
    first, real = h.four(ipvs_daemon, args)
    assert first['changed'] and real['daemon']['mcast_group'] == '224.0.0.81'
    assert h.fake.daemons == [Daemon('master', 'eth1', 7, 1472, '224.0.0.81', 8848, 1)]
    n = len(h.fake.log)
    first, real = h.four(ipvs_daemon, dict(args, mcast_port=8849))
    assert 'restarted' in real['msg'] and first['diff']['before']['mcast_port'] == 8848
    assert writes(h.fake, n) == ['DEL_DAEMON', 'NEW_DAEMON']
    assert h.fake.daemons == [Daemon('master', 'eth1', 7, 1472, '224.0.0.81', 8849, 1)]
    first, real = h.four(ipvs_daemon, dict(role='master', state='absent'))
    assert h.fake.daemons == [] and real['daemon'] is None


@pytest.mark.parametrize('role, args, maxlen', [
    ('master', {}, 1472),                               # a master's default ignores lo's MTU of 65536
    ('backup', {}, 65507),                              # a backup's follows it, clamped to 65535
    ('backup', dict(sync_maxlen=100), 1024),            # the kernel raises a backup's to 1024
    ('master', dict(mcast_group='ff02::81'), 1452),     # an IPv6 group costs 20 bytes more
    ('master', dict(mcast_group='ff15::81', sync_maxlen=65507), 65487),
])
def test_daemon_predicts_the_sync_maxlen_the_kernel_keeps(h, role, args, maxlen):
    h.kernel(interfaces={'lo': 65536, 'eth0': (9000, True)})
    iface = 'eth0' if 'mcast_group' in args else 'lo'
    first, real = h.four(ipvs_daemon, dict(args, role=role, mcast_interface=iface))
    assert real['daemon']['sync_maxlen'] == maxlen == h.fake.daemons[0].sync_maxlen


@pytest.mark.parametrize('args, message', cases.DAEMON_BAD)
def test_daemon_bad_input(h, args, message):
    result = h.run(ipvs_daemon, args)
    assert result.get('failed') and message in result['msg'], result
    assert writes(h.fake) == []


@pytest.mark.parametrize('args, message', cases.LADDR_BAD)
def test_laddr_bad_input(h, args, message):
    h.fake.add_service(make_service(*KEY))   # a mainline kernel: no local-address commands
    result = h.run(ipvs_laddr, cases.merged(WEB, args))
    assert result.get('failed') and message in result['msg'], result
    assert writes(h.fake) == []


def test_laddr_on_fullnat_and_mainline(h):
    fake = h.kernel(laddr=True)
    fake.add_service(make_service(*KEY))
    first, real = h.four(ipvs_laddr, dict(WEB, addresses=['10.1.0.1', '10.1.0.2']))
    assert real['laddrs'] == ['10.1.0.1', '10.1.0.2'] == [a.address for a in fake.laddrs(KEY)]
    first, real = h.four(ipvs_laddr, dict(WEB, addresses=['10.1.0.2'], purge=True))
    assert first['diff'] == {'before': {'laddrs': ['10.1.0.1', '10.1.0.2']}, 'after': {'laddrs': ['10.1.0.2']}}
    assert [a.address for a in fake.laddrs(KEY)] == ['10.1.0.2']
    n = len(fake.log)
    result = h.run(ipvs_laddr, dict(WEB, addresses=['2001:db8::1']))
    assert result['failed'] and 'addresses[0]: 2001:db8::1 is ipv6 but the service is ipv4' in result['msg']
    assert writes(fake, n) == []
    mainline = h.kernel()
    mainline.add_service(make_service(*KEY))
    result = h.run(ipvs_laddr, dict(WEB, addresses=['10.1.0.1']))
    assert result['failed'] and 'no FULLNAT local-address support' in result['msg'] and writes(mainline) == []
