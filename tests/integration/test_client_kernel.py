# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The client against a real IPVS kernel, cross-checked with ipvsadm both ways."""

import errno
import glob
import os
import re

import pytest

from ansible_collections.lvs.ipvs.plugins.module_utils import _save
from ansible_collections.lvs.ipvs.plugins.module_utils._errors import IpvsError
from ansible_collections.lvs.ipvs.plugins.module_utils._model import (
    F_ONEPACKET, F_PERSISTENT, SCHEDULERS, Daemon, make_server, make_service,
)

# Each set is written as `ipvsadm -Sn` prints it: sorted, canonical.
RULES_V4 = """\
-A -t 10.0.0.1:80 -s wrr
-a -t 10.0.0.1:80 -r 10.1.0.2:8080 -m -w 3
-a -t 10.0.0.1:80 -r 10.1.0.3:80 -g -w 1
-A -t 10.0.0.1:443 -s sh -p 600 -M 255.255.255.0 -b sh-fallback,sh-port
-a -t 10.0.0.1:443 -r 10.1.0.4:443 -i -w 2 --tun-type ipip
-a -t 10.0.0.1:443 -r 10.1.0.5:443 -i -w 1 --tun-type gue --tun-port 6080 --tun-remcsum
-a -t 10.0.0.1:443 -r 10.1.0.6:443 -i -w 1 --tun-type gre --tun-csum
-A -u 10.0.0.1:53 -s rr -o
-a -u 10.0.0.1:53 -r 10.1.0.2:53 -m -w 0
-A -u 10.0.0.1:5060 -s rr -p 360 --pe sip
-A --sctp-service 10.0.0.1:3868 -s mh -b mh-fallback,mh-port
-A -f 7 -s lc -p 360
-a -f 7 -r 10.1.0.2:0 -g -w 5
"""

RULES_V6 = """\
-A -t [2001:db8::10]:80 -s wlc -p 360 -M 64
-a -t [2001:db8::10]:80 -r 10.1.0.9:80 -i -w 1 --tun-type ipip
-a -t [2001:db8::10]:80 -r [2001:db8::2]:80 -m -w 1
-A -u [2001:db8::10]:53 -s dh
-a -u [2001:db8::10]:53 -r [2001:db8::3]:5353 -m -w 7
-A -f 8 -6 -s rr -b flag-1
"""

RULE_SETS = {'ipv4': RULES_V4, 'ipv6': RULES_V6}


def ln_rows(text):
    """Real-server rows of `ipvsadm -Ln ...`: address -> remaining columns."""
    rows = {}
    for line in text.splitlines():
        if line.startswith('  -> ') and 'RemoteAddress' not in line:
            parts = line.split()
            rows[parts[1]] = parts[2:]
    return rows


@pytest.mark.parametrize('name', sorted(RULE_SETS))
def test_client_writes_what_ipvsadm_reads(client, netns, name):
    rules = RULE_SETS[name]
    assert client.add_table(_save.parse(rules)) == []
    assert netns.ipvsadm('-Sn') == rules
    assert _save.emit(client.table()) == rules


@pytest.mark.parametrize('name', sorted(RULE_SETS))
def test_client_reads_what_ipvsadm_writes(client, netns, name):
    rules = RULE_SETS[name]
    netns.restore(rules)
    table = client.table()
    assert _save.emit(table) == netns.ipvsadm('-Sn') == rules
    assert sum(len(servers) for _svc, servers in table) == rules.count('\n-a ')


