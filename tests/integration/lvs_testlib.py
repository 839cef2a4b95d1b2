# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers shared by the real-kernel tests: shell commands and throwaway namespaces."""

import collections
import contextlib
import importlib
import io
import json
import os
import shlex
import subprocess
import sys
import time
import uuid


def run_module(name, args, netns, check=False, diff=True):
    """Run lvs.ipvs.ipvs_<name> in this process against namespace `netns`; its result."""
    from ansible.module_utils.testing import patch_module_args
    module = importlib.import_module('ansible_collections.lvs.ipvs.plugins.modules.ipvs_' + name)
    out = io.StringIO()
    with patch_module_args(dict(args, netns=netns.name, _ansible_check_mode=check, _ansible_diff=diff)):
        with contextlib.redirect_stdout(out):
            try:
                module.main()
            except SystemExit:
                pass
    return json.loads(out.getvalue())


NOBODY = 65534


def run_as_nobody(netns, func):
    """func(here) in a child that entered `netns` as root and then became nobody;
    `here` is a Netns whose name is None (the child is in it already). What func
    returns comes back through JSON; an exception comes back as child_error."""
    from ansible_collections.lvs.ipvs.plugins.module_utils import _netns
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(rfd)
            with open(_netns.netns_path(netns.name)) as f:
                _netns._setns_func()(f.fileno())  # pylint: disable=protected-access
            os.setgroups([])
            os.setresgid(NOBODY, NOBODY, NOBODY)
            os.setresuid(NOBODY, NOBODY, NOBODY)
            here = Netns.__new__(Netns)
            here.name = None
            result = func(here)
        except BaseException as e:  # pylint: disable=broad-except
            result = dict(child_error=repr(e))
        os.write(wfd, json.dumps(result).encode())
        os._exit(0)
    os.close(wfd)
    data = b''
    while True:
        chunk = os.read(rfd, 65536)
        if not chunk:
            break
        data += chunk
    os.close(rfd)
    os.waitpid(pid, 0)
    return json.loads(data.decode())


def sh(cmd, check=True, netns=None):
    """Run a shell command (optionally inside netns); return its stdout."""
    if netns:
        cmd = 'ip netns exec %s sh -c %s' % (netns, shlex.quote(cmd))
    p = subprocess.run(cmd, shell=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                       check=False)
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
                           universal_newlines=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        assert p.returncode == 0, p.stderr

    def delete(self):
        sh('ip netns pids %s | xargs -r kill -9' % self.name, check=False)
        sh('ip netns del %s' % self.name, check=False)


VIP = '10.10.0.1'
BACKENDS = {'rs1': ('10.21.0.2', '10.21.0.1'), 'rs2': ('10.22.0.2', '10.22.0.1')}


# What a DR or TUN real server needs besides the VIP: answer no ARP for it, and
# accept packets for it that arrive on another interface (or decapsulated).
REAL_SERVER_SYSCTLS = ('net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 '
                       'net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0')


class Topology:
    """client --veth-- director --veth-- rs1 / --veth-- rs2; backends route via the director.

    mode 'nat': backends are plain web servers. 'dr': they hold the VIP on lo.
    'tun': they hold it on tunl0 and take IPIP packets. In both of those their
    replies (from the VIP) pass through the director as ordinary routing, so it
    must accept packets from its own address.
    """

    def __init__(self, mode='nat'):
        self.lb = Netns('lb')
        self.cli = Netns('cli')
        self.rs = dict((name, Netns(name)) for name in BACKENDS)
        self.servers = []
        self._link(self.cli, '10.10.0.2/24', self.lb, VIP + '/24', 'c')
        self.lb.sh('sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.accept_local=1 net.ipv4.conf.all.rp_filter=0 '
                   'net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.default.accept_local=1')
        for i, (name, (addr, gw)) in enumerate(sorted(BACKENDS.items())):
            ns = self.rs[name]
            self._link(ns, addr + '/24', self.lb, gw + '/24', 'r%d' % i)
            ns.sh('ip route add default via %s' % gw)
            if mode == 'dr':
                ns.sh('sysctl -qw %s && ip addr add %s/32 dev lo' % (REAL_SERVER_SYSCTLS, VIP))
            elif mode == 'tun':
                ns.sh('sysctl -qw %s && ip link set tunl0 up && ip addr add %s/32 dev tunl0 && '
                      'sysctl -qw net.ipv4.conf.tunl0.rp_filter=0' % (REAL_SERVER_SYSCTLS, VIP))
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

    def hold(self):
        """A connection opened now and answered later: (process, send) where
        send() makes the request on it and returns who answered."""
        script = ('import socket,sys; s=socket.create_connection(("%s",80)); print("up", flush=True); '
                  'sys.stdin.readline(); s.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n"); '
                  'print(s.makefile().read().split()[-1], flush=True)' % VIP)
        p = subprocess.Popen(['ip', 'netns', 'exec', self.cli.name, sys.executable, '-c', script],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, universal_newlines=True)
        assert p.stdout.readline().strip() == 'up'

        def send():
            out, _err = p.communicate('go\n', timeout=30)
            return out.strip()
        return p, send

    def close(self):
        for p in self.servers:
            p.kill()
            p.wait()
        for ns in [self.lb, self.cli] + list(self.rs.values()):
            ns.delete()
