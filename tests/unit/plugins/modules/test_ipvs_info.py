# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""ipvs_info's option checks and result shaping, against the fake IPVS kernel."""

import pytest

from harness import Harness

from ansible_collections.lvs.ipvs.plugins.module_utils import _ip_vs_conn, _ipvs
from ansible_collections.lvs.ipvs.plugins.module_utils._model import (
    F_PERSISTENT, F_SCHED2, Daemon, make_server, make_service,
)
from ansible_collections.lvs.ipvs.plugins.modules import ipvs_info

WEB = make_service(family='ipv4', protocol='tcp', vip='192.0.2.10', vport=80, scheduler='wrr')
DNS6 = make_service(family='ipv6', protocol='udp', vip='2001:db8::53', vport=53, scheduler='sh',
                    flags=F_PERSISTENT | F_SCHED2, timeout=360)
FWM = make_service(family='ipv4', fwmark=9, scheduler='rr')
WEB_SERVERS = [make_server('10.0.0.3', 80, forward='masq', weight=1), make_server('10.0.0.2', 80, forward='masq', weight=3)]
FWM_SERVERS = [make_server('10.0.0.4', 0, forward='tun', tun_type='gue', tun_port=6080)]
CONN_TABLE = """\
Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData
TCP 0A090001 03E8 C000020A 0050 0A000002 0050 TIME_WAIT       100
UDP 2001:0db8:0000:0000:0000:0000:0000:0009 03E8 2001:0db8:0000:0000:0000:0000:0000:0053 0035 2001:0db8:0000:0000:0000:0000:0000:0002 0035 UDP             100
"""


def loaded(monkeypatch, capsys, tmp_path):
    """A harness whose fake kernel holds WEB, DNS6 and FWM with traffic, a sync daemon
    and CONN_TABLE (ipvs_facts' tests use it too)."""
    harness = Harness(monkeypatch, capsys)
    fake = harness.kernel()
    fake.load([(WEB, WEB_SERVERS), (DNS6, []), (FWM, FWM_SERVERS)])
    # Traffic of a real server counts for its service too.
    fake.add_traffic(WEB.key, ('10.0.0.3', 80), conns=10, inpkts=1, outpkts=1, inbytes=1, outbytes=1)
    fake.add_traffic(WEB.key, conns=30, inpkts=239, outpkts=199, inbytes=15999, outbytes=23999, rates=(2, 12, 10, 800, 1200))
    fake.start_daemon(Daemon('master', 'eth1', 7, None, None, None, None))
    conn = tmp_path / 'ip_vs_conn'
    conn.write_text(CONN_TABLE)
    monkeypatch.setattr(_ip_vs_conn, 'PROC_PATH', str(conn))
    fake.reset_counters()
    return harness


@pytest.fixture
def h(monkeypatch, capsys, tmp_path):
    return loaded(monkeypatch, capsys, tmp_path)


def test_default_gather_shapes_everything_but_rules_and_connections(h):
    result = h.run(ipvs_info, {})
    assert result['changed'] is False and 'failed' not in result
    ipvs = result['ipvs']
    assert (ipvs['version'], ipvs['conn_table_size']) == ('1.2.1', 4096)
    assert ipvs['timeouts'] == {'tcp': 900, 'tcpfin': 120, 'udp': 300}
    assert ipvs['daemons'] == [dict(role='master', mcast_interface='eth1', syncid=7, sync_maxlen=1472,
                                    mcast_group='224.0.0.81', mcast_port=8848, mcast_ttl=1)]
    assert ipvs['laddr_supported'] is False
    assert 'rules' not in ipvs and 'connections' not in ipvs
    # Canonical order: by family, then mark (none first), protocol, address, port; servers by address.
    web, fwm, dns = ipvs['services']
    assert web['stats'] == dict(conns=40, inpkts=240, outpkts=200, inbytes=16000, outbytes=24000)
    assert web['rates'] == dict(cps=2, inpps=12, outpps=10, inbps=800, outbps=1200)
    assert [(s['rip'], s['weight'], s['stats']['conns']) for s in web['servers']] == [('10.0.0.2', 3, 0), ('10.0.0.3', 1, 10)]
    assert dns['sched_flags'] == ['sh-port'] and dns['persistent'] and dns['netmask'] == '128' and dns['servers'] == []
    assert fwm['fwmark'] == 9 and 'vip' not in fwm and fwm['servers'][0]['tun_type'] == 'gue'
    assert h.fake.writes == 0
    assert h.fake.sockets == [], 'the socket is closed at exit'


