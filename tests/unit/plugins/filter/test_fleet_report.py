# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet report filters on synthetic directors, and the HTML page in a real browser.

The directors' facts are made the way ipvs_info makes them: service_dict() of the model's
services and real servers, and the rules by the collection's own ipvsadm -Sn writer. The
browser tests open the page in Debian's chromium (tests/fleet/browser.py); they fail, not
skip, when chromium is missing."""

import importlib.util
import json
import os
import struct

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.lvs.ipvs.plugins.filter.fleet_report import (
    FLAGS, fleet_report, fleet_report_html, human_bytes, service_id,
)
from ansible_collections.lvs.ipvs.plugins.module_utils import _save
from ansible_collections.lvs.ipvs.plugins.module_utils._model import (
    F_PERSISTENT, Rates, Stats, make_server, make_service, service_dict,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
# tests/fleet/browser.py, loaded by path: tests/fleet stays off sys.path (its conftest.py and fleet.py are the fleet's).
_spec = importlib.util.spec_from_file_location('lvs_browser', os.path.join(ROOT, 'tests', 'fleet', 'browser.py'))
browser = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(browser)

NOW = '2026-01-01T00:00:00+00:00'
TIMEOUTS = {'tcp': 900, 'tcpfin': 120, 'udp': 300}


def traffic(n):
    """Counters and rates of `n` connections' worth of traffic."""
    return dict(stats=Stats(n, 6 * n, 5 * n, 900 * n, 52000 * n), rates=Rates(n // 100, n // 20, n // 25, 9 * n, 520 * n))


def table(weights=(3, 1), api_weights=(1, 1), load=0, extra_server=False):
    """The example inventory's table: web (DR, wrr), api (NAT, rr), and an IPv6 firewall-mark service."""
    web = make_service(family='ipv4', protocol='tcp', vip='203.0.113.10', vport=80, scheduler='wrr', **traffic(4 * load))
    api = make_service(family='ipv4', protocol='tcp', vip='203.0.113.20', vport=80, scheduler='rr', **traffic(load))
    fwm = make_service(family='ipv6', fwmark=5, scheduler='sh', flags=F_PERSISTENT, timeout=360, **traffic(0))
    web_servers = [make_server('192.0.2.13', 80, forward='dr', weight=weights[0], active_conns=3 * load,
                               inactive_conns=30 * load, **traffic(3 * load)),
                   make_server('192.0.2.22', 80, forward='dr', weight=weights[1], active_conns=load,
                               inactive_conns=10 * load, **traffic(load))]
    if extra_server:
        web_servers.append(make_server('192.0.2.23', 80, forward='dr', weight=1))
    api_servers = [make_server('192.0.2.13', 8080, forward='masq', weight=api_weights[0], **traffic(load)),
                   make_server('192.0.2.22', 8080, forward='masq', weight=api_weights[1], **traffic(0))]
    fwm_servers = [make_server('2001:db8::13', 0, forward='tun', tun_type='gue', tun_port=6080, **traffic(0))]
    return [(web, web_servers), (api, api_servers), (fwm, fwm_servers)]


def daemon(role, syncid, interface='eth1', group=None, port=None):
    return dict(role=role, mcast_interface=interface, syncid=syncid, sync_maxlen=1472, mcast_group=group,
                mcast_port=port, mcast_ttl=None)


def facts(tbl=None, timeouts=None, daemons=(), rules=True):
    """A director's ipvs facts, as lvs.ipvs.ipvs_facts sets them for the report's gather list."""
    tbl = table() if tbl is None else tbl
    out = {
        'version': '1.2.1',
        'conn_table_size': 4096,
        'services': [service_dict(svc, servers) for svc, servers in tbl],
        'timeouts': dict(timeouts or TIMEOUTS),
        'daemons': list(daemons),
    }
    if rules:
        out['rules'] = _save.emit(tbl)
    return out


def pair(lb1=None, lb2=None, cluster='web'):
    """Two directors of one cluster with a master/backup sync pair."""
    return {
        'lb1': {'cluster': cluster, 'ipvs': lb1 or facts(daemons=[daemon('master', 7)])},
        'lb2': {'cluster': cluster, 'ipvs': lb2 or facts(daemons=[daemon('backup', 7)])},
    }


def report(hosts_data):
    rep = fleet_report(hosts_data, generated_at=NOW)
    json.dumps(rep)  # plain data
    return rep


def flags(rep):
    return rep['summary']['flags']


# ---------------------------------------------------------------- drift

def test_equal_tables_report_nothing():
    rep = report(pair())
    assert rep['summary']['ok'] is True
    assert rep['summary']['counts'] == dict.fromkeys(FLAGS, 0)
    assert rep['summary']['directors'] == rep['summary']['reporting'] == 2
    assert rep['summary']['services'] == 6 and rep['summary']['servers'] == 10
    assert rep['generated_at'] == NOW


def test_counters_never_count_as_drift():
    # lb1 carries all the traffic, lb2 none: same table, different counters, connections and rates.
    rep = report(pair(lb1=facts(table(load=1000), daemons=[daemon('master', 7)]),
                      lb2=facts(table(load=0), daemons=[daemon('backup', 7)])))
    assert flags(rep)['drift'] == []
    assert rep['summary']['ok'] is True
    lb1 = rep['clusters']['web']['directors']['lb1']
    assert lb1['services'][0]['servers'][0]['stats']['conns'] == 3000


def test_drift_names_the_differing_lines_in_ipvsadm_form():
    # On lb2 someone set a weight by hand and added a real server.
    rep = report(pair(lb2=facts(table(weights=(5, 1), extra_server=True), daemons=[daemon('backup', 7)])))
    (drift,) = flags(rep)['drift']
    assert drift['cluster'] == 'web' and drift['directors'] == ['lb1', 'lb2']
    assert drift['lines'] == [
        {'line': '-a -t 203.0.113.10:80 -r 192.0.2.13:80 -g -w 3', 'present': ['lb1'], 'absent': ['lb2']},
        {'line': '-a -t 203.0.113.10:80 -r 192.0.2.13:80 -g -w 5', 'present': ['lb2'], 'absent': ['lb1']},
        {'line': '-a -t 203.0.113.10:80 -r 192.0.2.23:80 -g -w 1', 'present': ['lb2'], 'absent': ['lb1']},
    ]
    assert drift['by_director'] == {
        'lb1': {'extra': ['-a -t 203.0.113.10:80 -r 192.0.2.13:80 -g -w 3'],
                'missing': ['-a -t 203.0.113.10:80 -r 192.0.2.13:80 -g -w 5',
                            '-a -t 203.0.113.10:80 -r 192.0.2.23:80 -g -w 1']},
        'lb2': {'extra': ['-a -t 203.0.113.10:80 -r 192.0.2.13:80 -g -w 5',
                          '-a -t 203.0.113.10:80 -r 192.0.2.23:80 -g -w 1'],
                'missing': ['-a -t 203.0.113.10:80 -r 192.0.2.13:80 -g -w 3']},
    }
    assert rep['summary']['counts']['drift'] == 1 and rep['summary']['ok'] is False


def test_drift_of_a_missing_service_and_a_scheduler():
    tbl = table()
    web, web_servers = tbl[0]
    other = [(web._replace(scheduler='wlc'), web_servers), tbl[1]]  # no firewall-mark service, web on wlc
    rep = report(pair(lb2=facts(other, daemons=[daemon('backup', 7)])))
    lines = {x['line']: (x['present'], x['absent']) for x in flags(rep)['drift'][0]['lines']}
    assert lines['-A -t 203.0.113.10:80 -s wrr'] == (['lb1'], ['lb2'])
    assert lines['-A -t 203.0.113.10:80 -s wlc'] == (['lb2'], ['lb1'])
    assert lines['-A -f 5 -6 -s sh -p 360'] == (['lb1'], ['lb2'])
    assert lines['-a -f 5 -6 -r [2001:db8::13]:0 -i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum'] == (['lb1'], ['lb2'])
    assert len(lines) == 4


def test_drift_among_three_directors_says_who_has_each_line():
    data = pair()
    data['lb3'] = {'cluster': 'web', 'ipvs': facts(table(api_weights=(1, 0)))}
    (drift,) = flags(report(data))['drift']
    assert drift['lines'] == [
        {'line': '-a -t 203.0.113.20:80 -r 192.0.2.22:8080 -m -w 0', 'present': ['lb3'], 'absent': ['lb1', 'lb2']},
        {'line': '-a -t 203.0.113.20:80 -r 192.0.2.22:8080 -m -w 1', 'present': ['lb1', 'lb2'], 'absent': ['lb3']},
    ]
    assert drift['by_director']['lb1'] == {'extra': ['-a -t 203.0.113.20:80 -r 192.0.2.22:8080 -m -w 1'],
                                           'missing': ['-a -t 203.0.113.20:80 -r 192.0.2.22:8080 -m -w 0']}


def test_no_drift_across_clusters_or_in_a_cluster_of_one():
    rep = report({
        'lb1': {'cluster': 'web', 'ipvs': facts()},
        'lb9': {'cluster': 'mail', 'ipvs': facts(table(weights=(9, 9)))},
    })
    assert flags(rep)['drift'] == [] and flags(rep)['timeout_drift'] == []
    assert list(rep['clusters']) == ['mail', 'web']


def test_directors_without_rules_are_not_compared_and_a_note_says_so():
    rep = report(pair(lb2=facts(table(weights=(5, 1)), daemons=[daemon('backup', 7)], rules=False)))
    assert flags(rep)['drift'] == []
    assert rep['summary']['notes'] == ['lb2: rules not gathered, not compared with the other directors of web']


def test_timeouts_differing_is_its_own_flag():
    rep = report(pair(lb2=facts(timeouts={'tcp': 900, 'tcpfin': 60, 'udp': 300}, daemons=[daemon('backup', 7)])))
    assert flags(rep)['drift'] == []
    assert flags(rep)['timeout_drift'] == [{
        'cluster': 'web', 'differs': ['tcpfin'],
        'timeouts': {'lb1': TIMEOUTS, 'lb2': {'tcp': 900, 'tcpfin': 60, 'udp': 300}}}]


# ---------------------------------------------------------------- servers and services

def test_drained_servers_and_services_without_an_available_server():
    tbl = table(api_weights=(0, 0), load=2)
    empty = make_service(family='ipv4', protocol='udp', vip='203.0.113.53', vport=53, scheduler='rr')
    rep = report({'lb1': {'cluster': 'web', 'ipvs': facts(tbl + [(empty, [])])}})
    assert flags(rep)['drained_servers'] == [
        {'cluster': 'web', 'director': 'lb1', 'service': 'TCP 203.0.113.20:80', 'server': '192.0.2.13:8080',
         'weight': 0, 'forward': 'masq', 'active_conns': 0, 'inactive_conns': 0},
        {'cluster': 'web', 'director': 'lb1', 'service': 'TCP 203.0.113.20:80', 'server': '192.0.2.22:8080',
         'weight': 0, 'forward': 'masq', 'active_conns': 0, 'inactive_conns': 0},
    ]
    assert flags(rep)['services_without_server'] == [
        {'cluster': 'web', 'director': 'lb1', 'service': 'TCP 203.0.113.20:80', 'servers': 2,
         'reason': 'all 2 real servers have weight 0'},
        {'cluster': 'web', 'director': 'lb1', 'service': 'UDP 203.0.113.53:53', 'servers': 0, 'reason': 'no real servers'},
    ]
    services = {s['id']: s for s in rep['clusters']['web']['directors']['lb1']['services']}
    assert services['TCP 203.0.113.10:80']['available'] is True
    assert services['TCP 203.0.113.20:80']['available'] is False
    assert [s['drained'] for s in services['TCP 203.0.113.20:80']['servers']] == [True, True]


def test_one_drained_server_leaves_the_service_available():
    rep = report({'lb1': {'cluster': 'web', 'ipvs': facts(table(weights=(0, 1)))}})
    assert [x['server'] for x in flags(rep)['drained_servers']] == ['192.0.2.13:80']
    assert flags(rep)['services_without_server'] == []


def test_service_ids_as_ipvsadm_names_them():
    assert service_id({'family': 'ipv4', 'protocol': 'tcp', 'vip': '192.0.2.10', 'vport': 80}) == 'TCP 192.0.2.10:80'
    assert service_id({'family': 'ipv6', 'protocol': 'udp', 'vip': '2001:db8::53', 'vport': 53}) == 'UDP [2001:db8::53]:53'
    assert service_id({'family': 'ipv6', 'fwmark': 5}) == 'FWM 5 IPv6'
    assert service_id({'family': 'ipv4', 'fwmark': 7}) == 'FWM 7'
    rep = report({'lb1': {'cluster': 'web', 'ipvs': facts()}})
    fwm = rep['clusters']['web']['directors']['lb1']['services'][2]
    assert fwm['id'] == 'FWM 5 IPv6' and fwm['servers'][0]['id'] == '[2001:db8::13]:0'


# ---------------------------------------------------------------- sync daemons

def unpaired(daemons_by_host, cluster_of=None, failed=()):
    data = {h: {'cluster': (cluster_of or {}).get(h, 'web'), 'ipvs': facts(daemons=d)} for h, d in daemons_by_host.items()}
    for h in failed:
        data[h] = {'cluster': 'web', 'error': 'unreachable'}
    return [(x['director'], x['role'], x['syncid']) for x in flags(report(data))['unpaired_daemons']], report(data)


def test_sync_daemons_pair_by_sync_id_on_different_directors():
    assert unpaired({'lb1': [daemon('master', 7)], 'lb2': [daemon('backup', 7)]})[0] == []
    # Both directors master and backup for each other (two sync IDs).
    assert unpaired({'lb1': [daemon('master', 1), daemon('backup', 2)],
                     'lb2': [daemon('master', 2), daemon('backup', 1)]})[0] == []
    # A backup of sync ID 0 takes every master's messages.
    assert unpaired({'lb1': [daemon('master', 7)], 'lb2': [daemon('backup', 0)]})[0] == []
    # The default group and port, given or not, are the same.
    assert unpaired({'lb1': [daemon('master', 7, group='224.0.0.81', port=8848)], 'lb2': [daemon('backup', 7)]})[0] == []


def test_a_master_without_backup_and_a_backup_without_master():
    assert unpaired({'lb1': [daemon('master', 7)], 'lb2': []})[0] == [('lb1', 'master', 7)]
    assert unpaired({'lb1': [], 'lb2': [daemon('backup', 7)]})[0] == [('lb2', 'backup', 7)]
    assert unpaired({'lb1': [daemon('master', 7)], 'lb2': [daemon('backup', 8)]})[0] == [
        ('lb1', 'master', 7), ('lb2', 'backup', 8)]
    # Master and backup on the same director do not pair; nor across clusters.
    assert unpaired({'lb1': [daemon('master', 7), daemon('backup', 7)]})[0] == [('lb1', 'master', 7), ('lb1', 'backup', 7)]
    assert unpaired({'lb1': [daemon('master', 7)], 'lb2': [daemon('backup', 7)]},
                    cluster_of={'lb2': 'other'})[0] == [('lb2', 'backup', 7), ('lb1', 'master', 7)]


def test_an_unpaired_daemon_says_why():
    got, rep = unpaired({'lb1': [daemon('master', 7)], 'lb2': [daemon('backup', 7, port=9000)]}, failed=['lb3'])
    assert got == [('lb1', 'master', 7), ('lb2', 'backup', 7)]
    first = flags(rep)['unpaired_daemons'][0]
    assert first['reason'] == ('no backup of sync ID 7 on 224.0.0.81:8848 on another director of web '
                               '(a backup of that ID listens elsewhere: lb2 on 224.0.0.81:9000); not seen: lb3')
    assert first['mcast_interface'] == 'eth1' and first['mcast_group'] == '224.0.0.81' and first['mcast_port'] == 8848


# ---------------------------------------------------------------- failed hosts and input

def test_failed_hosts_are_listed_and_not_compared():
    rep = report({
        'lb1': {'cluster': 'web', 'ipvs': facts(table(weights=(5, 1)))},
        'lb2': {'cluster': 'web', 'error': 'Failed to connect to the host via ssh: No route to host'},
        'lb3': {'cluster': 'web', 'ipvs': None, 'error': None},
        'lb4': {'cluster': 'web'},
        # A host that failed now keeps its facts of an earlier run in a fact cache: the error wins.
        'lb5': {'cluster': 'web', 'ipvs': facts(), 'error': 'this kernel has no IPVS'},
    })
    assert flags(rep)['failed_hosts'] == [
        {'host': 'lb2', 'cluster': 'web', 'error': 'Failed to connect to the host via ssh: No route to host'},
        {'host': 'lb3', 'cluster': 'web', 'error': 'no IPVS facts were gathered'},
        {'host': 'lb4', 'cluster': 'web', 'error': 'no IPVS facts were gathered'},
        {'host': 'lb5', 'cluster': 'web', 'error': 'this kernel has no IPVS'},
    ]
    assert flags(rep)['drift'] == []
    assert rep['clusters']['web']['failed'] == ['lb2', 'lb3', 'lb4', 'lb5']
    assert list(rep['clusters']['web']['directors']) == ['lb1']
    assert (rep['summary']['directors'], rep['summary']['reporting'], rep['summary']['failed']) == (5, 1, 4)


def test_hosts_in_natural_order_and_the_default_cluster():
    rep = report({'lb10': {'ipvs': facts()}, 'lb2': {'cluster': '', 'ipvs': facts()}, 'lb1': {'cluster': None, 'ipvs': facts()}})
    assert list(rep['clusters']) == ['default']
    assert list(rep['clusters']['default']['directors']) == ['lb1', 'lb2', 'lb10']


def test_partial_facts():
    # Only rules, or only services without counters: what is there is reported.
    rep = report({'lb1': {'cluster': 'web', 'ipvs': {'rules': _save.emit(table())}},
                  'lb2': {'cluster': 'web', 'ipvs': {'services': [service_dict(s, v, False, False) for s, v in table()]}}})
    assert rep['summary']['ok'] is True
    page = fleet_report_html(rep)
    assert 'data-director="lb2"' in page


def test_bad_input_is_a_filter_error():
    with pytest.raises(AnsibleFilterError, match='must be a dictionary of hosts, not list'):
        fleet_report([])
    with pytest.raises(AnsibleFilterError, match='entry of host lb1 must be a dictionary, not str'):
        fleet_report({'lb1': 'x'})
    with pytest.raises(AnsibleFilterError, match='cluster of host lb1 must be a string, not list'):
        fleet_report({'lb1': {'cluster': ['a'], 'ipvs': {}}})
    with pytest.raises(AnsibleFilterError, match='result of lvs.ipvs.fleet_report'):
        fleet_report_html({'lb1': {}})


def test_generated_at_defaults_to_now_in_utc():
    assert fleet_report({})['generated_at'].endswith('+00:00')


def test_human_units():
    assert [human_bytes(n) for n in (None, 0, 1023, 1536, 5 * 2 ** 20, 3 * 2 ** 40)] == [
        '\u2013', '0 B', '1023 B', '1.5 KiB', '5.0 MiB', '3.0 TiB']


# ---------------------------------------------------------------- the HTML page

def expected_services(rep):
    return sorted((d['host'], s['id']) for cl in rep['clusters'].values() for d in cl['directors'].values()
                  for s in d['services'])


def test_page_has_a_table_and_a_chart_per_service():
    rep = report(pair(lb2=facts(table(weights=(5, 1), load=7), daemons=[daemon('backup', 7)])))
    page = browser.Elements(fleet_report_html(rep))
    want = expected_services(rep)
    assert len(want) == 6
    for tag, cls in (('table', 'service'), ('svg', 'chart')):
        assert sorted((a['data-director'], a['data-service']) for a in page.find(tag, cls)) == want
    meta = [a for t, a in page.elements if t == 'meta' and a.get('http-equiv') == 'Content-Security-Policy']
    assert meta and meta[0]['content'].startswith("default-src 'none'; style-src 'unsafe-inline'; img-src data:")
    # Nothing that could load anything.
    assert not [a for t, a in page.elements if t in ('script', 'link', 'img', 'iframe', 'object')]
    assert not [a for t, a in page.elements if any(k in ('src', 'srcset') for k in a)]
    assert all(a['href'].startswith('#') for t, a in page.elements if t == 'a')
    # The summary: drift with its lines, the flags by name.
    drift = page.find('section', 'flag')
    assert [a['data-flag'] for a in drift] == ['drift']
    text = ''.join(page.text)
    assert '-a -t 203.0.113.10:80 -r 192.0.2.13:80 -g -w 5' in text
    assert human_bytes(52000 * 28) in text  # the web service's bytes out on lb2 (28 connections)


def test_everything_from_the_inventory_and_kernel_is_escaped():
    hostile = '<script>alert(1)</script>'
    data = pair(cluster='"><img src=x onerror=alert(2)>')
    data[hostile] = data.pop('lb2')
    data['lb9&<u>'] = {'cluster': hostile, 'error': '<iframe src="http://192.0.2.1/">'}
    data['lb1']['ipvs']['rules'] += '-A -t 203.0.113.99:80 -s <u>rr</u>\n'
    rep = report(data)
    page = fleet_report_html(rep, title='<i>LBs</i>')
    parsed = browser.Elements(page)
    assert [t for t, _a in parsed.elements if t in ('script', 'img', 'iframe', 'u', 'i')] == []
    assert '&lt;script&gt;alert(1)&lt;/script&gt;' in page
    assert '&lt;iframe src=&quot;http://192.0.2.1/&quot;&gt;' in page
    assert '-s &lt;u&gt;rr&lt;/u&gt;' in page
    assert '&lt;i&gt;LBs&lt;/i&gt;' in page
    tables = parsed.find('table', 'service')
    assert {a['data-director'] for a in tables} == {'lb1', hostile}
    assert {a['data-cluster'] for a in tables} == {'"><img src=x onerror=alert(2)>'}


# ---------------------------------------------------------------- in a real browser

def need_chromium():
    try:
        return browser.chromium_path()
    except browser.BrowserError as exc:
        pytest.fail(str(exc))


def png_size(path):
    with open(path, 'rb') as f:
        head = f.read(24)
    assert head[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG: %s' % path
    return struct.unpack('>II', head[16:24])


def test_report_in_chromium(tmp_path):
    need_chromium()
    data = pair(lb1=facts(table(load=900), daemons=[daemon('master', 7)]),
                lb2=facts(table(weights=(5, 0), load=40), timeouts={'tcp': 900, 'tcpfin': 60, 'udp': 300}))
    data['lb3'] = {'cluster': 'web', 'error': 'Failed to connect to the host via ssh: No route to host'}
    rep = report(data)
    assert all(rep['summary']['counts'][f] for f in ('drift', 'timeout_drift', 'drained_servers', 'unpaired_daemons',
                                                     'failed_hosts'))
    path = tmp_path / 'report.html'
    path.write_text(fleet_report_html(rep), encoding='utf-8')
    page = browser.open_page(str(path), str(tmp_path / 'report.png'))
    assert page.errors == []
    width, height = png_size(page.screenshot)
    assert width == 1280 and height > 1500, (width, height)
    assert os.path.getsize(page.screenshot) > 50000
    dom = browser.Elements(page.dom)
    want = expected_services(rep)
    for tag, cls in (('table', 'service'), ('svg', 'chart')):
        assert sorted((a['data-director'], a['data-service']) for a in dom.find(tag, cls)) == want
    assert {a['data-flag'] for a in dom.find('section', 'flag')} == {
        'drift', 'timeout_drift', 'drained_servers', 'unpaired_daemons', 'failed_hosts'}
    # Each chart has a row of three bars for every real server, drawn where there is something to show.
    servers = [v for d in rep['clusters']['web']['directors'].values() for s in d['services'] for v in s['servers']]
    assert len(dom.find('rect', 'track')) == 3 * len(servers)
    assert len(dom.find('rect', 'conns')) == len([v for v in servers if v['stats']['conns']]) > 0


def test_chromium_sees_what_failed_to_load(tmp_path):
    """The negative control: what open_page() calls errors are real."""
    need_chromium()
    (tmp_path / 'ok.png').write_bytes(b'not a picture')
    page = tmp_path / 'broken.html'
    page.write_text('<!DOCTYPE html><html><head><title>t</title>'
                    '<link rel="stylesheet" href="missing.css"></head><body>'
                    '<img src="http://192.0.2.1/x.png"><img src="missing.png"><img src="ok.png"></body></html>')
    errors = browser.open_page(str(page)).errors
    text = '\n'.join(errors)
    assert 'http://192.0.2.1/x.png' in text
    assert 'missing.png' in text and 'ERR_FILE_NOT_FOUND' in text
    assert 'missing.css' in text
    assert 'image did not load: ' in text and 'ok.png' in text  # loaded, but not an image
    # Under the report's Content-Security-Policy, an external image is blocked before any request.
    csp = tmp_path / 'csp.html'
    csp.write_text('<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" '
                   'content="default-src \'none\'; style-src \'unsafe-inline\'; img-src data:"></head>'
                   '<body><img src="https://cdn.example/logo.png"></body></html>')
    errors = browser.open_page(str(csp)).errors
    assert any('https://cdn.example/logo.png' in e and 'csp' in e for e in errors), errors


def test_services_beyond_max_services_get_one_line_each():
    rep = report(pair())
    page = browser.Elements(fleet_report_html(rep, max_services=1))
    assert sorted((a['data-director'], a['data-service']) for a in page.find('table', 'service')) == [
        ('lb1', 'TCP 203.0.113.10:80'), ('lb2', 'TCP 203.0.113.10:80')]
    assert len(page.find('svg', 'chart')) == 2
    short = sorted((a['data-director'], a['data-service']) for a in page.find('tr', 'short-service'))
    assert short == [('lb1', 'FWM 5 IPv6'), ('lb1', 'TCP 203.0.113.20:80'), ('lb2', 'FWM 5 IPv6'), ('lb2', 'TCP 203.0.113.20:80')]
    assert not browser.Elements(fleet_report_html(rep, max_services=0)).find('table', 'service')
    with pytest.raises(AnsibleFilterError, match='max_services must be 0 or more'):
        fleet_report_html(rep, max_services=-1)
