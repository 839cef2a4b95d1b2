# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""ipvs_table against the fake IPVS kernel: what it sends (and only that),
check mode, diff, atomic rollback, the file formats, export and the lock."""

import errno
import json

import pytest
from ansible.module_utils.basic import AnsibleModule

from harness import Harness, writes

from ansible_collections.lvs.ipvs.plugins.module_utils import _plan, _save, _table
from ansible_collections.lvs.ipvs.plugins.module_utils._errors import IpvsError
from ansible_collections.lvs.ipvs.plugins.module_utils._model import make_server, make_service
from ansible_collections.lvs.ipvs.plugins.module_utils._options import OptionError, check_options
from ansible_collections.lvs.ipvs.plugins.modules import ipvs_table

PERMISSION = "permission denied: managing IPVS needs CAP_NET_ADMIN (use become: true)"


@pytest.fixture(autouse=True)
def lock_dir(monkeypatch, tmp_path):
    """Lock files of these runs go to a temporary directory, not the host's /run."""
    monkeypatch.setattr(_table, 'LOCK_DIRS', (str(tmp_path / 'run-lock'), str(tmp_path / 'run-lock')))


@pytest.fixture
def h(monkeypatch, capsys):
    harness = Harness(monkeypatch, capsys)
    harness.kernel()
    return harness