def test_thresholds_tunnels_and_connection_counts_match_ipvsadm_listings(client, netns):
    svc = make_service(family='ipv4', protocol='tcp', vip='10.0.0.1', vport=80, scheduler='wlc')
    servers = [make_server('10.1.0.2', 80, forward='masq', weight=2, u_threshold=70000, l_threshold=300),
               make_server('10.1.0.3', 80, forward='tun', tun_type='gue', tun_port=6081, tun_csum='csum'),
               make_server('10.1.0.4', 80, forward='tun', tun_type='gre')]
    assert client.add_table([(svc, servers)]) == []
    thresholds = ln_rows(netns.ipvsadm('-Ln --thresholds'))
    assert thresholds['10.1.0.2:80'][:2] == ['70000', '300']
    tun = ln_rows(netns.ipvsadm('-Ln --tun-info'))
    assert tun['10.1.0.3:80'][:3] == ['Tunnel', 'gue:6081:+c', '1']
    assert tun['10.1.0.4:80'][:2] == ['Tunnel', 'gre:-c']
    got = dict((s.rip, s) for s in client.servers(svc.key))
    assert got['10.1.0.2'].config() == servers[0].config()
    assert got['10.1.0.3'].config() == servers[1].config()
    assert got['10.1.0.4'].config() == servers[2].config()
    netns.ipvsadm('-e -t 10.0.0.1:80 -r 10.1.0.2:80 -m -w 4 -x 10 -y 2')
    again = dict((s.rip, s) for s in client.servers(svc.key))['10.1.0.2']
    assert (again.weight, again.u_threshold, again.l_threshold) == (4, 10, 2)


def test_edit_changes_only_the_flags_in_the_mask(client, netns):
    netns.ipvsadm('-A -u 10.0.0.1:53 -s rr -p 100 -o')
    svc = client.service(('ipv4', 'udp', '10.0.0.1', 53, None))
    assert svc.persistent and svc.one_packet and svc.timeout == 100
    client.edit_service(svc._replace(flags=0, scheduler='wrr'), mask=F_ONEPACKET)
    after = client.service(svc.key)
    assert after.flags == F_PERSISTENT and after.scheduler == 'wrr'
    assert netns.ipvsadm('-Sn') == '-A -u 10.0.0.1:53 -s wrr -p 100\n'
    assert client.service(('ipv4', 'udp', '10.0.0.2', 53, None)) is None


@pytest.mark.parametrize('scheduler', SCHEDULERS)
def test_every_scheduler_the_kernel_has(client, netns, scheduler):
    svc = make_service(family='ipv4', protocol='tcp', vip='10.0.0.1', vport=80, scheduler=scheduler)
    shipped = glob.glob('/lib/modules/%s/kernel/net/netfilter/ipvs/ip_vs_%s.ko*' % (os.uname().release, scheduler))
    if shipped:
        client.add_service(svc)
        assert client.services()[0].scheduler == scheduler
        assert netns.ipvsadm('-Sn') == '-A -t 10.0.0.1:80 -s %s\n' % scheduler
    else:
        with pytest.raises(IpvsError, match="scheduler '%s' is not available" % scheduler):
            client.add_service(svc)


def test_timeouts_both_ways(client, netns):
    client.set_timeouts(tcp=1000, tcpfin=100, udp=50)
    assert netns.ipvsadm('-L --timeout') == 'Timeout (tcp tcpfin udp): 1000 100 50\n'
    client.set_timeouts(udp=70)            # the others stay as they are
    assert tuple(client.timeouts()) == (1000, 100, 70)
    netns.ipvsadm('--set 900 120 300')
    assert tuple(client.timeouts()) == (900, 120, 300)


def test_sync_daemons_both_ways(client, netns):
    netns.sh('ip link add sync0 type dummy && ip link set sync0 multicast on up && '
             'ip addr add 10.9.0.1/24 dev sync0')
    client.start_daemon(Daemon('master', 'sync0', 42, 1400, '239.0.0.42', 8850, 3))
    assert netns.ipvsadm('-L --daemon') == (
        'master sync daemon (mcast=sync0, syncid=42, maxlen=1400, group=239.0.0.42, port=8850, ttl=3)\n')
    (d,) = client.daemons()
    assert d == Daemon('master', 'sync0', 42, 1400, '239.0.0.42', 8850, 3)
    with pytest.raises(IpvsError, match='already running'):
        client.start_daemon(Daemon('master', 'sync0', 1, None, None, None, None))
    client.stop_daemon('master')
    assert client.daemons() == [] and netns.ipvsadm('-L --daemon') == ''
    netns.ipvsadm('--start-daemon backup --mcast-interface sync0 --syncid 9')
    (d,) = client.daemons()
    assert (d.role, d.mcast_interface, d.syncid, d.mcast_group, d.mcast_port) == ('backup', 'sync0', 9, '224.0.0.81', 8848)
    with pytest.raises(IpvsError, match='no master sync daemon is running'):
        client.stop_daemon('master')
    with pytest.raises(IpvsError, match='no such network interface'):
        client.start_daemon(Daemon('master', 'nosuch0', 1, None, None, None, None))


