# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The roles on a fleet: lvs.ipvs.site configures two directors and a DR real server,
traffic flows in the ratio of the weights, a re-run changes nothing, a check run
predicts a change exactly, connections survive a failover, and reboots bring
everything back by themselves.

The topology and the backends are scenery.py's.

The tests run in file order and build on each other (one fleet, booted once).
"""

import os
import time

import pytest

import scenery
from scenery import CLIENT_NAT_IP, DR_VIP, ECHO_VIP, NAT_VIP, requests


def table(fleet, host):
    return fleet.ssh(host, 'ipvsadm -Sn').stdout


def state(fleet, host):
    """What the roles set up on a host, read with the system's own tools, and the files they wrote."""
    return fleet.ssh(host, ' ; '.join([
        'ipvsadm -Sn', 'ipvsadm -L --timeout', 'ipvsadm -L --daemon',
        "ip -o -4 addr show dev lo | awk '{print $2, $4}'",
        "ip -o -4 addr show dev lvs0 2>/dev/null | awk '{print $2, $4}'",
        'sysctl net.ipv4.ip_forward net.ipv4.conf.all.arp_ignore net.ipv4.conf.all.arp_announce',
        'sysctl -a 2>/dev/null | grep "^net.ipv4.vs.\\(conntrack\\|expire\\)" || true',
        'grep -o "^ip_vs[a-z_]*" /proc/modules | sort',
        'systemctl is-enabled lvs-ipvs.service lvs-real-server.service 2>/dev/null || true',
        'grep -H . /etc/modules-load.d/lvs-* /etc/sysctl.d/60-lvs-* 2>/dev/null || true',
        'md5sum /etc/lvs-ipvs.rules /etc/systemd/system/lvs-*.service 2>/dev/null || true',
    ])).stdout


def test_site_configures_directors_and_real_servers(fleet, playbooks):
    """--check --diff on new hosts predicts the first run exactly and changes nothing; then the
    first run configures everything, and traffic flows in the ratio of the weights."""
    hosts = ('lb1', 'lb2', 'rs1')
    before = dict((h, state(fleet, h)) for h in hosts)
    check = playbooks.run('--check', '--diff')
    assert dict((h, state(fleet, h)) for h in hosts) == before, 'check mode changed a host'
    run = playbooks.run('--diff')
    assert check.changed_tasks() == run.changed_tasks()
    assert check.diffs() == run.diffs()
    recap = run.recap()
    assert sorted(recap) == ['lb1', 'lb2', 'rs1'], run.out[-2000:]
    assert all(r['failed'] == 0 and r['changed'] > 0 for r in recap.values()), recap
    scenery.set_up(fleet)

    expected_rules = '\n'.join([
        '-A -t 203.0.113.10:80 -s wrr',
        '-a -t 203.0.113.10:80 -r 192.0.2.13:80 -g -w 3',
        '-a -t 203.0.113.10:80 -r 192.0.2.22:80 -g -w 1',
        '-A -t 203.0.113.20:80 -s rr',
        '-a -t 203.0.113.20:80 -r 192.0.2.13:8080 -m -w 1',
        '-a -t 203.0.113.20:80 -r 192.0.2.22:8080 -m -w 1',
        '-A -t 203.0.113.30:7000 -s wlc',
        '-a -t 203.0.113.30:7000 -r 192.0.2.13:7000 -g -w 1',
    ]) + '\n'
    for lb in ('lb1', 'lb2'):
        assert table(fleet, lb) == expected_rules, lb
    lb1, lb2, rs1 = state(fleet, 'lb1'), state(fleet, 'lb2'), state(fleet, 'rs1')
    assert 'master sync daemon (mcast=front, syncid=10' in lb1
    assert 'backup sync daemon (mcast=front, syncid=10' in lb2
    for s in (lb1, lb2):
        assert 'Timeout (tcp tcpfin udp): 900 120 300' in s
        assert 'lvs0 203.0.113.10/32\nlvs0 203.0.113.20/32\nlvs0 203.0.113.30/32\n' in s
        # NAT is used: forwarding and conntrack; VIPs routed to the active director: no ARP for them.
        for line in ('net.ipv4.ip_forward = 1', 'net.ipv4.conf.all.arp_ignore = 1', 'net.ipv4.conf.all.arp_announce = 2',
                     'net.ipv4.vs.conntrack = 1', 'net.ipv4.vs.expire_nodest_conn = 1',
                     'net.ipv4.vs.expire_quiescent_template = 1'):
            assert line in s
        # ip_vs and exactly the schedulers the services use, now and at boot (the kernel would load a
        # scheduler by itself when a service needs it: the file is what the role adds).
        assert [m for m in s.split() if m.startswith('ip_vs')] == ['ip_vs', 'ip_vs_rr', 'ip_vs_wlc', 'ip_vs_wrr'], s
        assert ''.join('/etc/modules-load.d/lvs-ipvs.conf:%s\n' % m for m in ('ip_vs', 'ip_vs_wrr', 'ip_vs_rr', 'ip_vs_wlc')) in s
        assert '/etc/sysctl.d/60-lvs-ipvs.conf:net.ipv4.vs.conntrack = 1\n' in s
    assert 'lo 127.0.0.1/8\nlo 203.0.113.10/32\nlo 203.0.113.30/32\n' in rs1
    assert 'net.ipv4.conf.all.arp_ignore = 1' in rs1 and 'net.ipv4.conf.all.arp_announce = 2' in rs1

    # DR, wrr 3:1: every real server answers, in the ratio of the weights.
    assert requests(fleet, 'http://%s/' % DR_VIP, 40) == {'rs1': 30, 'rs2': 10}
    # NAT through lb1, rr.
    assert requests(fleet, 'http://%s/' % NAT_VIP, 20, source=CLIENT_NAT_IP) == {'rs1': 10, 'rs2': 10}


