# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""wait_for_drain of ipvs_server and ipvs_table: the polling of the kernel's
connection counters, against the fake kernel, with a clock that only moves
when the module sleeps (so a 300 s timeout takes no time)."""

import errno

import pytest

from harness import Harness, writes

from ansible_collections.lvs.ipvs.plugins.module_utils import _drain
from ansible_collections.lvs.ipvs.plugins.module_utils._model import make_server, make_service
from ansible_collections.lvs.ipvs.plugins.modules import ipvs_server, ipvs_table

WEB = dict(vip='192.0.2.10', vport=80)
KEY = ('ipv4', 'tcp', '192.0.2.10', 80, None)
TLS = ('ipv4', 'tcp', '192.0.2.10', 443, None)


class Clock:
    """time for _drain: sleep() advances the clock and runs what the test
    scheduled for that moment (connections ending)."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []
        self.events = []  # (at elapsed seconds, function)

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds
        for at, func in [e for e in self.events if e[0] <= self.now - 1000.0]:
            self.events.remove((at, func))
            func()

    def at(self, elapsed, func):
        self.events.append((elapsed, func))


@pytest.fixture
def h(monkeypatch, capsys):
    harness = Harness(monkeypatch, capsys)
    harness.kernel()
    harness.clock = Clock()
    monkeypatch.setattr(_drain, 'time', harness.clock)
    harness.fake.load([(make_service(*KEY, scheduler='wrr'),
                        [make_server(ip, 80, forward='masq', weight=2) for ip in ('10.0.0.2', '10.0.0.3')]),
                       (make_service(*TLS, scheduler='wrr'),
                        [make_server(ip, 443, forward='masq', weight=2) for ip in ('10.0.0.2', '10.0.0.3')])])
    return harness


def conns(h, key, rip, active=None, inactive=None, persist=None):
    return lambda: h.fake.add_traffic(key, (rip, key[3]), active=active, inactive=inactive, persist=persist)


def weight(h, key, rip):
    return next(s.weight for s in h.fake.servers(key) if s.rip == rip)


DRAIN = dict(WEB, rip='10.0.0.2', state='drained', wait_for_drain=True)


def test_server_waits_until_active_connections_end(h):
    conns(h, KEY, '10.0.0.2', active=3, inactive=5)()
    h.clock.at(4, conns(h, KEY, '10.0.0.2', active=1))
    h.clock.at(7, conns(h, KEY, '10.0.0.2', active=0))
    result = h.run(ipvs_server, DRAIN)
    assert 'failed' not in result, result
    assert result['changed'] and weight(h, KEY, '10.0.0.2') == 0
    assert result['drain'] == dict(service='TCP 192.0.2.10:80', rip='10.0.0.2', rport=80, drained=True, waited=7.0,
                                   active_conns=0, inactive_conns=5, persist_conns=0, gone=False, weight=0)
    assert h.clock.sleeps == [1.0] * 7
    assert result['server']['active_conns'] == 0 and result['server']['weight'] == 0


def test_server_drained_already_still_waits_and_reports_no_change(h):
    h.run(ipvs_server, dict(WEB, rip='10.0.0.2', state='drained'))
    conns(h, KEY, '10.0.0.2', active=2)()
    h.clock.at(3, conns(h, KEY, '10.0.0.2', active=0))
    n = len(h.fake.log)
    result = h.run(ipvs_server, DRAIN)
    assert result['changed'] is False and writes(h.fake, n) == []
    assert result['drain']['drained'] and result['drain']['waited'] == 3.0


