# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""ipvs_info's option checks and result shaping, with a stand-in client."""

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.lvs.ipvs.plugins.module_utils import _common
from ansible_collections.lvs.ipvs.plugins.module_utils._model import (
    F_PERSISTENT, F_SCHED2, Daemon, Info, Rates, Stats, Timeouts, make_server, make_service,
)
from ansible_collections.lvs.ipvs.plugins.modules import ipvs_info

WEB = make_service(family='ipv4', protocol='tcp', vip='192.0.2.10', vport=80, scheduler='wrr',
                   stats=Stats(40, 240, 200, 16000, 24000), rates=Rates(2, 12, 10, 800, 1200))
DNS6 = make_service(family='ipv6', protocol='udp', vip='2001:db8::53', vport=53, scheduler='sh',
                    flags=F_PERSISTENT | F_SCHED2, timeout=360, stats=Stats(0, 0, 0, 0, 0), rates=Rates(0, 0, 0, 0, 0))
FWM = make_service(family='ipv4', fwmark=9, scheduler='rr', stats=Stats(1, 1, 1, 1, 1), rates=Rates(0, 0, 0, 0, 0))
SERVERS = {
    WEB.key: [make_server('10.0.0.3', 80, forward='masq', weight=1, stats=Stats(10, 1, 1, 1, 1), rates=Rates(0, 0, 0, 0, 0)),
              make_server('10.0.0.2', 80, forward='masq', weight=3, stats=Stats(30, 1, 1, 1, 1), rates=Rates(0, 0, 0, 0, 0))],
    DNS6.key: [],
    FWM.key: [make_server('10.0.0.4', 0, forward='tun', tun_type='gue', tun_port=6080, stats=Stats(1, 1, 1, 1, 1),
                          rates=Rates(0, 0, 0, 0, 0))],
}
CONNS = [dict(protocol='tcp', client='10.9.0.1', cport=1000, vip='192.0.2.10', vport=80, rip='10.0.0.2', rport=80,
              state='TIME_WAIT', expires=100),
         dict(protocol='udp', client='2001:db8::9', cport=1000, vip='2001:db8::53', vport=53, rip='2001:db8::2',
              rport=53, state='UDP', expires=100)]


class FakeClient:
    supports_laddr = False

    def __init__(self):
        self.calls = []

    def info(self):
        return Info('1.2.1', 4096)

    def services(self, with_stats=True):
        self.calls.append(('services', with_stats))
        return [s if with_stats else s._replace(stats=None, rates=None) for s in (WEB, DNS6, FWM)]

    def servers_of(self, keys, with_stats=True):
        return dict((k, SERVERS[k]) for k in keys)

    def timeouts(self):
        return Timeouts(900, 120, 300)

    def daemons(self):
        return [Daemon('master', 'eth1', 7, 1472, '224.0.0.81', 8848, 1)]

    def connections(self):
        return CONNS

    def close(self):
        self.calls.append('close')


def run(args, monkeypatch, capsys, client=None):
    client = client or FakeClient()
    monkeypatch.setattr(_common.IpvsModule, 'client', lambda self: setattr(self, '_client', client) or client)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            ipvs_info.main()
    return json.loads(capsys.readouterr().out), client


def test_default_gather_shapes_everything_but_rules_and_connections(monkeypatch, capsys):
    result, client = run({}, monkeypatch, capsys)
    assert result['changed'] is False and 'failed' not in result
    ipvs = result['ipvs']
    assert (ipvs['version'], ipvs['conn_table_size']) == ('1.2.1', 4096)
    assert ipvs['timeouts'] == {'tcp': 900, 'tcpfin': 120, 'udp': 300}
    assert ipvs['daemons'][0]['role'] == 'master' and ipvs['laddr_supported'] is False
    assert 'rules' not in ipvs and 'connections' not in ipvs
    web, dns, fwm = ipvs['services']
    assert web['stats']['conns'] == 40 and web['rates']['cps'] == 2
    assert [s['weight'] for s in web['servers']] == [1, 3]
    assert dns['sched_flags'] == ['sh-port'] and dns['persistent'] and dns['netmask'] == '128'
    assert fwm['fwmark'] == 9 and 'vip' not in fwm and fwm['servers'][0]['tun_type'] == 'gue'
    assert client.calls[-1] == 'close'


def test_stats_are_decoded_only_when_asked(monkeypatch, capsys):
    result, client = run({'gather': ['services']}, monkeypatch, capsys)
    assert ('services', False) in client.calls
    assert all('stats' not in s and 'rates' not in s for s in result['ipvs']['services'])
    assert set(result['ipvs']) == {'services'}


def test_filters_apply_to_services_rules_and_connections(monkeypatch, capsys):
    result, _c = run({'gather': ['services', 'rules', 'connections'], 'vip': '2001:DB8:0::53'}, monkeypatch, capsys)
    ipvs = result['ipvs']
    assert [s['vip'] for s in ipvs['services']] == ['2001:db8::53']
    assert ipvs['rules'] == '-A -u [2001:db8::53]:53 -s sh -p 360 -b sh-port\n'
    assert [c['protocol'] for c in ipvs['connections']] == ['udp']
    result, _c = run({'gather': ['rules'], 'fwmark': 9}, monkeypatch, capsys)
    assert result['ipvs']['rules'] == '-A -f 9 -s rr\n-a -f 9 -r 10.0.0.4:0 -i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum\n'
    result, _c = run({'gather': ['services'], 'family': 'ipv4', 'protocol': 'tcp'}, monkeypatch, capsys)
    assert [s['vip'] for s in result['ipvs']['services']] == ['192.0.2.10']


@pytest.mark.parametrize('args, message', [
    ({'vip': '192.0.2.300'}, "vip: '192.0.2.300' is not an IPv4 or IPv6 address"),
    ({'vport': 65536}, 'vport must be between 0 and 65535, got 65536'),
    ({'fwmark': 0}, 'fwmark must be between 1 and 4294967295, got 0'),
    ({'vip': '2001:db8::1', 'family': 'ipv4'}, 'family is ipv4 but vip 2001:db8::1 is an ipv6 address'),
    ({'vip': '192.0.2.1', 'fwmark': 3}, 'parameters are mutually exclusive: fwmark|vip'),
    ({'gather': ['everything']}, 'value of gather must be one or more of'),
    ({'protocol': 'icmp'}, 'value of protocol must be one of: tcp, udp, sctp'),
])
def test_bad_options_fail_naming_the_option_before_touching_the_kernel(monkeypatch, capsys, args, message):
    client = FakeClient()
    result, _c = run(args, monkeypatch, capsys, client)
    assert result['failed'] is True and message in result['msg']
    assert not any(isinstance(c, tuple) for c in client.calls)


def test_client_errors_become_a_clean_failure(monkeypatch, capsys):
    from ansible_collections.lvs.ipvs.plugins.module_utils._errors import IpvsError

    class Broken(FakeClient):
        def info(self):
            raise IpvsError('permission denied: managing IPVS needs CAP_NET_ADMIN (use become: true)')
    result, _c = run({}, monkeypatch, capsys, Broken())
    assert result['failed'] and result['msg'].startswith('permission denied') and 'exception' not in result