def test_module_view_matches_ipvsadm_on_every_director(fleet, ansible_adhoc):
    """pytest-ansible's ad-hoc runner over the fleet's inventory: ipvs_info agrees with ipvsadm."""
    directors = ansible_adhoc(inventory=fleet.inventory, host_pattern='lvs_directors')['lvs_directors']
    results = getattr(directors, 'lvs.ipvs.ipvs_info')(gather=['rules', 'timeouts', 'daemons'])
    for host in ('lb1', 'lb2'):
        res = results[host]
        assert not res.get('failed'), res
        assert res['ipvs']['rules'] == table(fleet, host)
        assert res['ipvs']['timeouts'] == {'tcp': 900, 'tcpfin': 120, 'udp': 300}
        assert [d['role'] for d in res['ipvs']['daemons']] == (['master'] if host == 'lb1' else ['backup'])


def test_second_run_changes_nothing(fleet, playbooks):
    before = dict((h, state(fleet, h)) for h in ('lb1', 'lb2', 'rs1'))
    run = playbooks.run()
    assert run.changed_tasks() == []
    assert all(r['changed'] == 0 and r['failed'] == 0 for r in run.recap().values()), run.recap()
    assert dict((h, state(fleet, h)) for h in ('lb1', 'lb2', 'rs1')) == before


def test_failover_keeps_established_connections(fleet):
    """A connection made through lb1 keeps working through lb2 once lb1 is gone:
    lb1's sync daemon sent it to lb2 (same syncid), so lb2 forwards it to the same real server."""
    script = r'''
import os, socket, sys, time
s = socket.create_connection(('%s', 7000), timeout=30)
f = s.makefile('rw')
f.write('before\n'); f.flush()
first = f.readline().strip()
open('/tmp/echo.first', 'w').write(first)
while not os.path.exists('/tmp/echo.go'):
    time.sleep(0.2)
f.write('after\n'); f.flush()
open('/tmp/echo.second.tmp', 'w').write(f.readline().strip())
os.rename('/tmp/echo.second.tmp', '/tmp/echo.second')
''' % ECHO_VIP
    fleet.ssh('client', 'rm -f /tmp/echo.*; cat > /tmp/echo_client.py <<\'EOF\'\n%s\nEOF\n'
              'ip netns exec cli setsid python3 /tmp/echo_client.py > /tmp/echo.log 2>&1 < /dev/null &' % script)
    wait_for(lambda: fleet.ssh('client', 'cat /tmp/echo.first 2>/dev/null', check=False).stdout == 'before',
             'the echo client to get its first answer through lb1', 120)
    wait_for(lambda: ' %s:7000 ' % ECHO_VIP in fleet.ssh('lb2', 'ipvsadm -Lnc').stdout,
             'lb2 (backup) to receive the connection from lb1', 60)

    fleet.lb1_before_failover = state(fleet, 'lb1')   # for test_director_comes_back_by_itself
    fleet.stop(['lb1'])
    fleet.ssh('client', 'ip -n cli route replace 203.0.113.0/24 via 192.0.2.12; touch /tmp/echo.go')
    wait_for(lambda: fleet.ssh('client', 'cat /tmp/echo.second 2>/dev/null', check=False).stdout == 'after',
             'the same connection to answer through lb2', 120,
             lambda: fleet.ssh('client', 'cat /tmp/echo.log', check=False).stdout)
    # New connections go through lb2 as well.
    assert requests(fleet, 'http://%s/' % DR_VIP, 8) == {'rs1': 6, 'rs2': 2}


def test_director_comes_back_by_itself(fleet):
    """lb1 was stopped hard by the failover test: booted again, it restores VIPs, sysctls,
    modules, table, timeouts and its sync daemon with no Ansible run."""
    before = fleet.lb1_before_failover
    fleet.start(['lb1'])
    fleet.wait_ssh(['lb1'], timeout=600)
    wait_for(lambda: 'active' == fleet.ssh('lb1', 'systemctl is-active lvs-ipvs.service', check=False).stdout.strip(),
             'lvs-ipvs.service on lb1', 120,
             lambda: fleet.ssh('lb1', 'systemctl status lvs-ipvs.service; journalctl -b -u lvs-ipvs', check=False).stdout)
    assert state(fleet, 'lb1') == before
    fleet.ssh('client', 'ip -n cli route replace 203.0.113.0/24 via 192.0.2.11')
    assert requests(fleet, 'http://%s/' % DR_VIP, 8) == {'rs1': 6, 'rs2': 2}