def test_server_timeout_fails_but_the_drain_stays_and_is_a_change(h):
    conns(h, KEY, '10.0.0.2', active=2, inactive=1)()
    result = h.run(ipvs_server, dict(DRAIN, drain_timeout=10))
    assert result['failed'] and result['changed'] is True
    assert result['msg'].startswith('real server 10.0.0.2:80 of TCP 192.0.2.10:80 still has 2 active and 1 inactive '
                                    'connections after drain_timeout=10 s; it stays drained (weight 0)')
    assert 'drain_timeout_ok=true' in result['msg']
    assert result['applied'] == ['edit real server 10.0.0.2:80 in TCP 192.0.2.10:80']
    assert result['drain']['drained'] is False and result['drain']['waited'] == 10.0
    assert weight(h, KEY, '10.0.0.2') == 0
    assert sum(h.clock.sleeps) == 10.0


def test_server_timeout_ok_reports_what_is_left(h):
    conns(h, KEY, '10.0.0.2', active=2)()
    result = h.run(ipvs_server, dict(DRAIN, drain_timeout=3, drain_timeout_ok=True))
    assert 'failed' not in result and result['changed']
    assert (result['drain']['drained'], result['drain']['active_conns'], result['drain']['waited']) == (False, 2, 3.0)


def test_server_drain_inactive_waits_for_those_too(h):
    conns(h, KEY, '10.0.0.2', active=0, inactive=4)()
    result = h.run(ipvs_server, DRAIN)
    assert result['drain']['drained'] and result['drain']['waited'] == 0.0 and h.clock.sleeps == []
    h.clock.at(5, conns(h, KEY, '10.0.0.2', inactive=0))
    result = h.run(ipvs_server, dict(DRAIN, drain_inactive=True))
    assert result['drain']['drained'] and result['drain']['waited'] == 5.0


def test_server_removed_while_waiting_ends_the_wait(h):
    conns(h, KEY, '10.0.0.2', active=2)()
    h.clock.at(2, lambda: h.fake.delete_server(KEY, next(s for s in h.fake.servers(KEY) if s.rip == '10.0.0.2')))
    result = h.run(ipvs_server, DRAIN)
    assert result['drain']['gone'] and result['drain']['drained'] and result['drain']['waited'] == 2.0
    assert result['server'] is None


def test_server_put_back_in_rotation_while_waiting_fails_saying_so(h):
    conns(h, KEY, '10.0.0.2', active=2)()
    back = next(s for s in h.fake.servers(KEY) if s.rip == '10.0.0.2')._replace(weight=5)
    h.clock.at(3, lambda: h.fake.edit_server(KEY, back))
    result = h.run(ipvs_server, DRAIN)
    assert result['failed'] and result['changed'] is True
    assert result['msg'] == ('real server 10.0.0.2:80 of TCP 192.0.2.10:80 got weight 5 back while its connections were '
                             'being waited for (another run or a hand edit put it back in rotation)')
    assert result['drain']['drained'] is False and result['drain']['weight'] == 5 and result['drain']['waited'] == 3.0
    assert result['server']['weight'] == 5


def test_server_kernel_error_while_waiting_keeps_the_change_and_the_reason(h):
    conns(h, KEY, '10.0.0.2', active=2)()
    h.clock.at(2, lambda: h.fake.before_request.append(lambda fake, req: errno.ENOMEM if req.name == 'GET_DEST' else 0))
    result = h.run(ipvs_server, DRAIN)
    assert result['failed'] and result['changed'] is True
    assert result['applied'] == ['edit real server 10.0.0.2:80 in TCP 192.0.2.10:80']
    assert 'while waiting for the drain of real server 10.0.0.2:80 of TCP 192.0.2.10:80' in result['msg']
    assert weight(h, KEY, '10.0.0.2') == 0


def test_udp_services_wait_for_inactive_entries_too(h):
    udp = ('ipv4', 'udp', '192.0.2.53', 53, None)
    h.fake.load([(make_service(*udp), [make_server('10.0.0.2', 53, forward='masq')])])
    conns(h, udp, '10.0.0.2', active=0, inactive=3)()
    h.clock.at(4, conns(h, udp, '10.0.0.2', inactive=0))
    result = h.run(ipvs_server, dict(vip='192.0.2.53', vport=53, protocol='udp', rip='10.0.0.2', state='drained',
                                     wait_for_drain=True))
    assert result['drain']['drained'] and result['drain']['waited'] == 4.0


