# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The drain and undrain playbooks' filters: which services a real server is in."""

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.lvs.ipvs.plugins.filter.drain import drain_services, undrain_services


def server(rip, rport, weight=1, forward='dr'):
    return dict(rip=rip, rport=rport, weight=weight, forward=forward, active_conns=0, inactive_conns=0)


def live(protocol=None, vip=None, vport=None, fwmark=None, family='ipv4', servers=()):
    """A service as ipvs_info returns it: address services have no fwmark key, mark services no vip/vport/protocol."""
    svc = dict(family=family, scheduler='wrr', servers=list(servers))
    svc.update(dict(fwmark=fwmark) if fwmark else dict(protocol=protocol, vip=vip, vport=vport))
    return svc


LIVE = [
    live('tcp', '203.0.113.10', 80, servers=[server('192.0.2.13', 80, 3), server('192.0.2.22', 80)]),
    live('tcp', '203.0.113.20', 80, servers=[server('192.0.2.13', 8080, forward='masq'),
                                             server('192.0.2.13', 8081, forward='masq')]),
    live(fwmark=7, family='ipv6', servers=[server('2001:db8::13', 0)]),
    live('udp', '203.0.113.53', 53, servers=[server('192.0.2.22', 53)]),
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
    got = drain_services(LIVE, '192.0.2.13', '8081', inactive='yes', timeout_ok='true')
    assert [(s['vip'], [(r['rport'], r['drain_inactive'], r['drain_timeout_ok']) for r in s['servers']]) for s in got] == [
        ('203.0.113.20', [(8081, True, True)])]
    got = drain_services(LIVE, '2001:DB8:0::13')
    assert got == [dict(fwmark=7, family='ipv6', servers=[
        dict(rip='2001:db8::13', rport=0, state='drained', wait_for_drain=True, drain_timeout=300,
             drain_inactive=False, drain_timeout_ok=False)])]
    assert drain_services(LIVE, '192.0.2.99') == []


def test_drain_without_waiting():
    assert drain_services(LIVE, '192.0.2.22', 53, wait=False) == [
        dict(vip='203.0.113.53', vport=53, protocol='udp', servers=[dict(rip='192.0.2.22', rport=53, state='drained')])]


@pytest.mark.parametrize('args, message', [
    (('web1',), "rip must be an IPv4 or IPv6 address, got 'web1'"),
    (('192.0.2.13', 'http'), "rport must be a port number (0 to 65535), got 'http'"),
    (('192.0.2.13', 70000), 'rport must be a port number (0 to 65535), got 70000'),
    (('192.0.2.13', None, True, 300, 'maybe'), "inactive must be true or false, got 'maybe'"),
    (('192.0.2.13', None, True, 'soon'), "timeout must be a number of seconds, got 'soon'"),
])
def test_bad_job_variables_are_named(args, message):
    with pytest.raises(AnsibleFilterError) as e:
        drain_services(LIVE, *args)
    assert message in str(e.value)


DECLARED = [
    dict(vip='203.0.113.10', vport=80, scheduler='wrr',
         servers=[dict(rip='192.0.2.13', weight=3), dict(rip='192.0.2.22')]),
    dict(vip='203.0.113.20', vport=80, scheduler='rr',
         servers=[dict(rip='192.0.2.13', rport=8080, forward='masq'),
                  dict(rip='192.0.2.13', rport=8081, forward='masq', state='drained')]),
    dict(vip='203.0.113.30', vport=7000, state='absent', servers=[dict(rip='192.0.2.13')]),
]


def drained_live():
    out = [dict(svc, servers=[dict(r, weight=0) if r['rip'] == '192.0.2.13' else r for r in svc['servers']])
           for svc in LIVE]
    out.append(live('tcp', '203.0.113.40', 443, servers=[server('192.0.2.13', 443, 0)]))
    return out


def test_undrain_touches_only_the_weight_of_live_servers():
    got = undrain_services(DECLARED, '192.0.2.13', current=drained_live())
    # Only identities and this server: the live scheduler (rr vs the inventory's wrr) is not touched.
    assert got['services'] == [
        dict(vip='203.0.113.10', vport=80, protocol='tcp', servers=[dict(rip='192.0.2.13', rport=80, weight=3,
                                                                         state='present')]),
        dict(vip='203.0.113.20', vport=80, protocol='tcp', servers=[dict(rip='192.0.2.13', rport=8080, weight=1,
                                                                         state='present')]),
    ]
    assert got['kept_drained'] == ['TCP 203.0.113.20:80 (the inventory declares it drained)']
    assert got['not_declared'] == ['TCP 203.0.113.40:443']
    assert got['not_live'] == []
    only = undrain_services(DECLARED, '192.0.2.13', 80, current=drained_live())
    assert [s['vip'] for s in only['services']] == ['203.0.113.10'] and only['kept_drained'] == []
    assert only['not_declared'] == []
    assert undrain_services(DECLARED, '192.0.2.99', current=drained_live()) == dict(
        services=[], kept_drained=[], not_declared=[], not_live=[])


def test_undrain_adds_a_declared_server_the_live_service_lacks_and_skips_services_not_live():
    current = [live('tcp', '203.0.113.10', 80, servers=[server('192.0.2.22', 80)])]
    declared = DECLARED + [dict(vip='203.0.113.50', vport=80, servers=[dict(rip='192.0.2.13', weight=2)])]
    got = undrain_services(declared, '192.0.2.13', current=current)
    assert got['services'] == [dict(vip='203.0.113.10', vport=80, protocol='tcp',
                                    servers=[dict(rip='192.0.2.13', weight=3, state='present')])]
    assert got['not_live'] == ['TCP 203.0.113.20:80', 'TCP 203.0.113.50:80']


def test_undrain_compares_addresses_as_the_kernel_does():
    current = [live(fwmark=7, family='ipv6', servers=[server('2001:db8::13', 0, 0)])]
    declared = [dict(fwmark=7, family='ipv6', servers=[dict(rip='2001:DB8:0::13', weight=4)])]
    got = undrain_services(declared, '2001:db8::13', current=current)
    back = dict(rip='2001:DB8:0::13', rport=0, weight=4, state='present')
    assert got['services'] == [dict(fwmark=7, family='ipv6', servers=[back])]
