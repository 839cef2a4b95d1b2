# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The drain and undrain playbooks' filters: which services a real server is in."""

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.lvs.ipvs.plugins.filter.drain import drain_services, undrain_services


def server(rip, rport, weight=1, forward='dr'):
    return dict(rip=rip, rport=rport, weight=weight, forward=forward, active_conns=0, inactive_conns=0)


LIVE = [
    dict(family='ipv4', fwmark=None, protocol='tcp', vip='203.0.113.10', vport=80, scheduler='wrr',
         servers=[server('192.0.2.13', 80, 3), server('192.0.2.22', 80)]),
    dict(family='ipv4', fwmark=None, protocol='tcp', vip='203.0.113.20', vport=80, scheduler='rr',
         servers=[server('192.0.2.13', 8080, forward='masq'), server('192.0.2.13', 8081, forward='masq')]),
    dict(family='ipv6', fwmark=7, protocol=None, vip=None, vport=None, scheduler='wlc',
         servers=[server('2001:db8::13', 0)]),
    dict(family='ipv4', fwmark=None, protocol='udp', vip='203.0.113.53', vport=53, scheduler='rr',
         servers=[server('192.0.2.22', 53)]),
]


def test_drain_every_service_and_port_of_the_server():
    got = drain_services(LIVE, '192.0.2.13', timeout=60)
    assert got == [
        dict(vip='203.0.113.10', vport=80, protocol='tcp', servers=[
            dict(rip='192.0.2.13', rport=80, state='drained', wait_for_drain=True, drain_timeout=60,
                 drain_inactive=False, drain_timeout_ok=False)]),
        dict(vip='203.0.113.20', vport=80, protocol='tcp', servers=[
            dict(rip='192.0.2.13', rport=p, state='drained', wait_for_drain=True, drain_timeout=60,
                 drain_inactive=False, drain_timeout_ok=False) for p in (8080, 8081)]),
    ]


def test_drain_one_port_and_ipv6_written_otherwise():
    got = drain_services(LIVE, '192.0.2.13', '8081', inactive=True, timeout_ok=True)
    assert [(s['vip'], [(r['rport'], r['drain_inactive'], r['drain_timeout_ok']) for r in s['servers']]) for s in got] == [
        ('203.0.113.20', [(8081, True, True)])]
    got = drain_services(LIVE, '2001:DB8:0::13')
    assert got == [dict(fwmark=7, family='ipv6', servers=[
        dict(rip='2001:db8::13', rport=0, state='drained', wait_for_drain=True, drain_timeout=300,
             drain_inactive=False, drain_timeout_ok=False)])]
    assert drain_services(LIVE, '192.0.2.99') == []


@pytest.mark.parametrize('rip, rport, message', [
    ('web1', None, "rip must be an IPv4 or IPv6 address, got 'web1'"),
    ('192.0.2.13', 'http', "rport must be a port number (0 to 65535), got 'http'"),
    ('192.0.2.13', 70000, 'rport must be a port number (0 to 65535), got 70000'),
])
def test_bad_job_variables_are_named(rip, rport, message):
    with pytest.raises(AnsibleFilterError) as e:
        drain_services(LIVE, rip, rport)
    assert message in str(e.value)


DECLARED = [
    dict(vip='203.0.113.10', vport=80, scheduler='wrr',
         servers=[dict(rip='192.0.2.13', weight=3), dict(rip='192.0.2.22')]),
    dict(vip='203.0.113.20', vport=80, scheduler='rr',
         servers=[dict(rip='192.0.2.13', rport=8080, forward='masq'),
                  dict(rip='192.0.2.13', rport=8081, forward='masq', state='drained')]),
    dict(vip='203.0.113.30', vport=7000, state='absent', servers=[dict(rip='192.0.2.13')]),
]


def test_undrain_puts_back_the_declared_weight_with_only_that_server():
    drained = [dict(s, servers=[dict(r, weight=0) if r['rip'] == '192.0.2.13' else r for r in s['servers']])
               for s in LIVE]
    drained.append(dict(family='ipv4', fwmark=None, protocol='tcp', vip='203.0.113.40', vport=443,
                        servers=[server('192.0.2.13', 443, 0)]))
    got = undrain_services(DECLARED, '192.0.2.13', current=drained)
    assert got['services'] == [
        dict(vip='203.0.113.10', vport=80, scheduler='wrr', servers=[dict(rip='192.0.2.13', weight=3, state='present')]),
        dict(vip='203.0.113.20', vport=80, scheduler='rr',
             servers=[dict(rip='192.0.2.13', rport=8080, forward='masq', weight=1, state='present')]),
    ]
    assert got['kept_drained'] == ['TCP 203.0.113.20:80 (the inventory declares it drained)']
    assert got['not_declared'] == ['TCP 203.0.113.40:443']
    only = undrain_services(DECLARED, '192.0.2.13', 80, current=drained)
    assert [s['vip'] for s in only['services']] == ['203.0.113.10'] and only['kept_drained'] == []
    assert only['not_declared'] == []
    assert undrain_services(DECLARED, '192.0.2.99') == dict(services=[], kept_drained=[], not_declared=[])