def test_server_check_mode_does_not_wait(h):
    conns(h, KEY, '10.0.0.2', active=2)()
    n = len(h.fake.log)
    result = h.run(ipvs_server, DRAIN, check=True, diff=True)
    assert result['changed'] and 'drain' not in result and h.clock.sleeps == []
    assert writes(h.fake, n) == [] and weight(h, KEY, '10.0.0.2') == 2


@pytest.mark.parametrize('args, message', [
    (dict(DRAIN, rip='10.0.0.9'),
     'wait_for_drain=true: real server 10.0.0.9:80 is not a real server of TCP 192.0.2.10:80, so there is nothing '
     'to drain'),
    (dict(DRAIN, vport=8443),
     'wait_for_drain=true: virtual service TCP 192.0.2.10:8443 does not exist, so real server 10.0.0.2:8443 has '
     'nothing to drain'),
])
def test_server_missing_server_fails_in_check_mode_too_and_changes_nothing(h, args, message):
    n = len(h.fake.log)
    for check in (True, False):
        result = h.run(ipvs_server, args, check=check)
        assert result['failed'] and result['msg'] == message and 'changed' not in result, result
    assert writes(h.fake, n) == [] and h.clock.sleeps == []


def test_server_nat_server_without_rport_is_named_with_its_port(h):
    h.fake.add_server(KEY, make_server('10.0.0.7', 8080, forward='masq', weight=2))
    result = h.run(ipvs_server, dict(DRAIN, rip='10.0.0.7'))
    assert result['failed'] and result['msg'].endswith('; it has 10.0.0.7:8080 (give rport)')
    assert weight(h, KEY, '10.0.0.7') == 2


@pytest.mark.parametrize('args, message', [
    (dict(WEB, rip='10.0.0.2', wait_for_drain=True),
     'wait_for_drain=true needs state=drained (it waits for the connections of a drained real server to end), '
     'got state=present'),
    (dict(WEB, rip='10.0.0.2', state='absent', wait_for_drain=True), 'got state=absent'),
    (dict(WEB, rip='10.0.0.2', state='drained', drain_timeout=30), 'drain_timeout only applies with wait_for_drain=true'),
    (dict(WEB, rip='10.0.0.2', state='drained', wait_for_drain=False, drain_inactive=True, drain_timeout_ok=False),
     'drain_inactive, drain_timeout_ok only apply with wait_for_drain=true'),
    (dict(DRAIN, drain_timeout=-1), 'drain_timeout must be between 0 and 2147483647, got -1'),
])
def test_server_drain_option_errors_change_nothing(h, args, message):
    n = len(h.fake.log)
    result = h.run(ipvs_server, args)
    assert result['failed'] and message in result['msg'], result['msg']
    assert writes(h.fake, n) == [] and h.clock.sleeps == []


# ---------------------------------------------------------------- ipvs_table

def table_args(**server):
    base = dict(rip='10.0.0.2', state='drained', wait_for_drain=True)
    base.update(server)
    return dict(services=[dict(WEB, servers=[base]), dict(vip='192.0.2.10', vport=443, servers=[base])])


def test_table_waits_for_every_drained_server_at_once(h):
    conns(h, KEY, '10.0.0.2', active=2)()
    conns(h, TLS, '10.0.0.2', active=1)()
    h.clock.at(2, conns(h, KEY, '10.0.0.2', active=0))
    h.clock.at(5, conns(h, TLS, '10.0.0.2', active=0))
    result = h.run(ipvs_table, table_args())
    assert 'failed' not in result, result
    assert result['changed'] and result['servers_changed'] == 2
    assert weight(h, KEY, '10.0.0.2') == 0 and weight(h, TLS, '10.0.0.2') == 0
    assert [(d['service'], d['drained'], d['waited']) for d in result['drains']] == [
        ('TCP 192.0.2.10:80', True, 2.0), ('TCP 192.0.2.10:443', True, 5.0)]
    assert sum(h.clock.sleeps) == 5.0