def test_info_zero_flush(client, netns):
    info = client.info()
    header = netns.ipvsadm('-Ln').splitlines()[0]
    assert header == 'IP Virtual Server version %s (size=%d)' % (info.version, info.conn_table_size)
    netns.restore(RULES_V4)
    client.zero(('ipv4', 'tcp', '10.0.0.1', 80, None))
    client.zero()
    client.flush()
    assert client.services() == [] and netns.ipvsadm('-Sn') == ''


def test_kernel_errors_in_an_operators_words(client, netns):
    svc = make_service(family='ipv4', protocol='tcp', vip='10.0.0.1', vport=80)
    client.add_service(svc)
    with pytest.raises(IpvsError, match=r'virtual service TCP 10\.0\.0\.1:80 already exists') as e:
        client.add_service(svc)
    assert e.value.errno == errno.EEXIST
    srv = make_server('10.1.0.2', 80, forward='masq')
    client.add_server(svc.key, srv)
    with pytest.raises(IpvsError, match=r'real server 10\.1\.0\.2:80 already exists in TCP 10\.0\.0\.1:80'):
        client.add_server(svc.key, srv)
    missing = ('ipv4', 'udp', '10.0.0.9', 53, None)
    with pytest.raises(IpvsError, match=r'virtual service UDP 10\.0\.0\.9:53 does not exist'):
        client.add_server(missing, srv)
    with pytest.raises(IpvsError, match=r'real server 10\.1\.0\.7:80 does not exist in TCP 10\.0\.0\.1:80'):
        client.delete_server(svc.key, make_server('10.1.0.7', 80))
    with pytest.raises(IpvsError, match=r"scheduler 'nosuch' is not available \(is the ip_vs_nosuch module loaded\?\)"):
        client.add_service(make_service(family='ipv4', protocol='tcp', vip='10.0.0.2', vport=80, scheduler='nosuch'))
    with pytest.raises(IpvsError, match='another address family'):
        client.add_server(svc.key, make_server('2001:db8::1', 80, forward='masq'))
    with pytest.raises(IpvsError, match='does not exist'):
        client.delete_service(missing)
    # Nothing above left a trace.
    assert netns.ipvsadm('-Sn') == '-A -t 10.0.0.1:80 -s wlc\n-a -t 10.0.0.1:80 -r 10.1.0.2:80 -m -w 1\n'


def test_a_batch_reports_each_failure_and_keeps_the_rest(client, netns):
    svc = make_service(family='ipv4', protocol='tcp', vip='10.0.0.1', vport=80)
    dup = make_server('10.1.0.2', 80, forward='masq')
    errors = client.add_table([(svc, [dup, dup, make_server('10.1.0.3', 80, forward='masq')])])
    assert [e.errno for e in errors] == [errno.EEXIST]
    assert len(client.servers(svc.key)) == 2


def test_no_fullnat_on_mainline(client):
    assert not client.supports_laddr
    with pytest.raises(IpvsError, match='no FULLNAT local-address support'):
        client.laddrs(('ipv4', 'tcp', '10.0.0.1', 80, None))
    with pytest.raises(IpvsError, match='no FULLNAT local-address support'):
        client.add_laddr(('ipv4', 'tcp', '10.0.0.1', 80, None), '10.2.0.1')


def test_large_table_pipelines_and_reads_back(client, netns):
    table = []
    for i in range(600):
        svc = make_service(family='ipv4', protocol='tcp', vip='10.%d.%d.1' % (i // 250, i % 250), vport=80)
        table.append((svc, [make_server('10.%d.%d.%d' % (200 + j, i // 250, i % 250), 80, forward='masq', weight=j + 1)
                            for j in range(3)]))
    assert client.add_table(table) == []
    got = client.table(with_stats=False)
    assert len(got) == 600 and all(len(s) == 3 for _v, s in got)
    assert _save.emit(got) == netns.ipvsadm('-Sn')
    assert len(re.findall('^-a ', netns.ipvsadm('-Sn'), re.M)) == 1800