def vip(i):
    return '10.%d.%d.1' % (i // 250, i % 250)


def big_table(n, m=4):
    return [(make_service(family='ipv4', protocol='tcp', vip=vip(i), vport=80, scheduler='wrr'),
             [make_server('192.168.%d.%d' % (j, i % 250 + 1), 8000 + i // 250, forward='masq', weight=j + 1)
              for j in range(m)]) for i in range(n)]


def as_services(table):
    return [dict(vip=svc.vip, vport=svc.vport, scheduler=svc.scheduler,
                 servers=[dict(rip=s.rip, rport=s.rport, forward=s.forward, weight=s.weight) for s in servers])
            for svc, servers in table]


def four(h, args):
    """check, real, again, check again: check mode writes nothing and predicts the real result exactly."""
    fake = h.fake
    n = len(fake.log)
    first = h.run(ipvs_table, args, check=True, diff=True)
    assert 'failed' not in first, first
    assert writes(fake, n) == []
    real = h.run(ipvs_table, args, diff=True)
    assert 'failed' not in real, real
    for key in set(first) | set(real):
        if key not in ('invocation', 'requests', 'lock_waited'):
            assert first.get(key) == real.get(key), (key, first.get(key), real.get(key))
    assert real['requests'] == len(writes(fake, n))
    n = len(fake.log)
    again = h.run(ipvs_table, args, diff=True)
    assert again['changed'] is False and again['requests'] == 0 and writes(fake, n) == [], again
    assert h.run(ipvs_table, args, check=True)['changed'] is False
    return first, real


def test_apply_into_empty_and_rerun_sends_nothing(h):
    table = big_table(50)
    first, real = four(h, dict(services=as_services(table)))
    assert (real['services_added'], real['servers_added']) == (50, 200)
    assert len(h.fake.table()) == 50
    assert _save.emit(h.fake.table()) == _save.emit(table)
    assert real['diff']['before'] == '--set 900 120 300\n'
    assert real['diff']['after'] == _save.emit(table, thresholds=True) + '--set 900 120 300\n'
    assert real['invocation']['module_args']['services'] == '(50 services)'


def test_only_the_changes_are_sent(h):
    table = big_table(200)
    h.fake.load(table)
    services = as_services(table)
    for i in range(0, 200, 50):            # 1% of real servers change weight
        services[i]['servers'][1]['weight'] = 9
    removed = services[7], services[99]    # 1% of services go
    services = [s for s in services if not any(s is r for r in removed)]
    n = len(h.fake.log)
    first, real = four(h, dict(services=services, purge=True))
    assert (real['servers_changed'], real['services_removed'], real['servers_added']) == (4, 2, 0)
    assert sorted(writes(h.fake, n)) == ['DEL_SERVICE'] * 2 + ['SET_DEST'] * 4
    assert real['requests'] == 6


def test_without_purge_nothing_unnamed_is_touched(h):
    h.fake.load(big_table(3))
    first, real = four(h, dict(services=[dict(vip=vip(0), vport=80, servers=[dict(rip='192.168.9.9', forward='masq')])]))
    assert (real['services_removed'], real['servers_removed'], real['servers_added']) == (0, 0, 1)
    by_vip = dict((svc.vip, servers) for svc, servers in h.fake.table())
    assert len(by_vip) == 3 and [len(by_vip[vip(i)]) for i in range(3)] == [5, 4, 4]


def test_atomic_rollback_restores_everything(h):
    fake = h.fake
    fake.load(big_table(20))
    fake.set_timeouts(tcp=1234)
    before = (_save.emit(fake.table(), thresholds=True), fake.timeouts, fake.daemons)
    services = as_services(big_table(20))
    for s in services[:10]:
        s['servers'][0]['weight'] = 7
    services.append(dict(vip='10.9.9.9', vport=80, scheduler='nosuch', servers=[dict(rip='10.1.0.2')]))
    result = h.run(ipvs_table, dict(services=services[2:], purge=True, timeouts=dict(tcp=99)))
    assert result['failed'] and "virtual service TCP 10.9.9.9:80: scheduler 'nosuch' is not available" in result['msg']
    assert 'changes already made were undone, the table is as it was' in result['msg']
    assert not result.get('changed') and 'applied' not in result
    assert result['not_applied'][0] == dict(change='add virtual service TCP 10.9.9.9:80', error=result['not_applied'][0]['error'])
    # Order aside (services re-created are listed anew), the table is as it was.
    assert (_save.emit(fake.table(), thresholds=True), fake.timeouts, fake.daemons) == before


def test_atomic_false_leaves_what_worked_and_says_so(h):
    result = h.run(ipvs_table, dict(atomic=False, services=[
        dict(vip='10.0.0.1', vport=80), dict(vip='10.0.0.2', vport=80, scheduler='nosuch')]))
    assert result['failed'] and result['changed'] is True
    assert result['applied'] == ['add virtual service TCP 10.0.0.1:80']
    assert [s.vip for s, _servers in h.fake.table()] == ['10.0.0.1']


def test_a_failed_undo_is_reported_as_a_partly_changed_table(h):
    fake = h.fake
    fake.load(big_table(2))
    refused = []

    def refuse(fake_, request):
        if request.name == 'NEW_SERVICE' and b'\x0a\x09\x09\x09' in request.body:
            return errno.ENOMEM
        if request.name == 'SET_DEST' and refused:  # the undo of the weight change
            return errno.ENOMEM
        if request.name == 'SET_DEST':
            refused.append(1)
        return None
    fake.before_request.append(refuse)
    services = as_services(big_table(2))
    services[0]['servers'][0]['weight'] = 5
    services.append(dict(vip='10.9.9.9', vport=80))
    result = h.run(ipvs_table, dict(services=services))
    assert result['failed'] and result['changed'] is True and 'the table is partly changed' in result['msg'], result
    assert result['applied'] == ['edit real server 192.168.0.1:8000 in TCP 10.0.0.1:80']
    assert [u['change'] for u in result['not_undone']] == ['edit real server 192.168.0.1:8000 in TCP 10.0.0.1:80']
    assert h.fake.servers(('ipv4', 'tcp', '10.0.0.1', 80, None))[-1].weight == 5


def test_without_become(monkeypatch, capsys):
    h = Harness(monkeypatch, capsys)
    h.kernel(privileged=False)
    for args in (dict(services=[dict(vip='10.0.0.1', vport=80)]), dict(state='flushed'), dict(zero_stats=True)):
        result = h.run(ipvs_table, args)
        assert result['failed'] and result['msg'] == PERMISSION, result


def test_flushed_zero_timeouts_daemons(h):
    fake = h.fake
    fake.load(big_table(3))
    key = fake.table()[0][0].key
    fake.add_traffic(key, conns=5)
    first, real = four(h, dict(zero_stats=True))
    assert real['zeroed'] and real['changed']
    first, real = four(h, dict(state='flushed', timeouts=dict(udp=60),
                               daemons=[dict(role='backup', mcast_interface='eth1', syncid=3)]))
    assert real['services_removed'] == 3 and fake.table() == []
    assert fake.timeouts.udp == 60 and [d.role for d in fake.daemons] == ['backup']
    assert real['daemons'][0]['syncid'] == 3 and real['timeouts']['udp'] == 60
    first, real = four(h, dict(daemons=[dict(role='backup', state='absent')]))
    assert fake.daemons == [] and real['daemons'] == []


def test_the_ipvsadm_format_and_export(h, tmp_path):
    rules = ('-C\n-A -t 10.5.0.1:80 -s wrr\n-a -t 10.5.0.1:80 -r 10.1.0.2:8080 -m -w 3 -x 100 -y 10\n'
             '-A -f 9 -6 -s mh -b mh-port\n-a -f 9 -6 -r [2001:db8::2]:80 -m -w 1\n'
             '--set 1000 0 50\n--start-daemon master --mcast-interface eth1 --syncid 7\n')
    src, export = tmp_path / 'rules', tmp_path / 'export'
    src.write_text(rules)
    h.fake.load(big_table(2))  # -C: the file is the whole table
    first, real = four(h, dict(src=str(src), export=str(export)))
    assert (real['services_removed'], real['services_added'], real['servers_added']) == (2, 2, 2)
    assert real['export'] == dict(path=str(export), changed=True)
    text = export.read_text()
    assert text == ('-C\n-A -t 10.5.0.1:80 -s wrr\n-a -t 10.5.0.1:80 -r 10.1.0.2:8080 -m -w 3 -x 100 -y 10\n'
                    '-A -f 9 -6 -s mh -b mh-port\n-a -f 9 -6 -r [2001:db8::2]:80 -m -w 1\n'
                    '--set 1000 120 50\n--start-daemon master --mcast-interface eth1 --syncid 7 --sync-maxlen 1472 '
                    '--mcast-group 224.0.0.81 --mcast-port 8848 --mcast-ttl 1\n')
    # The export read back is the same table: nothing to do.
    again = h.run(ipvs_table, dict(src=str(export)))
    assert again['changed'] is False, again
    # In check mode a stale export is a change, and it is not written.
    export.write_text('stale\n')
    result = h.run(ipvs_table, dict(src=str(src), export=str(export)), check=True)
    assert result['changed'] and result['export']['changed'] and export.read_text() == 'stale\n'


def test_a_saved_table_applied_again_is_looked_up_not_parsed(h, tmp_path, monkeypatch):
    """The re-run of an export: its lines are the table's (_save.restore_blocks()),
    so none is parsed, nothing is sent; the same file with one weight and one
    service changed sends exactly those changes, and the lines parsed are those."""
    h.fake.load(big_table(40))
    export = tmp_path / 'export'
    result = h.run(ipvs_table, dict(export=str(export)))
    assert result['export']['changed'] and result['requests'] == 0
    parsed = []
    for name in ('_parse_service', '_parse_server', '_fast_server'):
        monkeypatch.setattr(_save, name, lambda *a, _real=getattr(_save, name), _n=name: parsed.append(_n) or _real(*a))
    n = len(h.fake.log)
    again = h.run(ipvs_table, dict(src=str(export)), diff=True)
    assert again['changed'] is False and writes(h.fake, n) == [] and parsed == [], (again, parsed)
    text = export.read_text()
    text = text.replace('-r 192.168.2.4:8000 -m -w 3', '-r 192.168.2.4:8000 -m -w 9')
    text = text.replace('-A -t 10.0.7.1:80 -s wrr', '-A -t 10.0.7.1:80 -s rr')
    export.write_text(text)
    n = len(h.fake.log)
    changed = h.run(ipvs_table, dict(src=str(export)))
    assert (changed['services_changed'], changed['servers_changed'], changed['requests']) == (1, 1, 2), changed
    assert sorted(parsed) == ['_fast_server', '_parse_service'], parsed
    assert _save.emit(h.fake.table(), thresholds=True) == text[len('-C\n'):text.index('--set')]


BAD_RULES = "-A -t 10.0.0.1:80 -s rr\n-A -t 10.0.0.1:80 -s wrr\n"


@pytest.mark.parametrize('where', ['not loaded', 'loadable', 'lock held', 'no become', 'check, not loaded'])
def test_a_bad_ipvsadm_file_is_reported_before_the_host_is_touched(monkeypatch, capsys, tmp_path, where):
    """The table is read ahead of the file (for the lookup) only where that
    reading changes nothing and cannot fail first; else the file is parsed first."""
    h = Harness(monkeypatch, capsys)
    fake = h.kernel(loaded=where not in ('not loaded', 'loadable', 'check, not loaded'),
                    loadable=where == 'loadable', privileged=where != 'no become')
    src = tmp_path / 'rules'
    src.write_text(BAD_RULES)
    held = _table.NamespaceLock(None, 5).acquire() if where == 'lock held' else None
    try:
        result = h.run(ipvs_table, dict(src=str(src), lock_timeout=30), check=where.startswith('check'))
    finally:
        if held is not None:
            held.release()
    assert result['failed'] and result['msg'] == 'src: line 2: TCP 10.0.0.1:80 is defined twice', result
    assert fake.modprobes == [] and h.warnings == [] and not result.get('changed')


@pytest.mark.parametrize('line', ['-Z', '"-Z"'])
def test_a_zero_line_in_a_file_zeroes_what_the_lookup_read(h, tmp_path, line):
    """-Z in the file needs the counters: read with them ahead of the parse
    (zeroes()), or read again when only the parse finds it (quoted)."""
    table = big_table(3)
    h.fake.load(table)
    h.fake.add_traffic(table[1][0].key, conns=5)
    src = tmp_path / 'rules'
    src.write_text(_save.emit(table) + line + '\n')
    first, real = four(h, dict(src=str(src)))
    assert real['zeroed'] and first['zeroed'] and real['requests'] == 1
    assert all(svc.stats.conns == 0 for svc, _servers in h.fake.table())
    h.fake.add_traffic(table[2][0].key, conns=1)
    dumps = h.fake.requests['GET_SERVICE']
    assert h.run(ipvs_table, dict(src=str(src)))['zeroed']
    assert h.fake.requests['GET_SERVICE'] - dumps == (1 if line == '-Z' else 2)   # read once when seen ahead


def test_a_quoted_zero_line_plans_from_the_second_reading(h, tmp_path):
    """What another writer changed between the two readings (the first for the
    lookup, the second with the counters) is put back: the plan starts from the second."""
    table = big_table(3)
    h.fake.load(table)
    h.fake.add_traffic(table[0][0].key, conns=5)
    src = tmp_path / 'rules'
    src.write_text(_save.emit(table) + '"-Z"\n')
    key, srv = table[1][0].key, table[1][1][0]

    def meanwhile(fake, _request):
        fake.edit_server(key, srv._replace(weight=srv.weight + 7))
    h.fake.once('GET_SERVICE', lambda fake, _request: fake.once('GET_SERVICE', meanwhile) and None)
    result = h.run(ipvs_table, dict(src=str(src)))
    assert result['servers_changed'] == 1 and result['zeroed'], result
    assert _save.emit(h.fake.table()) == _save.emit(table)


def test_a_bad_file_read_ahead_leaves_the_lock_free(h, tmp_path):
    src = tmp_path / 'rules'
    src.write_text(_save.emit(big_table(2)) + BAD_RULES)
    h.fake.load(big_table(2))
    result = h.run(ipvs_table, dict(src=str(src)))
    assert result['failed'] and 'is defined twice' in result['msg'], result
    lock = _table.NamespaceLock(None, 1).acquire(wait=False)
    assert lock is not None
    lock.release()


def test_a_lock_that_cannot_be_taken_comes_after_the_files_error(h, tmp_path, monkeypatch):
    blocker = tmp_path / 'not-a-directory'
    blocker.write_text('')
    monkeypatch.setattr(_table, 'LOCK_DIRS', (str(blocker / 'lvs.ipvs'),) * 2)
    src = tmp_path / 'rules'
    src.write_text(BAD_RULES)
    result = h.run(ipvs_table, dict(src=str(src)))
    assert result['msg'] == 'src: line 2: TCP 10.0.0.1:80 is defined twice', result
    src.write_text('-A -t 10.0.0.1:80 -s rr\n')
    result = h.run(ipvs_table, dict(src=str(src)))
    assert result['failed'] and 'cannot open the lock file' in result['msg'], result


@pytest.mark.parametrize('fmt', ['yaml', 'json', None])
def test_yaml_and_json_files(h, tmp_path, fmt):
    data = dict(services=[dict(vip='10.0.0.1', vport=80, scheduler='rr', servers=[dict(rip='10.1.0.2', weight=2)])],
                timeouts=dict(tcp=700))
    src = tmp_path / 'table'
    src.write_text(json.dumps(data) if fmt != 'yaml' else
                   "services:\n  - vip: 10.0.0.1\n    vport: 80\n    scheduler: rr\n    servers:\n"
                   "      - {rip: 10.1.0.2, weight: 2}\ntimeouts: {tcp: 700}\n")
    args = dict(src=str(src))
    if fmt:
        args['format'] = fmt
    first, real = four(h, args)
    assert real['services_added'] == 1 and h.fake.timeouts.tcp == 700


@pytest.mark.parametrize('text,words', [
    ("-A -t 10.0.0.5:80 -s rr\n-a -t 10.0.0.5:80 -r 10.1.0.2 -g -w lots\n", 'src: line 2: weight must be a number'),
    ("-A -t 10.0.0.5:80 -s rr\n--set 1 2\n", 'src: line 2: --set needs three values'),
    ("-A -t 10.0.0.5:80 -s rr\n--start-daemon master\n", 'src: line 2: --start-daemon needs --mcast-interface'),
    ("-A -t 10.0.0.5:80 -s rr\n-C\n", 'src: line 2: -C (clear) must come before'),
    ("-A -t 10.0.0.5:80 -s 'rr\n", 'src: line 1: cannot split the line into words'),
    ("- {vip: 10.0.0.5, vport: 80, servers: [{rip: 10.1.0.2, wieght: 3}]}\n",
     'src: services[0].servers[0]: unsupported option wieght'),
    ("services: [{vip: 10.0.0.5, vport: http}]\n", 'src: services[0].vport must be of type int'),
    ("services: {vip: 10.0.0.5}\n", 'src: services must be a list'),
    ('{"services": [], "extra": 1}', 'src: unknown key extra'),
    ('{"services": [', 'is not valid JSON'),
    ('{"daemons": [{"role": "master"}]}', 'src: daemons[0].mcast_interface is required for a running daemon'),
])
def test_bad_files_name_the_line_or_key_and_send_nothing(h, tmp_path, text, words):
    h.fake.load(big_table(1))
    src = tmp_path / 'bad'
    src.write_text(text)
    n = len(h.fake.log)
    result = h.run(ipvs_table, dict(src=str(src), purge=True))
    assert result.get('failed') and words in result['msg'], result
    assert writes(h.fake, n) == [] and 'exception' not in result


@pytest.mark.parametrize('args,words', [
    (dict(services=[dict(vip='10.0.0.1', vport=80), dict(vip='10.0.0.1', vport=80)]),
     'services[0] and services[1] name the same service TCP 10.0.0.1:80'),
    (dict(services=[dict(vip='10.0.0.1', vport=80, servers=[dict(rip='10.1.0.2', forward='nat')])]),
     'services[0].servers[0].forward must be one of: masq, local, tun, dr, bypass, fnat, got: nat'),
    (dict(services=[dict(vip='10.0.0.1', vport=80, scheduler='rr', persistent='maybe')]),
     'services[0].persistent must be of type bool'),
    (dict(services=[dict(vport=80)]), 'services[0].one of vip (with vport) or fwmark is required'),
    (dict(services=[dict(vip='10.0.0.1', vport=80, servers=[dict(rip='10.1.0.2', rport=81)])]),
     'services[0].servers[0].rport=81: with forward=dr the real server receives the service port 80 unchanged'),
    (dict(services=[dict(vip='10.0.0.1', vport=80, laddrs=['10.2.0.1'])]), 'no FULLNAT local-address support'),
    (dict(state='flushed', services=[dict(vip='10.0.0.1', vport=80)]), 'state=flushed empties the table'),
    (dict(daemons=[dict(role='master', mcast_interface='nosuch0')]),
     "daemons[0].mcast_interface: there is no network interface 'nosuch0' on this host"),
    (dict(timeouts=dict(tcp=0)), 'timeouts.tcp must be between 1 and'),
    (dict(services=[dict(vip='10.0.0.1', vport=80)], src='/x'), 'mutually exclusive'),
])
def test_bad_options_name_the_option_and_send_nothing(h, args, words):
    h.fake.load(big_table(1))
    n = len(h.fake.log)
    result = h.run(ipvs_table, args)
    assert result.get('failed') and words in result['msg'], result
    assert writes(h.fake, n) == []


def test_check_options_completes_and_converts():
    spec = _table.TABLE_SERVICE_SPEC
    out = check_options(spec, dict(vip='10.0.0.1', vport='80', persistent='yes', servers=[dict(rip='10.1.0.2')]),
                        'services[0].')
    assert out['vport'] == 80 and out['persistent'] is True and out['protocol'] == 'tcp' and out['state'] == 'present'
    assert out['servers'][0]['state'] == 'present' and out['servers'][0]['weight'] is None
    with pytest.raises(OptionError, match=r'services\[0\]: unsupported option wieght'):
        check_options(spec, dict(vip='10.0.0.1', wieght=1), 'services[0].')
    with pytest.raises(OptionError, match=r'services\[0\].servers\[0\].rip is required'):
        check_options(spec, dict(vip='10.0.0.1', servers=[dict(weight=1)]), 'services[0].')


def test_the_lock_makes_a_second_run_wait_then_give_up(tmp_path, monkeypatch):
    monkeypatch.setattr(_table, 'LOCK_DIRS', (str(tmp_path / 'locks'), str(tmp_path / 'locks')))
    first = _table.NamespaceLock(None, 5).acquire()
    try:
        second = _table.NamespaceLock(None, 0.3)
        with pytest.raises(IpvsError, match=r'another ipvs_table run \(pid \d+\) has held'):
            second.acquire()
    finally:
        first.release()
    third = _table.NamespaceLock(None, 1).acquire()
    assert third.waited < 0.5
    third.release()


def test_daemon_stops_go_first_and_starts_last(h):
    """The kernel refuses a mixed-family real server while a daemon runs, and a daemon beside one."""
    h.fake.start_daemon(make_daemon('master'))
    first, real = four(h, dict(daemons=[dict(role='master', state='absent')], services=[
        dict(vip='10.0.0.1', vport=80, servers=[dict(rip='2001:db8::2', forward='tun')])]))
    assert real['servers_added'] == 1 and h.fake.daemons == []
    result = h.run(ipvs_table, dict(services=[dict(vip='10.0.0.1', vport=80, servers=[
        dict(rip='2001:db8::2', state='absent')])], daemons=[dict(role='backup', mcast_interface='eth1')]))
    assert 'failed' not in result and [d.role for d in h.fake.daemons] == ['backup'], result


def test_syncid_and_settings_left_out_are_kept(h):
    h.fake.start_daemon(make_daemon('master', syncid=7, mcast_port=9000))
    first, real = four(h, dict(daemons=[dict(role='master', mcast_interface='eth1')]))
    assert real['changed'] is False
    first, real = four(h, dict(daemons=[dict(role='master', mcast_interface='eth1', mcast_ttl=2)]))
    assert (real['daemons'][0]['syncid'], real['daemons'][0]['mcast_port'], real['daemons'][0]['mcast_ttl']) == (7, 9000, 2)


def test_undo_restores_local_addresses_of_removed_services(monkeypatch, capsys):
    h = Harness(monkeypatch, capsys)
    fake = h.kernel(laddr=True)
    fake.load(big_table(2))
    key = fake.table()[0][0].key
    fake.add_laddr(key, '10.2.0.1')
    result = h.run(ipvs_table, dict(purge=True, services=[dict(vip=vip(1), vport=80),
                                                          dict(vip='10.9.9.9', vport=80, scheduler='nosuch')]))
    assert result['failed'] and 'the table is as it was' in result['msg'], result
    assert [a.address for a in fake.laddrs(key)] == ['10.2.0.1']


def test_identity_rules_of_each_service_entry(h):
    for entry, words in ((dict(vip='10.0.0.1', persistent=True), 'services[0].vip needs vport'),
                         (dict(vip='10.0.0.1', vport=80, fwmark=5), 'services[0].fwmark names the service on its own')):
        result = h.run(ipvs_table, dict(services=[entry]))
        assert result['failed'] and words in result['msg'] and 'exception' not in result, result


def test_a_yaml_document_marker_is_yaml(h, tmp_path):
    src = tmp_path / 'table.yml'
    src.write_text('---\n- {vip: 10.0.0.1, vport: 80}\n')
    assert h.run(ipvs_table, dict(src=str(src)))['services_added'] == 1


def test_an_export_ipvsadm_cannot_restore_fails_before_any_change(h, tmp_path):
    n = len(h.fake.log)
    result = h.run(ipvs_table, dict(export=str(tmp_path / 'rules'), services=[
        dict(vip='10.0.0.1', vport=80, servers=[dict(rip='10.1.0.2', forward='bypass')])]))
    assert result['failed'] and 'uses forward=bypass, which ipvsadm cannot write or restore' in result['msg'], result
    result = h.run(ipvs_table, dict(export=str(tmp_path / 'nodir' / 'rules'), services=[dict(vip='10.0.0.1', vport=80)]))
    assert result['failed'] and 'export: the directory' in result['msg'], result
    assert writes(h.fake, n) == [] and not (tmp_path / 'rules').exists()


def test_an_export_path_that_cannot_be_written_fails_before_any_change(h, tmp_path, monkeypatch):
    """Refused before the first write, in check mode as well: the real run would fail after the table changed."""
    n = len(h.fake.log)
    services = [dict(vip='10.0.0.1', vport=80, servers=[dict(rip='10.1.0.2', forward='masq')])]
    (tmp_path / 'adir').mkdir()
    for check in (True, False):
        result = h.run(ipvs_table, dict(export=str(tmp_path / 'adir'), services=services), check=check)
        assert result['failed'] and 'is a directory; give the path of a file' in result['msg'], result
    read_only(monkeypatch, tmp_path)
    for check in (True, False):
        result = h.run(ipvs_table, dict(export=str(tmp_path / 'rules'), services=services), check=check)
        assert result['failed'] and 'export: the directory %s is not writable' % tmp_path in result['msg'], result
    assert writes(h.fake, n) == [] and h.fake.table() == []


def read_only(monkeypatch, directory):
    """As root, only a read-only filesystem makes access() refuse writing; this stands in for one."""
    real = ipvs_table.os.access

    def access(path, mode, **kwargs):
        return not (path == str(directory) and mode & ipvs_table.os.W_OK) and real(path, mode, **kwargs)
    monkeypatch.setattr(ipvs_table.os, 'access', access)


def test_an_export_that_is_up_to_date_needs_no_writable_directory(h, tmp_path, monkeypatch):
    export = tmp_path / 'rules'
    services = [dict(vip='10.0.0.1', vport=80, servers=[dict(rip='10.1.0.2', forward='masq')])]
    first = h.run(ipvs_table, dict(export=str(export), services=services))
    assert first['changed'] and first['export']['changed'], first
    read_only(monkeypatch, tmp_path)
    for args in (dict(services=services), dict(services=services, zero_stats=True)):
        for check in (True, False):
            result = h.run(ipvs_table, dict(args, export=str(export)), check=check)
            assert not result.get('failed') and result['export'] == dict(path=str(export), changed=False), result


@pytest.mark.parametrize('fault', ['mkstemp', 'atomic_move', 'atomic_move_before_2_19'])
def test_an_export_that_fails_after_the_change_says_changed_and_what_was_applied(h, tmp_path, monkeypatch, fault):
    failing = [True]
    real_mkstemp, real_move = ipvs_table.tempfile.mkstemp, AnsibleModule.atomic_move

    def mkstemp(*args, **kwargs):
        if failing[0]:
            raise OSError(errno.ENOSPC, 'No space left on device')
        return real_mkstemp(*args, **kwargs)

    def atomic_move(self, *args, **kwargs):
        if failing[0]:
            # What ansible-core 2.19's atomic_move() raises when the rename fails.
            raise Exception("Could not replace 'rules' with '.ipvs_table.x'.")
        return real_move(self, *args, **kwargs)

    def atomic_move_before_2_19(self, *args, **kwargs):
        if failing[0]:
            # ansible-core 2.16-2.18: fail_json(), which ends the task unless the module stands in for it.
            self.fail_json(msg="Could not replace file: x to rules: [Errno 16] Device or resource busy")
        return real_move(self, *args, **kwargs)
    if fault == 'mkstemp':
        monkeypatch.setattr(ipvs_table.tempfile, 'mkstemp', mkstemp)
    else:
        monkeypatch.setattr(AnsibleModule, 'atomic_move', atomic_move if fault == 'atomic_move' else atomic_move_before_2_19)
    export = tmp_path / 'rules'
    services = [dict(vip='10.0.0.1', vport=80, servers=[dict(rip='10.1.0.2', forward='masq')])]
    result = h.run(ipvs_table, dict(export=str(export), services=services))
    assert result['failed'] and result['msg'].startswith('export: writing %s failed: ' % export), result
    assert 'exception' not in result
    assert result['changed'] is True
    assert result['applied'] == ['add virtual service TCP 10.0.0.1:80',
                                 'add real server 10.1.0.2:80 in TCP 10.0.0.1:80'], result
    assert not export.exists() and [p.name for p in tmp_path.iterdir() if p.name.startswith('.ipvs_table.')] == []
    # The lock was released: the next run (the table is there now) writes the export.
    failing[0] = False
    again = h.run(ipvs_table, dict(export=str(export), services=services))
    assert not again.get('failed') and again['requests'] == 0 and again['export']['changed'], again


def test_check_mode_creates_no_lock_file(h, tmp_path, monkeypatch):
    locks = tmp_path / 'locks'
    monkeypatch.setattr(_table, 'LOCK_DIRS', (str(locks), str(locks)))
    h.run(ipvs_table, dict(services=[dict(vip='10.0.0.1', vport=80)]), check=True)
    assert not locks.exists()
    h.run(ipvs_table, dict(services=[dict(vip='10.0.0.1', vport=80)]))
    assert locks.is_dir() and (locks.stat().st_mode & 0o777) == 0o700


def make_daemon(role, **kw):
    from ansible_collections.lvs.ipvs.plugins.module_utils._model import Daemon
    values = dict(mcast_interface='eth1', syncid=0, sync_maxlen=None, mcast_group=None, mcast_port=None, mcast_ttl=None)
    values.update(kw)
    return Daemon(role, **values)


def test_a_batch_that_breaks_off_is_reported_as_a_possible_change(monkeypatch, capsys):
    h = Harness(monkeypatch, capsys)
    fake = h.kernel(rcvbuf_limit=16384)  # the error replies of this batch overflow the socket's receive buffer
    good = [dict(vip=vip(i), vport=80) for i in range(50)]
    bad = [dict(vip=vip(100 + i), vport=80, scheduler='nosuch') for i in range(100)]
    services = good + bad
    result = h.run(ipvs_table, dict(services=services))
    assert result['failed'] and result['changed'] is True, result
    assert 'the kernel may have carried out some of the' in result['msg'] and 'ipvs_info' in result['msg']
    assert fake.table()  # some did go through


def test_atomic_rollback_undoes_every_kind_of_change(h):
    """The undo of each change (built only when an apply fails): an added and
    an edited service, servers added, edited and removed, services removed."""
    fake = h.fake
    fake.load(big_table(6))
    before = _save.emit(fake.table(), thresholds=True)
    services = as_services(big_table(6))[:4]
    services[0]['scheduler'] = 'rr'
    services[0]['servers'][1]['weight'] = 9
    del services[0]['servers'][2]
    services[0]['servers'].append(dict(rip='10.7.7.7', rport=8000, forward='masq', weight=2))
    services[1]['servers'][0]['state'] = 'absent'
    services[2]['servers'][0]['state'] = 'drained'
    services.append(dict(vip='10.8.8.8', vport=80, servers=[dict(rip='10.1.0.2'), dict(rip='10.1.0.3', weight=4)]))
    services.append(dict(vip='10.9.9.9', vport=80, scheduler='nosuch', servers=[dict(rip='10.1.0.2')]))
    result = h.run(ipvs_table, dict(services=services, purge=True))
    assert result['failed'] and "virtual service TCP 10.9.9.9:80: scheduler 'nosuch' is not available" in result['msg']
    assert 'changes already made were undone, the table is as it was' in result['msg'], result['msg']
    assert _save.emit(fake.table(), thresholds=True) == before


def test_atomic_rollback_of_a_flush(h):
    fake = h.fake
    fake.load(big_table(5))
    before = (_save.emit(fake.table(), thresholds=True), fake.timeouts)
    fake.before_request.append(lambda fake_, request: errno.EINVAL if request.name == 'SET_CONFIG' else None)
    result = h.run(ipvs_table, dict(state='flushed', timeouts=dict(udp=60)))
    assert result['failed'] and 'the 1 changes already made were undone, the table is as it was' in result['msg'], result
    assert (_save.emit(fake.table(), thresholds=True), fake.timeouts) == before


def test_with_counts_is_replace_of_the_counts():
    """with_counts() builds the server by position; it must be what _replace() makes."""
    srv = make_server('10.0.0.1', 80, forward='tun', tun_type='gue', tun_port=6080, weight=3)
    for have in (make_server('10.0.0.1', 80), make_server('10.0.0.1', 80, active_conns=5, inactive_conns=7,
                                                          persist_conns=9, stats=(1, 2, 3, 4, 5), rates=(0,) * 5),
                 make_server('10.0.0.1', 80, persist_conns=1)):
        got = _plan.with_counts(srv, have)
        want = srv._replace(active_conns=have.active_conns, inactive_conns=have.inactive_conns,
                            persist_conns=have.persist_conns)
        assert got == want and type(got) is type(want)
    assert _plan.with_counts(srv, None) is srv
