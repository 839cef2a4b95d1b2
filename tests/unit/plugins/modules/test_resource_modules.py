# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""ipvs_service, ipvs_server, ipvs_timeout, ipvs_daemon, ipvs_laddr: option
validation and change computation against an in-memory IPVS (fake_ipvs)."""

import pytest

import cases
from fake_ipvs import FakeIpvs, four_runs, run_module

from ansible_collections.lvs.ipvs.plugins.module_utils._model import (
    F_ONEPACKET, F_PERSISTENT, F_SCHED2, Stats, make_server, make_service,
)
from ansible_collections.lvs.ipvs.plugins.modules import (
    ipvs_daemon, ipvs_laddr, ipvs_server, ipvs_service, ipvs_timeout,
)

WEB = dict(vip='192.0.2.10', vport=80)
KEY = ('ipv4', 'tcp', '192.0.2.10', 80, None)


@pytest.fixture
def fake():
    return FakeIpvs()


@pytest.fixture
def run(monkeypatch, capsys, fake):
    def _run(module, args, **kw):
        return run_module(module, args, fake, monkeypatch, capsys, **kw)
    _run.four = lambda module, args: four_runs(module, args, fake, monkeypatch, capsys)
    return _run


# ---------------------------------------------------------------- ipvs_service

def test_service_with_servers_four_runs_and_diff(run, fake):
    args = dict(WEB, scheduler='wrr', servers=[
        dict(rip='10.0.0.2', forward='masq', weight=3), dict(rip='10.0.0.3', rport=8080, forward='masq')])
    first, real = run.four(ipvs_service, args)
    assert first['changed'] and first['diff']['before'] == {}
    assert first['diff']['after']['scheduler'] == 'wrr'
    assert [(s['rip'], s['rport'], s['weight']) for s in real['service']['servers']] == [
        ('10.0.0.2', 80, 3), ('10.0.0.3', 8080, 1)]
    assert [op.name for op in fake.applied] == ['add-service', 'add-server', 'add-server']
    assert fake.svcs[KEY].flags == 0 and fake.svcs[KEY].timeout == 0


def test_update_changes_only_what_is_asked(run, fake):
    fake.svcs[KEY] = make_service(*KEY, scheduler='sh', flags=F_PERSISTENT | F_SCHED2, timeout=600, pe=None)
    fake.dests[KEY] = [make_server('10.0.0.9', 80, forward='dr')]
    first, real = run.four(ipvs_service, dict(WEB, scheduler='sh'))
    assert not first['changed']
    first, real = run.four(ipvs_service, dict(WEB, persistence_timeout=900))
    svc = fake.svcs[KEY]
    assert (svc.flags, svc.timeout, svc.scheduler) == (F_PERSISTENT | F_SCHED2, 900, 'sh')
    assert fake.applied[-1].args[1] == 0, 'no flag was asked about, so the mask is empty'
    assert first['diff']['before']['persistence_timeout'] == 600 and first['diff']['after']['persistence_timeout'] == 900
    assert len(fake.dests[KEY]) == 1, 'servers not listed are kept without purge_servers'


def test_purge_drain_and_remove_servers(run, fake):
    fake.svcs[KEY] = make_service(*KEY, scheduler='wrr')
    fake.dests[KEY] = [make_server(ip, 80, forward='masq', weight=2) for ip in ('10.0.0.2', '10.0.0.3', '10.0.0.4')]
    args = dict(WEB, servers=[dict(rip='10.0.0.2', forward='masq', weight=2),
                              dict(rip='10.0.0.3', state='drained'),
                              dict(rip='10.0.0.7', state='absent')], purge_servers=True)
    first, real = run.four(ipvs_service, args)
    assert first['changed']
    assert [(s.rip, s.weight) for s in fake.dests[KEY]] == [('10.0.0.2', 2), ('10.0.0.3', 0)]


def test_persistence_defaults_and_one_packet(run, fake):
    run.four(ipvs_service, dict(vip='192.0.2.1', vport=53, protocol='udp', persistent=True, one_packet=True))
    svc = fake.svcs[('ipv4', 'udp', '192.0.2.1', 53, None)]
    assert svc.flags == F_PERSISTENT | F_ONEPACKET and svc.timeout == 360 and svc.netmask == '255.255.255.255'
    run.four(ipvs_service, dict(fwmark=7, family='ipv6', persistent=True, netmask='64', pe='sip'))
    svc = fake.svcs[('ipv6', None, None, None, 7)]
    assert (svc.netmask, svc.pe, svc.timeout) == ('64', 'sip', 360)


def test_absent_and_zero_stats(run, fake):
    fake.svcs[KEY] = make_service(*KEY, stats=Stats(5, 1, 1, 1, 1))
    fake.dests[KEY] = []
    first, _real = run.four(ipvs_service, dict(WEB, zero_stats=True))
    assert first['changed'] and fake.svcs[KEY].stats.conns == 0
    first, _real = run.four(ipvs_service, dict(WEB, state='absent'))
    assert first['changed'] and KEY not in fake.svcs and first['diff']['after'] == {}


@pytest.mark.parametrize('args, message', cases.SERVICE_BAD)
def test_service_bad_input_fails_and_changes_nothing(run, fake, args, message):
    result = run(ipvs_service, args)
    assert result.get('failed') and message in result['msg'], result
    assert fake.applied == [] and fake.svcs == {}


# ---------------------------------------------------------------- ipvs_server

def test_server_present_update_drain_absent(run, fake):
    fake.svcs[KEY] = make_service(*KEY)
    fake.dests[KEY] = []
    srv = dict(WEB, rip='10.0.0.2', forward='tun', tun_type='gue', tun_port=6080, tun_csum='csum', weight=2)
    first, real = run.four(ipvs_server, srv)
    assert first['changed'] and first['diff']['before'] == {} and real['server']['tun_port'] == 6080
    first, real = run.four(ipvs_server, dict(srv, weight=5, u_threshold=100, l_threshold=10))
    assert first['diff']['before']['weight'] == 2 and first['diff']['after']['weight'] == 5
    first, real = run.four(ipvs_server, dict(WEB, rip='10.0.0.2', state='drained'))
    assert fake.dests[KEY][0].weight == 0 and fake.dests[KEY][0].tun_type == 'gue'
    first, real = run.four(ipvs_server, dict(WEB, rip='10.0.0.2', state='absent'))
    assert fake.dests[KEY] == [] and real['server'] is None
    first, _real = run.four(ipvs_server, dict(WEB, rip='10.0.0.2', state='drained'))
    assert not first['changed']


def test_server_mixed_family_only_for_tunnels(run, fake):
    fake.svcs[KEY] = make_service(*KEY)
    fake.dests[KEY] = []
    run.four(ipvs_server, dict(WEB, rip='2001:db8::7', forward='tun'))
    assert fake.dests[KEY][0].family == 'ipv6'
    result = run(ipvs_server, dict(WEB, rip='2001:db8::8', forward='masq'))
    assert result['failed'] and 'needs forward=tun' in result['msg']


@pytest.mark.parametrize('args, message', cases.SERVER_BAD)
def test_server_bad_input_fails_and_changes_nothing(run, fake, args, message):
    fake.svcs[KEY] = make_service(*KEY)
    fake.dests[KEY] = []
    result = run(ipvs_server, dict(WEB, **args))
    assert result.get('failed') and message in result['msg'], result
    assert fake.applied == [] and fake.dests[KEY] == []


# ---------------------------------------------------------------- ipvs_timeout, ipvs_daemon, ipvs_laddr

def test_timeouts_leave_omitted_values(run, fake):
    first, real = run.four(ipvs_timeout, dict(udp=60))
    assert first['diff'] == {'before': {'tcp': 900, 'tcpfin': 120, 'udp': 300}, 'after': {'tcp': 900, 'tcpfin': 120, 'udp': 60}}
    assert tuple(fake.config) == (900, 120, 60)
    for args, message in cases.TIMEOUT_BAD:
        result = run(ipvs_timeout, args)
        assert result['failed'] and message in result['msg'], (args, result)


def test_daemon_start_restart_stop(run, fake):
    args = dict(role='master', mcast_interface='eth1', syncid=7)
    first, real = run.four(ipvs_daemon, args)
    assert first['changed'] and real['daemon']['mcast_group'] == '224.0.0.81'
    first, real = run.four(ipvs_daemon, dict(args, mcast_port=8849))
    assert 'restarted' in real['msg'] and first['diff']['before']['mcast_port'] == 8848
    assert [op.name for op in fake.applied[-2:]] == ['stop-daemon', 'start-daemon']
    first, real = run.four(ipvs_daemon, dict(role='master', state='absent'))
    assert fake.running == [] and real['daemon'] is None


@pytest.mark.parametrize('args, message', cases.DAEMON_BAD)
def test_daemon_bad_input(run, fake, args, message):
    result = run(ipvs_daemon, args)
    assert result.get('failed') and message in result['msg'], result
    assert fake.applied == []


@pytest.mark.parametrize('args, message', cases.LADDR_BAD)
def test_laddr_bad_input(monkeypatch, capsys, args, message):
    mainline = FakeIpvs()
    mainline.svcs[KEY] = make_service(*KEY)
    result = run_module(ipvs_laddr, cases.merged(WEB, args), mainline, monkeypatch, capsys)
    assert result.get('failed') and message in result['msg'], result
    assert mainline.applied == []


def test_laddr_on_fullnat_and_mainline(monkeypatch, capsys):
    fake = FakeIpvs(supports_laddr=True)
    fake.svcs[KEY] = make_service(*KEY)
    first, real = four_runs(ipvs_laddr, dict(WEB, addresses=['10.1.0.1', '10.1.0.2']), fake, monkeypatch, capsys)
    assert real['laddrs'] == ['10.1.0.1', '10.1.0.2']
    first, real = four_runs(ipvs_laddr, dict(WEB, addresses=['10.1.0.2'], purge=True), fake, monkeypatch, capsys)
    assert first['diff'] == {'before': {'laddrs': ['10.1.0.1', '10.1.0.2']}, 'after': {'laddrs': ['10.1.0.2']}}
    mainline = FakeIpvs()
    mainline.svcs[KEY] = make_service(*KEY)
    result = run_module(ipvs_laddr, dict(WEB, addresses=['10.1.0.1']), mainline, monkeypatch, capsys)
    assert result['failed'] and 'no FULLNAT local-address support' in result['msg'] and mainline.applied == []
    result = run_module(ipvs_laddr, dict(WEB, addresses=['2001:db8::1']), fake, monkeypatch, capsys)
    assert result['failed'] and 'addresses[0]: 2001:db8::1 is ipv6 but the service is ipv4' in result['msg']


def test_check_mode_assumes_a_missing_service_is_created_earlier(run, fake):
    args = dict(WEB, rip='10.0.0.2', forward='masq')
    result = run(ipvs_server, args, check=True, diff=True)
    assert result['changed'] and fake.applied == []
    assert result['diff']['after']['rip'] == '10.0.0.2'
    result = run(ipvs_server, args)
    assert result['failed'] and 'does not exist; create it first' in result['msg']
