# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet for role and playbook tests: booted once per session (tests/fleet/fleet.py).

The controller is this machine's Ansible, reaching the hosts over SSH like a user's
would. The inventory is the fleet's (hosts and ports) plus examples/inventory's
group_vars and host_vars: the tests run the example a user would copy.
"""

import os
import re
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from fleet import ROOT, Fleet  # noqa: E402

EXAMPLE = os.path.join(ROOT, 'examples', 'inventory')


class Playbooks(object):
    """ansible-playbook against the fleet; every run's output is kept in the fleet directory."""

    def __init__(self, fleet):
        self.fleet = fleet
        self.runs = 0
        self.background = []
        self.env = fleet.ansible_env()

    def run(self, *args, check=True, playbook='lvs.ipvs.site', inventory=None):
        return self.start(*args, playbook=playbook, inventory=inventory).finish(check=check)

    def start(self, *args, playbook='lvs.ipvs.site', inventory=None):
        """ansible-playbook in the background; finish() waits for it and returns its Run."""
        self.runs += 1
        running = Running(self, list(args), playbook, inventory, os.path.join(self.fleet.workdir, 'run-%02d.log' % self.runs))
        self.background.append(running)
        return running

    def stop_all(self):
        """Kill runs a failed test left behind."""
        for running in self.background:
            if running.running():
                running.proc.kill()
                running.proc.wait()


class Running(object):
    """One ansible-playbook run; its output goes straight to its log file (no pipe to fill)."""

    def __init__(self, playbooks, args, playbook, inventory, log):
        self.args = args
        self.log = log
        argv = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'),
                '-i', inventory or playbooks.fleet.inventory, playbook] + args
        with open(log, 'w') as f:
            f.write(' '.join(argv) + '\n')
            f.flush()
            self.proc = subprocess.Popen(argv, env=playbooks.env, stdout=f, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)

    def running(self):
        return self.proc.poll() is None

    def finish(self, check=True, timeout=1800):
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail('ansible-playbook %s ran past %d s; output in %s:\n%s'
                        % (' '.join(self.args), timeout, self.log, self.output()[-4000:]), pytrace=False)
        out = self.output()
        if check and self.proc.returncode != 0:
            pytest.fail('ansible-playbook %s failed (%d); output in %s:\n%s'
                        % (' '.join(self.args), self.proc.returncode, self.log, out[-4000:]), pytrace=False)
        return Run(self.proc.returncode, out)

    def output(self):
        with open(self.log) as f:
            f.readline()    # the command line
            return f.read()


class Run(object):
    def __init__(self, rc, out):
        self.rc = rc
        self.out = out

    def recap(self):
        """{host: {'ok': n, 'changed': n, ...}} from PLAY RECAP."""
        hosts = {}
        for m in re.finditer(r'^(\S+)\s+:\s+((?:\w+=\d+\s*)+)$', self.out, re.M):
            hosts[m.group(1)] = dict((k, int(v)) for k, v in re.findall(r'(\w+)=(\d+)', m.group(2)))
        return hosts

    def changed_tasks(self):
        """Sorted [(task, host)] of every task that reported a change (hosts finish in any order)."""
        return sorted(key for key, (status, _diff) in self.results().items() if status == 'changed')

    def diffs(self):
        """{(task, host): the --diff lines printed for it}, for the tasks that printed any."""
        return dict((key, diff) for key, (_status, diff) in self.results().items() if diff)

    def results(self):
        """{(task, host): (status, diff lines)}; a diff is printed just before its host's status line."""
        results, task, diff = {}, None, []
        for line in self.out.splitlines():
            m = re.match(r'^TASK \[(.*)\] \**$', line)
            if m:
                task, diff = m.group(1), []
                continue
            m = re.match(r'^(changed|ok|skipping|fatal|failed): \[([^\]]+)\]', line)
            if m:
                results[(task, m.group(2))] = (m.group(1), diff)
                diff = []
            elif line.startswith(('+++', '---')):
                # Headers may name a temporary file of the run.
                diff.append(re.sub(r'\S*/(tmp|\.ansible)/\S*', '<tmp>', line))
            elif line.startswith(('+', '-', '@@')):
                diff.append(line)
        return results


@pytest.fixture(scope='session')
def fleet():
    f = Fleet()
    reuse = os.environ.get('LVS_FLEET_REUSE') == '1'   # for debugging a test: the hosts as they are
    if not reuse:
        f.stop()
        f.build(fresh=True)
    f.use_vars(EXAMPLE)
    try:
        f.start()
        f.wait_ssh(timeout=900)
        yield f
    finally:
        if os.environ.get('LVS_FLEET_KEEP') != '1' and not reuse:
            f.stop()


@pytest.fixture(scope='session')
def playbooks(fleet):
    p = Playbooks(fleet)
    yield p
    p.stop_all()