def test_stats_are_decoded_only_when_asked(h, monkeypatch):
    decoded = []
    real = _ipvs.decode_stats
    monkeypatch.setattr(_ipvs, 'decode_stats', lambda *a: decoded.append(a) or real(*a))
    result = h.run(ipvs_info, {'gather': ['services']})
    assert decoded == []
    assert all('stats' not in s and 'rates' not in s for s in result['ipvs']['services'])
    assert set(result['ipvs']) == {'services'}
    result = h.run(ipvs_info, {'gather': ['services', 'stats']})
    assert len(decoded) == 6    # three services, three real servers
    assert all('stats' in s and 'rates' not in s for s in result['ipvs']['services'])


def test_filters_apply_to_services_rules_and_connections(h):
    result = h.run(ipvs_info, {'gather': ['services', 'rules', 'connections'], 'vip': '2001:DB8:0::53'})
    ipvs = result['ipvs']
    assert [s['vip'] for s in ipvs['services']] == ['2001:db8::53']
    assert ipvs['rules'] == '-A -u [2001:db8::53]:53 -s sh -p 360 -b sh-port\n'
    assert [(c['protocol'], c['client']) for c in ipvs['connections']] == [('udp', '2001:db8::9')]
    result = h.run(ipvs_info, {'gather': ['rules'], 'fwmark': 9})
    assert result['ipvs']['rules'] == '-A -f 9 -s rr\n-a -f 9 -r 10.0.0.4:0 -i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum\n'
    result = h.run(ipvs_info, {'gather': ['services'], 'family': 'ipv4', 'protocol': 'tcp'})
    assert [s['vip'] for s in result['ipvs']['services']] == ['192.0.2.10']
    result = h.run(ipvs_info, {'gather': ['connections']})
    assert [(c['protocol'], c['vip'], c['rip']) for c in result['ipvs']['connections']] == [
        ('tcp', '192.0.2.10', '10.0.0.2'), ('udp', '2001:db8::53', '2001:db8::2')]


@pytest.mark.parametrize('args, message', [
    ({'vip': '192.0.2.300'}, "vip: '192.0.2.300' is not an IPv4 or IPv6 address"),
    ({'vport': 65536}, 'vport must be between 0 and 65535, got 65536'),
    ({'fwmark': 0}, 'fwmark must be between 1 and 4294967295, got 0'),
    ({'vip': '2001:db8::1', 'family': 'ipv4'}, 'family is ipv4 but vip 2001:db8::1 is an ipv6 address'),
    ({'vip': '192.0.2.1', 'fwmark': 3}, 'parameters are mutually exclusive: fwmark|vip'),
    ({'gather': ['everything']}, 'value of gather must be one or more of'),
    ({'protocol': 'icmp'}, 'value of protocol must be one of: tcp, udp, sctp'),
])
def test_bad_options_fail_naming_the_option_before_touching_the_kernel(h, args, message):
    result = h.run(ipvs_info, args)
    assert result['failed'] is True and message in result['msg']
    assert h.fake.log == [] and h.fake.sockets == [], 'no netlink request, not even the family lookup'


def test_client_errors_become_a_clean_failure(h):
    h.kernel(privileged=False)
    result = h.run(ipvs_info, {})
    assert result['failed'] and result['msg'] == 'permission denied: managing IPVS needs CAP_NET_ADMIN (use become: true)'
    assert 'exception' not in result
