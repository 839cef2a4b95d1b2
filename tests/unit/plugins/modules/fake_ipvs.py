# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""A stand-in for IpvsClient holding an IPVS table in memory, with the kernel's
rules for the writes the modules send (flags and mask, EEXIST, ESRCH, ...), and a
harness that runs a module's main() against it."""

import errno
import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.lvs.ipvs.plugins.module_utils import _common
from ansible_collections.lvs.ipvs.plugins.module_utils._errors import explain
from ansible_collections.lvs.ipvs.plugins.module_utils._model import (
    ZERO_STATS, LocalAddress, Timeouts,
)


class FakeIpvs:
    def __init__(self, supports_laddr=False):
        self.supports_laddr = supports_laddr
        self.svcs = {}
        self.dests = {}
        self.laddr = {}
        self.config = Timeouts(900, 120, 300)
        self.running = []
        self.applied = []
        self.closed = False

    # -- reads
    def service(self, key, with_stats=True):
        return self.svcs.get(key)

    def services(self, with_stats=True):
        return list(self.svcs.values())

    def servers(self, key, with_stats=True):
        return list(self.dests.get(key, []))

    def servers_of(self, keys, with_stats=True):
        return dict((k, self.servers(k)) for k in keys)

    def timeouts(self):
        return self.config

    def daemons(self):
        return list(self.running)

    def laddrs(self, key):
        return [LocalAddress(a, key[0], 0, 0) for a in self.laddr.get(key, [])]

    def close(self):
        self.closed = True

    # -- writes
    def apply(self, ops):
        errors = []
        for op in ops:
            self.applied.append(op)
            err = self._one(op.name, *op.args)
            errors.append(explain(err, op.name, op.subject, service=op.service, scheduler=op.scheduler, pe=op.pe)
                          if err else None)
        return errors

    def apply_or_raise(self, ops):
        for e in self.apply(ops):
            if e is not None:
                raise e

    def _one(self, name, *a):
        if name == 'add-service':
            svc = a[0]
            if svc.key in self.svcs:
                return errno.EEXIST
            self.svcs[svc.key] = svc._replace(stats=ZERO_STATS)
            self.dests[svc.key] = []
        elif name == 'edit-service':
            svc, mask = a
            old = self.svcs.get(svc.key)
            if old is None:
                return errno.ESRCH
            flags = (old.flags & ~mask) | (svc.flags & mask)
            self.svcs[svc.key] = svc._replace(flags=flags, stats=old.stats)
        elif name == 'del-service':
            if a[0] not in self.svcs:
                return errno.ESRCH
            del self.svcs[a[0]]
            del self.dests[a[0]]
        elif name in ('add-server', 'edit-server', 'del-server'):
            key, srv = a
            if key not in self.svcs:
                return errno.ESRCH
            servers = self.dests[key]
            have = [i for i, s in enumerate(servers) if s.key == srv.key]
            if name == 'add-server':
                if have:
                    return errno.EEXIST
                servers.append(srv._replace(stats=ZERO_STATS))
            elif not have:
                return errno.ENOENT
            elif name == 'edit-server':
                servers[have[0]] = srv._replace(stats=servers[have[0]].stats)
            else:
                del servers[have[0]]
        elif name == 'zero':
            for key in ([a[0]] if a[0] else list(self.svcs)):
                self.svcs[key] = self.svcs[key]._replace(stats=ZERO_STATS)
                self.dests[key] = [s._replace(stats=ZERO_STATS) for s in self.dests[key]]
        elif name == 'set-timeouts':
            self.config = Timeouts(*[new or old for new, old in zip(a, self.config)])
        elif name == 'start-daemon':
            d = a[0]
            if any(r.role == d.role for r in self.running):
                return errno.EEXIST
            self.running.append(d._replace(sync_maxlen=d.sync_maxlen or 1472, mcast_group=d.mcast_group or '224.0.0.81',
                                           mcast_port=d.mcast_port or 8848, mcast_ttl=d.mcast_ttl or 1))
        elif name == 'stop-daemon':
            if not any(r.role == a[0] for r in self.running):
                return errno.ESRCH
            self.running = [r for r in self.running if r.role != a[0]]
        elif name == 'add-laddr':
            self.laddr.setdefault(a[0], []).append(a[1])
        elif name == 'del-laddr':
            self.laddr[a[0]].remove(a[1])
        return 0


def run_module(module, args, fake, monkeypatch, capsys, check=False, diff=False):
    """Run module.main() with args against fake; return the parsed result."""
    monkeypatch.setattr(_common.IpvsModule, 'client', lambda self: setattr(self, '_client', fake) or fake)
    args = dict(args, _ansible_check_mode=check, _ansible_diff=diff)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(capsys.readouterr().out)


def four_runs(module, args, fake, monkeypatch, capsys):
    """check, real, again, check again: the four runs every change must survive.
    Returns the first two results."""
    n = len(fake.applied)
    first = run_module(module, args, fake, monkeypatch, capsys, check=True, diff=True)
    assert 'failed' not in first, first
    assert len(fake.applied) == n, 'check mode sent %s' % fake.applied[n:]
    real = run_module(module, args, fake, monkeypatch, capsys, diff=True)
    assert real['changed'] == first['changed'], (first, real)
    n = len(fake.applied)
    again = run_module(module, args, fake, monkeypatch, capsys, diff=True)
    assert again['changed'] is False and len(fake.applied) == n, fake.applied[n:]
    again_check = run_module(module, args, fake, monkeypatch, capsys, check=True)
    assert again_check['changed'] is False
    return first, real
