# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""What fleet operators run from AWX, on the fleet test_site.py configured (this file runs after it):
lvs.ipvs.fleet_report reads both directors and flags drift once a table is changed by hand (the
page is checked in a real browser); lvs.ipvs.drain takes a real server out of rotation without
dropping anyone and returns once its connections are gone; lvs.ipvs.undrain puts it back at the
inventory's weight.

State test_site.py leaves: both directors run DR 203.0.113.10:80 (rs1 192.0.2.13 and rs2
192.0.2.22, weight 1 each), the echo service 203.0.113.30:7000 (rs1 only) and 203.0.113.40:443
(rs1, a service the inventory does not declare); the client reaches the VIPs through lb1.
"""

import json
import os
import re
import time

import browser
from scenery import DR_VIP, ECHO_VIP, NAT_VIP, requests
from test_site import table, wait_for

RS1 = '192.0.2.13'

# Three connections to the echo service (rs1) that stay open until told, answering on demand.
HELD = r'''
import os, socket, time
conns = [socket.create_connection(('%s', 7000), timeout=30).makefile('rw') for _i in range(3)]
def ask(word):
    for f in conns:
        f.write(word + '\n'); f.flush()
    return ' '.join(f.readline().strip() for f in conns)
def say(name, text):
    open('/tmp/held.' + name + '.tmp', 'w').write(text)
    os.rename('/tmp/held.' + name + '.tmp', '/tmp/held.' + name)
def until(name):
    while not os.path.exists('/tmp/held.' + name):
        time.sleep(0.2)
say('ready', ask('hello'))
until('check')
say('checked', ask('still'))
until('close')
for f in conns:
    f.close()
say('closed', 'closed')
''' % ECHO_VIP


def fleet_report(fleet, playbooks):
    """Run lvs.ipvs.fleet_report into the fleet's directory: (its run, report.json, report.html's path)."""
    out = os.path.join(fleet.workdir, 'report')
    run = playbooks.run('-e', 'lvs_report_dir=%s' % out, playbook='lvs.ipvs.fleet_report')
    with open(os.path.join(out, 'report.json')) as f:
        return run, json.load(f), os.path.join(out, 'report.html')


def test_fleet_report_shows_both_directors_and_drift_only_once_there_is_some(fleet, playbooks):
    run, report, page_path = fleet_report(fleet, playbooks)
    flags = report['summary']['flags']
    directors = report['clusters']['lvs_directors']['directors']
    assert sorted(directors) == ['lb1', 'lb2']
    assert flags['drift'] == [] and flags['timeout_drift'] == [] and flags['failed_hosts'] == []
    assert flags['unpaired_daemons'] == [], 'lb1 master and lb2 backup of syncid 10 pair up'
    assert 'Drift: none' in run.out and 'Report: %s' % page_path in run.out
    # The page in a real browser: a table and a chart per service of each director, nothing failed to load.
    page = browser.open_page(page_path)
    assert page.errors == []
    services = sorted((host, svc['id']) for host, d in directors.items() for svc in d['services'])
    assert len(services) == 6, services
    dom = browser.Elements(page.dom)
    for tag, cls in (('table', 'service'), ('svg', 'chart')):
        assert sorted((a['data-director'], a['data-service']) for a in dom.find(tag, cls)) == services
    assert os.path.getsize(page.screenshot) > 20000

    # One weight changed by hand on lb2: drift, with exactly those lines.
    line = '-a -t %s:80 -r 192.0.2.22:80 -g -w %d'
    fleet.ssh('lb2', 'ipvsadm -e -t %s:80 -r 192.0.2.22:80 -g -w 7' % DR_VIP)
    try:
        run, report, page_path = fleet_report(fleet, playbooks)
    finally:
        fleet.ssh('lb2', 'ipvsadm -e -t %s:80 -r 192.0.2.22:80 -g -w 1' % DR_VIP)
    (drift,) = report['summary']['flags']['drift']
    assert sorted((x['line'], x['present']) for x in drift['lines']) == [
        (line % (DR_VIP, 1), ['lb1']), (line % (DR_VIP, 7), ['lb2'])]
    assert re.search(r'Drift: lvs_directors \(2 differing lines', run.out), run.out[-2000:]
    page = browser.open_page(page_path)
    assert page.errors == [] and line % (DR_VIP, 7) in ''.join(browser.Elements(page.dom).text)


def client_file(fleet, name):
    return fleet.ssh('client', 'cat /tmp/held.%s 2>/dev/null' % name, check=False).stdout


def rs1_weights(fleet, host):
    """{service line: weight} of rs1 in the host's live table."""
    out, service = {}, None
    for line in table(fleet, host).splitlines():
        if line.startswith('-A '):
            service = line[3:]
        m = re.match(r'-a .* -r %s:\d+ .*-w (\d+)' % re.escape(RS1), line)
        if m:
            out[service] = int(m.group(1))
    return out


