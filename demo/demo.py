# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The demo (demo/run): the main job of lvs.ipvs on a fleet of four VMs.

Boots lb1, lb2 (directors), rs1 (a real server) and a client (tests/fleet/fleet.py: Debian's
kernel with IPVS under qemu, systemd, SSH), runs `ansible-playbook lvs.ipvs.site` with
examples/inventory, sends a burst of traffic through the VIPs, shows what lvs.ipvs.ipvs_info
sees on the directors, and writes the fleet report (lvs.ipvs.fleet_report).

    demo/run [--keep]      --keep leaves the fleet running (tests/fleet/fleet.py down stops it)
"""

import argparse
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'fleet'))

import scenery  # noqa: E402
from fleet import Fleet  # noqa: E402

WORKDIR = os.path.join(ROOT, 'tests', 'output', 'demo')
PORT = 2240   # not the tests' fleet's (2220): both may run


class Demo(object):
    def __init__(self):
        self.fleet = Fleet(workdir=WORKDIR, base_port=PORT)
        self.started = time.time()
        self.times = []

    def step(self, title):
        now = time.time()
        if self.times:
            self.times[-1][1] = now - self.times[-1][1]
        self.times.append([title, now])
        print('\n== %s' % title, flush=True)

    def playbook(self, name, *args, show=None):
        """ansible-playbook against the fleet; the whole output goes to a log, `show` picks lines to print."""
        log = os.path.join(WORKDIR, '%s.log' % name.rsplit('/', 1)[-1].replace('.yml', '').replace('lvs.ipvs.', ''))
        argv = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', self.fleet.inventory, name]
        argv += list(args)
        print('$ ansible-playbook -i %s %s %s' % (os.path.relpath(self.fleet.inventory, ROOT),
                                                  os.path.relpath(name, ROOT) if os.sep in name else name,
                                                  ' '.join(args)), flush=True)
        res = subprocess.run(argv, env=self.fleet.ansible_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             universal_newlines=True, check=False)
        with open(log, 'w') as f:
            f.write(res.stdout)
        lines = res.stdout.splitlines()
        recap = lines[next((i for i, line in enumerate(lines) if line.startswith('PLAY RECAP')), len(lines)):]
        for line in (show(lines) if show else []) + recap:
            print('   ' + line if line.strip() else '', flush=True)
        if res.returncode != 0:
            raise SystemExit('ansible-playbook %s failed; its output is in %s' % (name, log))
        return res.stdout

    def run(self, keep):
        fleet = self.fleet
        self.step('Booting lb1, lb2, rs1 and client (qemu, Debian kernel with IPVS, systemd)')
        fleet.stop()
        fleet.build(fresh=True)
        fleet.use_vars(os.path.join(ROOT, 'examples', 'inventory'))
        try:
            fleet.start()
            fleet.wait_ssh(timeout=900)
            scenery.set_up(fleet)
            print('   up; the inventory is %s (examples/inventory\'s group_vars and host_vars)'
                  % os.path.relpath(fleet.inventory, ROOT))

            self.step('The load_balancer and real_server roles: ansible-playbook lvs.ipvs.site')
            self.playbook('lvs.ipvs.site')

            self.step('A burst of traffic from the client through lb1')
            dr = scenery.requests(fleet, 'http://%s/' % scenery.DR_VIP, 40)
            nat = scenery.requests(fleet, 'http://%s/' % scenery.NAT_VIP, 20, source=scenery.CLIENT_NAT_IP)
            print('   DR  %s:80  wrr, weights rs1 3 : rs2 1  -> 40 requests answered by %s'
                  % (scenery.DR_VIP, dict(sorted(dr.items()))))
            print('   NAT %s:80  rr,  weights 1 : 1          -> 20 requests answered by %s'
                  % (scenery.NAT_VIP, dict(sorted(nat.items()))))

            self.step("What lvs.ipvs.ipvs_info sees on the directors")
            self.playbook(os.path.join(ROOT, 'demo', 'playbook.yml'), show=debug_messages)

            self.step('The fleet report: ansible-playbook lvs.ipvs.fleet_report')
            report_dir = os.path.join(WORKDIR, 'report')
            self.playbook('lvs.ipvs.fleet_report', '-e', 'lvs_report_dir=%s' % report_dir, show=debug_messages)
            print('   open %s in a browser (self-contained: no network needed)' % os.path.join(report_dir, 'report.html'))
        finally:
            self.step('Done')
            if keep:
                print('   the fleet keeps running: ssh with `python3 tests/fleet/fleet.py ssh lb1` '
                      '(LVS_FLEET_DIR=%s LVS_FLEET_PORT=%d), stop with `... fleet.py down`' % (WORKDIR, PORT))
            else:
                fleet.stop()
                print('   fleet stopped (demo/run --keep leaves it running)')
        self.times.pop()
        print('\n== Time on this machine (%d cores): %s; %d s in all' % (
            os.cpu_count(), ', '.join('%s %d s' % (t.split(':')[0].split(' (')[0].lower(), d) for t, d in self.times),
            time.time() - self.started))


def debug_messages(lines):
    """The msg of each debug task, as printed by the default callback: a string after its host's
    name, the items of a list on lines of their own."""
    out, host, in_list = [], None, False
    for line in lines:
        m = re.match(r'^ok: \[([^\]]+)\]', line)
        if m:
            host = m.group(1).split(' ')[0]
            continue
        if in_list:
            m = re.match(r'^\s+"(.*)",?$', line)
            if m:
                out.append(m.group(1))
            else:
                in_list = False
            continue
        if re.match(r'^\s+"msg": \[$', line):
            in_list = True
            continue
        m = re.match(r'^\s+"msg": "(.*)"$', line)
        if m and host:
            out.append('%-4s %s' % (host, m.group(1)))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--keep', action='store_true', help='leave the fleet running')
    Demo().run(ap.parse_args(argv).keep)
    return 0


if __name__ == '__main__':
    sys.exit(main())