def test_real_server_comes_back_after_reboot(fleet):
    before = state(fleet, 'rs1')
    booted = time.time()
    fleet.ssh('rs1', 'systemctl reboot', check=False)
    fleet.wait_ssh(['rs1'], timeout=600, since=booted)
    wait_for(lambda: fleet.ssh('rs1', 'systemctl is-active lvs-real-server.service fleet-web80',
                               check=False).stdout.split() == ['active', 'active'],
             'lvs-real-server.service and the web backend on rs1', 120)
    assert state(fleet, 'rs1') == before
    assert requests(fleet, 'http://%s/' % DR_VIP, 8) == {'rs1': 6, 'rs2': 2}


def test_check_diff_predicts_the_change(fleet, playbooks, tmp_path):
    """--check --diff on a changed inventory says exactly what the real run then does."""
    changed = tmp_path / 'changed.yml'
    changed.write_text('\n'.join([
        'lvs_purge: true',
        'lvs_services:',
        '  - {vip: %s, vport: 80, scheduler: wrr, servers: [{rip: 192.0.2.13, weight: 1}, {rip: 192.0.2.22, weight: 1}]}' % DR_VIP,
        '  - {vip: %s, vport: 7000, scheduler: wlc, servers: [{rip: 192.0.2.13}]}' % ECHO_VIP,
        '  - {vip: 203.0.113.40, vport: 443, scheduler: sh, servers: [{rip: 192.0.2.13}]}',
        '']))
    args = ['--limit', 'lvs_directors', '-e', '@%s' % changed, '--diff']
    before = dict((h, state(fleet, h)) for h in ('lb1', 'lb2'))
    check = playbooks.run('--check', *args)
    assert dict((h, state(fleet, h)) for h in ('lb1', 'lb2')) == before, 'check mode changed a director'
    real = playbooks.run(*args)
    assert check.changed_tasks() == real.changed_tasks()
    assert check.diffs() == real.diffs()
    # What was predicted: the NAT service and its VIP gone, a new service, weights, sh loaded.
    after = state(fleet, 'lb1')
    assert NAT_VIP not in after and '-A -t 203.0.113.40:443 -s sh' in after and 'ip_vs_sh' in after
    assert 'lvs0 203.0.113.40/32' in after and '203.0.113.20/32' not in after
    assert '/etc/modules-load.d/lvs-ipvs.conf:ip_vs_sh' in after
    assert playbooks.run(*args).changed_tasks() == []
    assert requests(fleet, 'http://%s/' % DR_VIP, 8) == {'rs1': 4, 'rs2': 4}


def test_roles_refuse_a_host_without_ipvs_or_systemd(playbooks, tmp_path):
    """This machine's own kernel has no IPVS and it is not booted by systemd: each role stops at its
    first task, names the host and every reason in one sentence, and changes nothing."""
    if os.path.isdir('/run/systemd/system'):
        pytest.fail('this machine runs systemd: the test needs a controller without it', pytrace=False)
    reasons = ['it does not run systemd, which restores the table at boot']
    if not os.path.exists('/proc/net/ip_vs') and os.system('modinfo ip_vs >/dev/null 2>&1') != 0:
        reasons.append('its kernel has no IPVS (no ip_vs module)')
    python = os.environ.get('LVS_FLEET_LOCAL_PYTHON', '/usr/bin/python3')
    for group, role, why in (('lvs_directors', 'director', reasons),
                             ('lvs_real_servers', 'real server', ['it does not run systemd, which restores the VIPs at boot'])):
        inventory = tmp_path / ('%s.ini' % group)
        inventory.write_text('[%s]\nthis-host ansible_connection=local ansible_python_interpreter=%s\n' % (group, python))
        # --check: should the preflight let it through after all, nothing is changed here.
        run = playbooks.run('--check', '-e', 'lvs_real_server_vips=[203.0.113.10]', inventory=str(inventory), check=False)
        assert run.rc != 0
        assert run.changed_tasks() == []
        assert 'this-host cannot be an IPVS %s: %s.' % (role, '; '.join(why)) in run.out, run.out[-3000:]
        assert 'Load kernel modules' not in run.out


def wait_for(predicate, what, timeout, explain=None):
    deadline = time.time() + timeout
    while True:
        try:
            if predicate():
                return
        except Exception:  # pylint: disable=broad-except
            pass
        if time.time() > deadline:
            pytest.fail('timed out after %d s waiting for %s%s' % (timeout, what, ('\n' + explain()) if explain else ''),
                        pytrace=False)
        time.sleep(2)