def test_table_timeout_fails_naming_each_late_server(h):
    conns(h, KEY, '10.0.0.2', active=2)()
    conns(h, TLS, '10.0.0.2', active=1)()
    h.clock.at(2, conns(h, KEY, '10.0.0.2', active=0))
    result = h.run(ipvs_table, table_args(drain_timeout=4))
    assert result['failed'] and result['changed'] is True
    assert result['msg'].startswith('real server 10.0.0.2:443 of TCP 192.0.2.10:443 still has 1 active and 0 inactive '
                                    'connections after drain_timeout=4 s')
    assert 'TCP 192.0.2.10:80 still' not in result['msg']
    assert [d['drained'] for d in result['drains']] == [True, False]
    assert weight(h, TLS, '10.0.0.2') == 0


def test_table_missing_server_fails_before_any_write(h):
    args = table_args()
    args['services'].append(dict(vip='192.0.2.10', vport=80, protocol='udp', scheduler='rr',
                                 servers=[dict(rip='10.0.0.2', state='drained', wait_for_drain=True)]))
    args['services'][0]['scheduler'] = 'rr'
    n = len(h.fake.log)
    for check in (True, False):
        result = h.run(ipvs_table, args, check=check)
        assert result['failed'] and result['msg'] == (
            'services[2].servers[0].wait_for_drain=true: virtual service UDP 192.0.2.10:80 does not exist, so real '
            'server 10.0.0.2:80 has nothing to drain'), result
    assert writes(h.fake, n) == [] and weight(h, KEY, '10.0.0.2') == 2


def test_table_kernel_error_while_waiting_reports_what_was_done(h, tmp_path):
    conns(h, KEY, '10.0.0.2', active=2)()
    h.clock.at(2, lambda: h.fake.before_request.append(lambda fake, req: errno.ENOMEM if req.name == 'GET_DEST' else 0))
    export = tmp_path / 'rules'
    result = h.run(ipvs_table, dict(table_args(), export=str(export)))
    assert result['failed'] and result['changed'] is True and 'while waiting for drained real servers' in result['msg']
    assert result['servers_changed'] == 2 and result['export']['changed'] and export.exists()


def test_table_check_mode_does_not_wait(h):
    conns(h, KEY, '10.0.0.2', active=2)()
    n = len(h.fake.log)
    result = h.run(ipvs_table, table_args(), check=True)
    assert result['changed'] and 'drains' not in result and h.clock.sleeps == [] and writes(h.fake, n) == []


@pytest.mark.parametrize('services, message', [
    ([dict(WEB, servers=[dict(rip='10.0.0.3'), dict(rip='10.0.0.2', wait_for_drain=True)])],
     'services[0].servers[1].wait_for_drain=true needs services[0].servers[1].state=drained'),
    ([dict(WEB, servers=[dict(rip='10.0.0.2', state='drained', drain_timeout=5)])],
     'services[0].servers[0].drain_timeout only applies with services[0].servers[0].wait_for_drain=true'),
    ([dict(WEB, state='absent', servers=[dict(rip='10.0.0.2', state='drained', wait_for_drain=True)])],
     'services[0].servers[0].wait_for_drain=true: services[0].state=absent removes the service'),
    ([dict(WEB, servers=[dict(rip='10.0.0.2', state='drained', wait_for_drain='maybe')])],
     'services[0].servers[0].wait_for_drain must be of type bool'),
])
def test_table_drain_option_errors_change_nothing(h, services, message):
    n = len(h.fake.log)
    result = h.run(ipvs_table, dict(services=services))
    assert result['failed'] and message in result['msg'], result['msg']
    assert writes(h.fake, n) == [] and h.clock.sleeps == []
