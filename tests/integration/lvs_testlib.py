# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers shared by the real-kernel tests: shell commands and throwaway namespaces."""

import collections
import shlex
import subprocess
import time
import uuid


def sh(cmd, check=True, netns=None):
    """Run a shell command (optionally inside netns); return its stdout."""
    if netns:
        cmd = 'ip netns exec %s sh -c %s' % (netns, shlex.quote(cmd))
    p = subprocess.run(cmd, shell=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    if check and p.returncode != 0:
        raise AssertionError('%s failed (%d): %s%s' % (cmd, p.returncode, p.stdout, p.stderr))
    return p.stdout


class Netns:
    """A throwaway network namespace with helpers to drive ipvsadm inside it."""

    def __init__(self, prefix='t'):
        self.name = '%s%s' % (prefix, uuid.uuid4().hex[:8])
        sh('ip netns add %s' % self.name)
        sh('ip link set lo up', netns=self.name)

    def sh(self, cmd, check=True):
        return sh(cmd, check=check, netns=self.name)

    def ipvsadm(self, args, check=True):
        return self.sh('ipvsadm ' + args, check=check)

    def restore(self, rules):
        p = subprocess.run(['ip', 'netns', 'exec', self.name, 'ipvsadm', '-R'], input=rules,
                           universal_newlines=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert p.returncode == 0, p.stderr

    def delete(self):
        sh('ip netns pids %s | xargs -r kill -9' % self.name, check=False)
        sh('ip netns del %s' % self.name, check=False)


VIP = '10.10.0.1'
BACKENDS = {'rs1': ('10.21.0.2', '10.21.0.1'), 'rs2': ('10.22.0.2', '10.22.0.1')}


class Topology:
    """client --veth-- director --veth-- rs1 / --veth-- rs2 (NAT: backends route via the director)."""

    def __init__(self):
        self.lb = Netns('lb')
        self.cli = Netns('cli')
        self.rs = dict((name, Netns(name)) for name in BACKENDS)
        self.servers = []
        self._link(self.cli, '10.10.0.2/24', self.lb, VIP + '/24', 'c')
        self.lb.sh('sysctl -qw net.ipv4.ip_forward=1')
        for i, (name, (addr, gw)) in enumerate(sorted(BACKENDS.items())):
            ns = self.rs[name]
            self._link(ns, addr + '/24', self.lb, gw + '/24', 'r%d' % i)
            ns.sh('ip route add default via %s' % gw)
            ns.sh('mkdir -p /tmp/www-%s && echo %s > /tmp/www-%s/index.html' % (ns.name, name, ns.name))
            self.servers.append(subprocess.Popen(
                ['ip', 'netns', 'exec', ns.name, 'busybox', 'httpd', '-f', '-p', '80', '-h', '/tmp/www-%s' % ns.name]))
        time.sleep(0.5)

    @staticmethod
    def _link(a, a_addr, b, b_addr, tag):
        sh('ip link add %sa netns %s type veth peer name %sb netns %s' % (tag, a.name, tag, b.name))
        a.sh('ip addr add %s dev %sa && ip link set %sa up' % (a_addr, tag, tag))
        b.sh('ip addr add %s dev %sb && ip link set %sb up' % (b_addr, tag, tag))

    def get(self, n):
        """n sequential HTTP requests from the client; which backend answered, counted."""
        # curl, not busybox wget: the static busybox's wget crashes in glibc's NSS.
        out = self.cli.sh('for i in $(seq %d); do curl -s -m 5 http://%s/ || echo FAIL; done' % (n, VIP))
        return collections.Counter(out.split())

    def close(self):
        for p in self.servers:
            p.kill()
            p.wait()
        for ns in [self.lb, self.cli] + list(self.rs.values()):
            ns.delete()
