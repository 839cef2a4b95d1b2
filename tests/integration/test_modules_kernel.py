# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The resource modules against the real kernel, in-process (an Ansible task
costs seconds in the emulated VM; test_modules_playbook.py covers that path).

Each scenario runs the module tasks four times (check, real, again, check)
in one namespace and the equivalent ipvsadm commands in another; the two
tables must read the same through ipvsadm -Sn, -Ln --thresholds and
--tun-info (and --timeout, --daemon).
"""

import pytest

import cases
from lvs_testlib import Netns, run_module as run

LISTINGS = ('-Sn', '-Ln --thresholds', '-Ln --tun-info', '-Ln --persistent-conn', '-L --timeout', '-L --daemon')


def snapshot(netns):
    """Every listing, read in one shell (each process start costs in the emulated VM)."""
    return netns.sh('; '.join('echo "== %s"; ipvsadm %s' % (args, args) for args in LISTINGS))


def four(name, args, netns):
    """check, real, again, check again; returns (check result, real result)."""
    before = snapshot(netns)
    first = run(name, args, netns, check=True)
    assert 'failed' not in first, first
    assert snapshot(netns) == before, 'check mode changed the kernel'
    real = run(name, args, netns)
    assert 'failed' not in real, real
    for key in set(first) | set(real):  # the prediction is the outcome, field by field
        if key not in ('invocation', 'warnings'):
            assert first.get(key) == real.get(key), (key, first.get(key), real.get(key))
    assert (snapshot(netns) != before) == real['changed'], 'changed does not match what the kernel did'
    after = snapshot(netns)
    again = run(name, args, netns)
    assert again['changed'] is False, again
    assert run(name, args, netns, check=True)['changed'] is False
    assert snapshot(netns) == after
    return first, real


@pytest.fixture
def pair():
    a, b = Netns('mod'), Netns('adm')
    for ns in (a, b):
        ns.sh('ip link add sync0 type dummy && ip link set sync0 multicast on up && ip addr add 10.9.0.1/24 dev sync0')
    yield a, b
    a.delete()
    b.delete()


SCENARIOS = {
    'nat-wrr-thresholds': (
        [('service', dict(vip='10.0.0.1', vport=80, scheduler='wrr', servers=[
            dict(rip='10.1.0.2', rport=8080, forward='masq', weight=3),
            dict(rip='10.1.0.3', forward='masq', u_threshold=100, l_threshold=10)]))],
        ['-A -t 10.0.0.1:80 -s wrr', '-a -t 10.0.0.1:80 -r 10.1.0.2:8080 -m -w 3',
         '-a -t 10.0.0.1:80 -r 10.1.0.3:80 -m -w 1 -x 100 -y 10']),
    'persistent-sh-flags': (
        [('service', dict(vip='10.0.0.1', vport=443, scheduler='sh', sched_flags=['sh-fallback', 'sh-port'],
                          persistent=True, persistence_timeout=600, netmask='24')),
         ('server', dict(vip='10.0.0.1', vport=443, rip='10.1.0.2'))],
        ['-A -t 10.0.0.1:443 -s sh -b sh-fallback,sh-port -p 600 -M 255.255.255.0',
         '-a -t 10.0.0.1:443 -r 10.1.0.2 -g']),
    'udp-pe-one-packet-port-zero': (
        [('service', dict(vip='10.0.0.1', vport=5060, protocol='udp', scheduler='rr', persistent=True, pe='sip',
                          one_packet=True)),
         ('service', dict(vip='10.0.0.2', vport=0, protocol='udp', persistent=True))],
        ['-A -u 10.0.0.1:5060 -s rr -p --pe sip -o', '-A -u 10.0.0.2:0 -s wlc -p']),
    'tunnels': (
        [('service', dict(vip='10.0.0.1', vport=3868, protocol='sctp', scheduler='lc')),
         ('server', dict(vip='10.0.0.1', vport=3868, protocol='sctp', rip='10.1.0.2', forward='tun')),
         ('server', dict(vip='10.0.0.1', vport=3868, protocol='sctp', rip='10.1.0.3', forward='tun',
                         tun_type='gue', tun_port=6080, tun_csum='remcsum', weight=2)),
         ('server', dict(vip='10.0.0.1', vport=3868, protocol='sctp', rip='10.1.0.4', forward='tun',
                         tun_type='gre', tun_csum='csum'))],
        ['--add-service --sctp-service 10.0.0.1:3868 -s lc', '-a --sctp-service 10.0.0.1:3868 -r 10.1.0.2 -i',
         '-a --sctp-service 10.0.0.1:3868 -r 10.1.0.3 -i -w 2 --tun-type gue --tun-port 6080 --tun-remcsum',
         '-a --sctp-service 10.0.0.1:3868 -r 10.1.0.4 -i --tun-type gre --tun-csum']),
    'ipv6-fwmark-mixed-family': (
        [('service', dict(fwmark=9, family='ipv6', scheduler='mh', sched_flags=['mh-port'])),
         ('server', dict(fwmark=9, family='ipv6', rip='2001:db8::2', rport=80)),
         ('server', dict(fwmark=9, family='ipv6', rip='10.1.0.9', forward='tun')),
         ('service', dict(vip='2001:db8::10', vport=80, scheduler='sed', persistent=True, netmask='64'))],
        ['-A -f 9 -6 -s mh -b mh-port', '-a -f 9 -6 -r [2001:db8::2]:80 -g', '-a -f 9 -6 -r 10.1.0.9 -i',
         '-A -t [2001:db8::10]:80 -s sed -p -M 64']),
    'update-drain-remove': (
        [('service', dict(vip='10.0.0.1', vport=80, servers=[
            dict(rip='10.1.0.2', forward='masq'), dict(rip='10.1.0.3', forward='masq')])),
         ('service', dict(vip='10.0.0.1', vport=80, scheduler='nq', persistent=True)),
         ('server', dict(vip='10.0.0.1', vport=80, rip='10.1.0.2', state='drained')),
         ('server', dict(vip='10.0.0.1', vport=80, rip='10.1.0.3', state='absent')),
         ('service', dict(vip='10.0.0.1', vport=80, persistent=False, servers=[
             dict(rip='10.1.0.4', forward='masq', weight=5)], purge_servers=True))],
        ['-A -t 10.0.0.1:80 -s nq', '-a -t 10.0.0.1:80 -r 10.1.0.4 -m -w 5']),
    'timeouts-and-daemons': (
        [('timeout', dict(tcp=1000, tcpfin=100, udp=50)),
         ('daemon', dict(role='master', mcast_interface='sync0', syncid=42, sync_maxlen=1400,
                         mcast_group='239.0.0.42', mcast_port=8850, mcast_ttl=3)),
         ('daemon', dict(role='backup', mcast_interface='sync0', syncid=42))],
        ['--set 1000 100 50', '--start-daemon master --mcast-interface sync0 --syncid 42 --sync-maxlen 1400 '
         '--mcast-group 239.0.0.42 --mcast-port 8850 --mcast-ttl 3',
         '--start-daemon backup --mcast-interface sync0 --syncid 42']),
}


@pytest.mark.parametrize('name', sorted(SCENARIOS))
def test_modules_build_what_ipvsadm_builds(pair, name):
    tasks, commands = SCENARIOS[name]
    mod_ns, adm_ns = pair
    for module, args in tasks:
        four(module, args, mod_ns)
    for cmd in commands:
        adm_ns.ipvsadm(cmd)
    assert snapshot(mod_ns) == snapshot(adm_ns)


def test_service_diff_and_result_shape(netns):
    first, real = four('service', dict(vip='10.0.0.1', vport=80, scheduler='wrr',
                                       servers=[dict(rip='10.1.0.2', forward='masq', weight=3)]), netns)
    assert first['diff']['before'] == {} and first['diff']['after']['servers'][0]['weight'] == 3
    assert real['service']['servers'][0]['rip'] == '10.1.0.2'
    # Options left out keep what the real server has (forward, weight, thresholds).
    first, real = four('service', dict(vip='10.0.0.1', vport=80, servers=[dict(rip='10.1.0.2', u_threshold=50)]), netns)
    assert first['diff']['before']['servers'][0]['u_threshold'] == 0 and first['diff']['after']['servers'][0] == dict(
        first['diff']['before']['servers'][0], u_threshold=50)
    first, real = four('service', dict(vip='10.0.0.1', vport=80, servers=[dict(rip='10.1.0.2', weight=1)]), netns)
    assert first['diff']['before']['servers'][0]['weight'] == 3 and first['diff']['after']['servers'][0]['weight'] == 1
    info = run('info', dict(gather=['services']), netns)
    assert info['ipvs']['services'][0]['servers'][0]['weight'] == 1
    assert netns.ipvsadm('-Ln --thresholds').count('50') == 1 and '-m -w 1' in netns.ipvsadm('-Sn')


def test_daemon_restart_is_reported(netns):
    netns.sh('ip link add sync0 type dummy && ip link set sync0 multicast on up')
    four('daemon', dict(role='master', mcast_interface='sync0', syncid=1), netns)
    first, real = four('daemon', dict(role='master', mcast_interface='sync0', syncid=2), netns)
    assert 'restarted' in real['msg'] and first['diff']['before']['syncid'] == 1
    assert netns.ipvsadm('-L --daemon').startswith('master sync daemon (mcast=sync0, syncid=2')
    four('daemon', dict(role='master', state='absent'), netns)
    assert netns.ipvsadm('-L --daemon') == ''


def test_local_and_bypass_forwarding_read_back(netns):
    four('service', dict(vip='10.0.0.1', vport=80, servers=[dict(rip='127.0.0.1', forward='local'),
                                                            dict(rip='10.1.0.5', forward='bypass')]), netns)
    servers = run('info', dict(gather=['services']), netns)['ipvs']['services'][0]['servers']
    assert sorted(s['forward'] for s in servers) == ['bypass', 'local']


def _bad_inputs(module, bad_cases, base=None):
    """Each case fails with its words, and the table reads the same after it."""
    ns = Netns('bad')
    try:
        ns.ipvsadm('-A -t 192.0.2.10:80 -s wlc')
        before = snapshot(ns)
        for args, message in bad_cases:
            result = run(module, cases.merged(base or {}, args), ns)
            assert result.get('failed') and message in result['msg'], (args, result)
            assert 'Traceback' not in result['msg'] and 'exception' not in result, result
            assert snapshot(ns) == before, args
    finally:
        ns.delete()


def test_service_bad_input_on_the_kernel():
    _bad_inputs('service', cases.SERVICE_BAD + [
        (dict(vip='192.0.2.1', vport=80, scheduler='nosuch'), "scheduler 'nosuch' is not available")])


def test_server_bad_input_on_the_kernel():
    _bad_inputs('server', cases.SERVER_BAD, dict(vip='192.0.2.10', vport=80))


def test_daemon_bad_input_on_the_kernel():
    _bad_inputs('daemon', cases.DAEMON_BAD + [
        (dict(role='master', mcast_interface='nosuch0'), "mcast_interface: there is no network interface 'nosuch0'")])


def test_timeout_and_laddr_bad_input_on_the_kernel():
    _bad_inputs('timeout', cases.TIMEOUT_BAD)
    _bad_inputs('laddr', cases.LADDR_BAD, dict(vip='192.0.2.10', vport=80))