def test_drain_sends_no_new_connection_and_keeps_the_held_ones(fleet, playbooks):
    fleet.ssh('client', "rm -f /tmp/held.*; cat > /tmp/held.py <<'EOF'\n%s\nEOF\n"
              'ip netns exec cli setsid python3 /tmp/held.py > /tmp/held.log 2>&1 < /dev/null &' % HELD)
    wait_for(lambda: client_file(fleet, 'ready') == 'hello hello hello', 'three held echo connections to rs1', 120,
             lambda: fleet.ssh('client', 'cat /tmp/held.log', check=False).stdout)
    assert set(rs1_weights(fleet, 'lb1').values()) != {0}

    drain = playbooks.start('-e', 'lvs_rip=%s' % RS1, '-e', 'lvs_drain_timeout=600', playbook='lvs.ipvs.drain')
    wait_for(lambda: all(set(rs1_weights(fleet, h).values()) == {0} for h in ('lb1', 'lb2')),
             'rs1 drained (weight 0) in every service of both directors', 300, lambda: drain.output()[-3000:])
    # No new connection reaches rs1; the held ones still answer; the job waits for them.
    assert requests(fleet, 'http://%s/' % DR_VIP, 8) == {'rs2': 8}
    fleet.ssh('client', 'touch /tmp/held.check')
    wait_for(lambda: client_file(fleet, 'checked') == 'still still still', 'the held connections to answer', 60)
    time.sleep(5)   # several of the drain's polls
    assert drain.running(), 'lvs.ipvs.drain returned while connections were open:\n' + drain.output()[-3000:]

    fleet.ssh('client', 'touch /tmp/held.close')
    wait_for(lambda: client_file(fleet, 'closed') == 'closed', 'the held connections to close', 60)
    run = drain.finish(timeout=300)
    # Each director reports rs1 drained in every service, the echo service after the held connections' time.
    for host in ('lb1', 'lb2'):
        report = re.search(r'ok: \[%s\] => \{\s*"msg": "([^"]*)"' % host, run.out)
        assert report, run.out[-3000:]
        lines = report.group(1).split('; ')
        assert sorted(line.split(':')[0] for line in lines) == sorted(
            ['TCP %s' % s for s in ('203.0.113.10', '203.0.113.30', '203.0.113.40')]), lines
        assert all(' drained after ' in line for line in lines), lines
        echo = next(line for line in lines if line.startswith('TCP %s:7000' % ECHO_VIP))
        assert float(re.search(r'after ([\d.]+) s', echo).group(1)) >= 5, echo
    # Drained at boot too: the role's table file says weight 0.
    for host in ('lb1', 'lb2'):
        saved = fleet.ssh(host, 'cat /etc/lvs-ipvs.rules').stdout
        assert re.search(r'-a -t %s:80 -r %s:80 -g -w 0' % (re.escape(DR_VIP), re.escape(RS1)), saved), saved
    assert requests(fleet, 'http://%s/' % DR_VIP, 8) == {'rs2': 8}
    # The report flags the drained server everywhere, and the services it was alone in.
    _run, report, _page = fleet_report(fleet, playbooks)
    flags = report['summary']['flags']
    drained = sorted((x['director'], x['service'], x['server']) for x in flags['drained_servers'])
    assert drained == sorted((h, 'TCP %s' % s, '192.0.2.13:%s' % s.split(':')[1]) for h in ('lb1', 'lb2')
                             for s in ('203.0.113.10:80', '203.0.113.30:7000', '203.0.113.40:443'))
    assert sorted((x['director'], x['service']) for x in flags['services_without_server']) == sorted(
        (h, 'TCP %s' % s) for h in ('lb1', 'lb2') for s in ('203.0.113.30:7000', '203.0.113.40:443'))


def test_drain_refuses_a_server_no_director_has(fleet, playbooks):
    before = dict((h, table(fleet, h)) for h in ('lb1', 'lb2'))
    run = playbooks.run('-e', 'lvs_rip=192.0.2.99', playbook='lvs.ipvs.drain', check=False)
    assert run.rc != 0 and '192.0.2.99 is not a real server of any service on lb1, lb2; nothing was drained.' in run.out
    assert dict((h, table(fleet, h)) for h in ('lb1', 'lb2')) == before


def test_undrain_restores_the_inventory_weight(fleet, playbooks):
    run = playbooks.run('-e', 'lvs_rip=%s' % RS1, playbook='lvs.ipvs.undrain')
    # The inventory gives rs1 weight 3 on the DR service and none (1) on the echo service; 443 is
    # not in the inventory, so rs1 stays drained there; the NAT service the inventory declares is not
    # running (test_check_diff_predicts_the_change removed it), so undrain does not create it. The job
    # says both.
    for host in ('lb1', 'lb2'):
        assert rs1_weights(fleet, host) == {'-t %s:80 -s wrr' % DR_VIP: 3, '-t %s:7000 -s wlc' % ECHO_VIP: 1,
                                            '-t 203.0.113.40:443 -s sh': 0}
    assert ('%s stays drained in TCP 203.0.113.40:443 (not in lvs_services); not running here, so not touched '
            '(lvs.ipvs.site creates them): TCP %s:80' % (RS1, NAT_VIP)) in run.out, run.out[-3000:]
    assert requests(fleet, 'http://%s/' % DR_VIP, 8) == {'rs1': 6, 'rs2': 2}
    again = playbooks.run('-e', 'lvs_rip=%s' % RS1, playbook='lvs.ipvs.undrain')
    assert again.changed_tasks() == []
