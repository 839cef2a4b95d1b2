# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""ipvs_table against the real kernel, cross-checked with ipvsadm both ways:
round trips through ipvsadm -R and export, four runs, purge, flush, zero,
atomic rollback, in-place changes under traffic, two runs at once, bad files."""

import json
import os
import subprocess
import sys
import time

import pytest

from lvs_testlib import VIP, Netns, Topology, run_module as run

HERE = os.path.dirname(os.path.abspath(__file__))
LISTINGS = ('-Sn', '-Ln --thresholds', '-Ln --tun-info', '-Ln --persistent-conn', '-L --timeout', '-L --daemon')

# Every option the ipvsadm save format carries, in ipvsadm -Sn's own words.
SAVE_FILE = """\
-A -t 10.0.0.1:80 -s wrr
-a -t 10.0.0.1:80 -r 10.1.0.2:8080 -m -w 3
-a -t 10.0.0.1:80 -r 10.1.0.3:80 -m -w 0
-A -u 10.0.0.1:53 -s rr -p 600 -M 255.255.255.0 -o
-a -u 10.0.0.1:53 -r 10.1.0.2:53 -g -w 1
-A -u 10.0.0.2:5060 -s rr -p 360 --pe sip -o
-A --sctp-service 10.0.0.1:3868 -s lc
-a --sctp-service 10.0.0.1:3868 -r 10.1.0.2:3868 -i -w 1 --tun-type ipip
-a --sctp-service 10.0.0.1:3868 -r 10.1.0.3:3868 -i -w 2 --tun-type gue --tun-port 6080 --tun-remcsum
-a --sctp-service 10.0.0.1:3868 -r 10.1.0.4:3868 -i -w 1 --tun-type gre --tun-csum
-A -t 10.0.0.3:0 -s sh -p 100 -b sh-fallback,sh-port
-a -t 10.0.0.3:0 -r 10.1.0.5:0 -g -w 2
-A -f 7 -s ovf
-a -f 7 -r 10.1.0.6:0 -g -w 5
-A -f 9 -6 -s mh -b mh-fallback,mh-port
-a -f 9 -6 -r [2001:db8::2]:80 -m -w 1
-a -f 9 -6 -r 10.1.0.9:0 -i -w 1 --tun-type ipip
-A -t [2001:db8::10]:80 -s sed -p 300 -M 64
-a -t [2001:db8::10]:80 -r [2001:db8::3]:80 -g -w 4
"""


def snapshot(netns):
    return netns.sh('; '.join('echo "== %s"; ipvsadm %s' % (args, args) for args in LISTINGS))


def table_listings(netns):
    return netns.sh('; '.join('echo "== %s"; ipvsadm %s' % (args, args) for args in LISTINGS[:4]))


def sync0(*namespaces):
    for ns in namespaces:
        ns.sh('ip link add sync0 type dummy && ip link set sync0 multicast on up')


@pytest.fixture
def spaces():
    made = []

    def make(prefix='tb'):
        ns = Netns(prefix)
        made.append(ns)
        return ns
    yield make
    for ns in made:
        ns.delete()


def four(args, netns):
    """check, real, again, check again; the check run's diff and result equal the real one's."""
    before = snapshot(netns)
    first = run('table', args, netns, check=True)
    assert 'failed' not in first, first
    assert snapshot(netns) == before, 'check mode changed the kernel'
    real = run('table', args, netns)
    assert 'failed' not in real, real
    assert (snapshot(netns) != before) == real['changed']
    for key in set(first) | set(real):
        if key not in ('invocation', 'requests', 'lock_waited'):
            assert first.get(key) == real.get(key), (key, first.get(key), real.get(key))
    after = snapshot(netns)
    again = run('table', args, netns)
    assert again.get('changed') is False and again.get('requests') == 0, again
    assert run('table', args, netns, check=True)['changed'] is False
    assert snapshot(netns) == after
    return first, real


def test_round_trip_with_ipvsadm_both_ways_and_export(spaces, tmp_path):
    adm, mod, restored = spaces('adm'), spaces('mod'), spaces('rst')
    sync0(mod, restored)
    adm.restore(SAVE_FILE)
    src = tmp_path / 'rules'
    src.write_text(SAVE_FILE)
    export = tmp_path / 'export.rules'
    first, real = four(dict(src=str(src), export=str(export), timeouts=dict(tcp=1000, udp=50)), mod)
    assert real['services_added'] == 8 and real['servers_added'] == 11 and real['export']['changed']
    assert mod.ipvsadm('-Sn') == adm.ipvsadm('-Sn')
    assert table_listings(mod) == table_listings(adm)
    # ipvsadm -Sn of the module's table, fed back to the module, changes nothing.
    src.write_text(mod.ipvsadm('-Sn'))
    assert run('table', dict(src=str(src)), mod)['changed'] is False
    # The kernel runs no sync daemon beside a real server of another family than its service.
    daemon = dict(role='master', mcast_interface='sync0', syncid=7)
    result = run('table', dict(daemons=[daemon]), mod)
    assert result['failed'] and 'another address family' in result['msg'], result
    # Thresholds are what -S loses: set some, then the export must carry them, and the daemon.
    web = dict(vip='10.0.0.1', vport=80, servers=[dict(rip='10.1.0.2', rport=8080, u_threshold=100, l_threshold=10)])
    four(dict(services=[dict(fwmark=9, family='ipv6', servers=[dict(rip='10.1.0.9', state='absent')]), web],
              daemons=[daemon], export=str(export)), mod)
    text = export.read_text()
    assert text.startswith('-C\n') and ' -x 100 -y 10' in text and '--set 1000 120 50\n' in text
    assert '--start-daemon master --mcast-interface sync0 --syncid 7' in text
    restored.restore(text)
    assert snapshot(restored) == snapshot(mod)


def test_an_export_to_a_read_only_filesystem_fails_before_any_change(spaces):
    """The VM's root filesystem is the host's, read-only: the export could only be written after the change."""
    if os.access(HERE, os.W_OK):
        pytest.fail('%s is writable: this test needs the read-only root of the test VM' % HERE, pytrace=False)
    mod = spaces('mod')
    mod.restore('-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 10.1.0.2:80 -m -w 1\n')
    before = snapshot(mod)
    args = dict(services=[dict(vip='10.0.0.1', vport=80, servers=[dict(rip='10.1.0.2', weight=5)])],
                timeouts=dict(tcp=1000), export=os.path.join(HERE, 'export.rules'))
    for check in (True, False):
        result = run('table', args, mod, check=check)
        assert result['failed'] and 'export: the directory %s is not writable' % HERE in result['msg'], result
        assert not result.get('changed') and snapshot(mod) == before


def test_hand_written_restore_file_with_long_options(spaces, tmp_path):
    adm, mod = spaces('adm'), spaces('mod')
    rules = ("# web\n--add-service --tcp-service 10.0.0.1:80 --scheduler wrr -p 60\n"
             "--add-server --tcp-service 10.0.0.1:80 --real-server 10.1.0.2:8080 --masquerading --weight 2 "
             "--u-threshold 50 --l-threshold 5\n"
             "-a -t 10.0.0.1:80 -r 10.1.0.3 -g\n")
    adm.restore(rules.split('\n', 1)[1])  # ipvsadm -R takes no comments
    src = tmp_path / 'rules'
    src.write_text(rules)
    four(dict(src=str(src)), mod)
    assert table_listings(mod) == table_listings(adm)


def test_services_purge_drain_state_absent_flush_zero_timeouts_daemons(spaces):
    ns = spaces()
    sync0(ns)
    ns.restore("-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.1.0.2 -g\n-a -t 10.0.0.1:80 -r 10.1.0.3 -g\n"
               "-A -t 10.0.0.2:80 -s rr\n-A -t 10.0.0.3:80 -s rr\n")
    web = dict(vip='10.0.0.1', vport=80, scheduler='wrr', servers=[
        dict(rip='10.1.0.2', weight=5), dict(rip='10.1.0.3', state='drained'), dict(rip='10.1.0.4', forward='masq')])
    first, real = four(dict(services=[web, dict(vip='10.0.0.2', vport=80, state='absent')],
                            timeouts=dict(tcp=800), daemons=[dict(role='backup', mcast_interface='sync0', syncid=4)]), ns)
    assert (real['services_changed'], real['services_removed'], real['servers_added'], real['servers_changed']) == (1, 1, 1, 2)
    assert first['diff']['before'] != first['diff']['after'] and '-A -t 10.0.0.2:80 -s rr\n' in first['diff']['before']
    assert '-a -t 10.0.0.1:80 -r 10.1.0.3:80 -g -w 0\n' in real['diff']['after']
    assert ns.ipvsadm('-Sn') == ("-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 10.1.0.2:80 -g -w 5\n"
                                 "-a -t 10.0.0.1:80 -r 10.1.0.3:80 -g -w 0\n-a -t 10.0.0.1:80 -r 10.1.0.4:80 -m -w 1\n"
                                 "-A -t 10.0.0.3:80 -s rr\n")
    assert 'backup sync daemon (mcast=sync0, syncid=4' in ns.ipvsadm('-L --daemon')
    # purge: what the table does not name goes, servers of listed services included.
    first, real = four(dict(services=[dict(vip='10.0.0.1', vport=80, servers=[dict(rip='10.1.0.2')])], purge=True), ns)
    assert (real['services_removed'], real['servers_removed']) == (1, 2)
    assert ns.ipvsadm('-Sn') == "-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 10.1.0.2:80 -g -w 5\n"
    # zero: counters of every service; a change only while they are not zero.
    first, real = four(dict(zero_stats=True), ns)
    assert real['changed'] is False  # nothing has been counted yet
    # flushed: ipvsadm -C; timeouts and daemons stay.
    first, real = four(dict(state='flushed'), ns)
    assert real['services_removed'] == 1 and ns.ipvsadm('-Sn') == ''
    assert 'syncid=4' in ns.ipvsadm('-L --daemon') and '800 120 300' in ns.ipvsadm('-L --timeout')


def test_atomic_the_4000th_change_rejected_leaves_everything_as_it_was(spaces):
    ns = spaces()
    sync0(ns)
    ns.restore("-A -t 10.200.0.1:80 -s rr\n-a -t 10.200.0.1:80 -r 10.1.0.2:80 -g -w 7\n")
    run('table', dict(timeouts=dict(tcp=1234), daemons=[dict(role='master', mcast_interface='sync0', syncid=9)],
                      services=[dict(vip='10.200.0.2', vport=80, servers=[dict(rip='10.1.0.2', u_threshold=9)])]), ns)
    before = snapshot(ns)
    services = [dict(vip='10.%d.%d.1' % (i // 250, i % 250), vport=80, scheduler='rr',
                     servers=[dict(rip='10.1.0.%d' % j) for j in range(2, 5)]) for i in range(1000)]
    services[-1]['scheduler'] = 'nosuch'  # change 3997 of 4000; its three servers follow it
    services.append(dict(vip='10.200.0.1', vport=80, servers=[dict(rip='10.1.0.2', weight=1)]))
    result = run('table', dict(services=services, timeouts=dict(tcp=99), purge=True,
                               daemons=[dict(role='master', state='absent')]), ns)
    assert result['failed'] and "virtual service TCP 10.3.249.1:80: scheduler 'nosuch' is not available" in result['msg']
    assert 'were undone, the table is as it was' in result['msg'], result['msg']
    assert result.get('changed') in (None, False) and 'applied' not in result
    assert result['not_applied'][0]['change'] == 'add virtual service TCP 10.3.249.1:80'
    assert snapshot(ns) == before
    # atomic=false keeps what worked and says so.
    result = run('table', dict(services=services[-3:], atomic=False), ns)
    assert result['failed'] and result['changed'] is True
    assert 'add virtual service TCP 10.3.248.1:80' in result['applied']


def test_changes_in_place_under_traffic_lose_no_request():
    topo = Topology('nat')
    try:
        rs1, rs2 = '10.21.0.2', '10.22.0.2'
        run('table', dict(services=[dict(vip=VIP, vport=80, scheduler='wrr', servers=[
            dict(rip=rs1, forward='masq', weight=1), dict(rip=rs2, forward='masq', weight=1)]),
            dict(vip=VIP, vport=81, scheduler='rr')]), topo.lb)
        # The client streams requests from a process of its own while the module runs here.
        out = '/tmp/stream-%s' % topo.cli.name
        stream = subprocess.Popen(['ip', 'netns', 'exec', topo.cli.name, 'sh', '-c',
                                   'while [ ! -e %s.stop ]; do curl -s -m 5 http://%s/ || echo FAIL; done > %s'
                                   % (out, VIP, out)])
        try:
            time.sleep(3)
            for servers, sched in (([dict(rip=rs1, weight=3), dict(rip=rs2, state='drained')], 'sh'),
                                   ([dict(rip=rs1, weight=1, u_threshold=1000), dict(rip=rs2, weight=2)], 'lc'),
                                   ([dict(rip=rs2, weight=5), dict(rip='10.22.0.9', forward='masq', weight=0)], 'rr')):
                result = run('table', dict(services=[dict(vip=VIP, vport=80, servers=servers),
                                                     dict(vip=VIP, vport=81, scheduler=sched)]), topo.lb)
                assert result['changed'] and result['services_removed'] == 0 and 'failed' not in result, result
                time.sleep(2)
        finally:
            open(out + '.stop', 'w').close()
            stream.wait(timeout=60)
        with open(out) as f:
            outcome = f.read().split()
        assert len(outcome) >= 5 and 'FAIL' not in outcome, outcome
        assert set(outcome) <= {'rs1', 'rs2'}
    finally:
        topo.close()


def holds_open(pid, path):
    try:
        fds = os.listdir('/proc/%d/fd' % pid)
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink('/proc/%d/fd/%s' % (pid, fd)) == path:
                return True
        except OSError:
            pass
    return False


def test_two_runs_at_once_take_turns(spaces, tmp_path):
    ns = spaces()
    tables = []
    for n in range(2):
        services = [dict(vip='10.%d.%d.1' % (n + 1, i), vport=80, servers=[dict(rip='10.9.%d.%d' % (n, i))])
                    for i in range(150)]
        tables.append(dict(services=services, purge=True))
    script = ("import json, sys; sys.path[:0] = [%r, %r]; import conftest; from lvs_testlib import Netns, run_module; "
              "ns = Netns.__new__(Netns); ns.name = sys.argv[1]; "
              "print(json.dumps(run_module('table', json.load(open(sys.argv[2])), ns)))"
              % (os.path.dirname(HERE), HERE))
    from ansible_collections.lvs.ipvs.plugins.module_utils._table import NamespaceLock
    held = NamespaceLock(ns.name, 10).acquire()  # both runs start while a third holds the table
    procs = []
    try:
        for n, table in enumerate(tables):
            path = tmp_path / ('t%d.json' % n)
            path.write_text(json.dumps(table))
            procs.append(subprocess.Popen([sys.executable, '-c', script, ns.name, str(path)], stdout=subprocess.PIPE,
                                          universal_newlines=True))
        deadline = time.time() + 300
        while time.time() < deadline and not all(holds_open(p.pid, held.path) for p in procs):
            time.sleep(0.2)
        time.sleep(1.5)  # both are waiting now: each must wait at least this long
    finally:
        held.release()
    results = [json.loads(p.communicate(timeout=600)[0]) for p in procs]
    assert all(not r.get('failed') for r in results), results
    saved = ns.ipvsadm('-Sn')
    complete = [n for n in range(2) if saved.count('-A ') == 150 and saved.count('10.%d.' % (n + 1)) == 300]
    assert len(complete) == 1, saved
    for r in results:
        assert r['lock_waited'] >= 1 and 'waited' in json.dumps(r.get('warnings')), r


@pytest.mark.parametrize('fmt,text,words', [
    ('ipvsadm', "-A -t 10.0.0.5:80 -s rr\n-a -t 10.0.0.5:80 -r 10.1.0.2 -g -w lots\n", 'line 2: weight must be a number'),
    ('ipvsadm', "-A -t 10.0.0.5:80 -s rr\n-E -t 10.0.0.5:80 -s wrr\n", 'line 2: only -A (add service)'),
    ('ipvsadm', "-A -t 10.0.0.5:80\n-a -t 10.0.0.6:80 -r 10.1.0.2\n", 'line 2: real server for TCP 10.0.0.6:80'),
    ('yaml', "services:\n  - vip: 10.0.0.5\n    vport: 80\n    servers:\n      - {rip: 10.1.0.2, wieght: 3}\n",
     "src: services[0].servers[0]: unsupported option wieght"),
    ('yaml', "services:\n  - {vip: 10.0.0.5, vport: 80, scheduler: rr}\n  - {vip: 10.0.0.6, vport: http}\n",
     "src: services[1].vport must be of type int"),
    ('json', '{"services": [{"vip": "10.0.0.5", "vport": 80}], "timeouts": {"tcp": -1}}', 'src: timeouts.tcp must be between'),
    ('json', '{"services": [{"vip": "10.0.0.5", "vport": 80}], "extra": 1}', 'src: unknown key extra'),
    ('json', '{"services": [', 'is not valid JSON'),
])
def test_bad_files_name_the_line_or_key_and_change_nothing(spaces, tmp_path, fmt, text, words):
    ns = spaces()
    ns.restore("-A -t 10.0.0.1:80 -s rr\n")
    before = snapshot(ns)
    src = tmp_path / ('bad.' + fmt)
    src.write_text(text)
    result = run('table', dict(src=str(src), purge=True), ns)
    assert result.get('failed') and words in result['msg'], result
    assert 'Traceback' not in result['msg'] and snapshot(ns) == before
