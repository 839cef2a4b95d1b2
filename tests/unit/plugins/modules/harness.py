# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run a module's main() against the fake IPVS kernel (tests/fake_kernel.py,
the one the benchmark uses too): the real IpvsClient, codec and GenlSocket
talk to it through a stand-in netlink socket.

Two things of the host stay out: modprobe (IpvsModule.modprobe asks the fake)
and the interface MTU ioctl (IpvsClient.interface_mtu asks the fake's
interfaces)."""

import json
import os
import struct
import sys

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.lvs.ipvs.plugins.module_utils import _common, _ipvs, _netlink

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
from fake_kernel import FakeKernel  # noqa: E402 pylint: disable=wrong-import-position

# The key of each module's result that four_runs() compares between check mode and the real run.
RESULT_KEYS = {'ipvs_service': 'service', 'ipvs_server': 'server', 'ipvs_daemon': 'daemon',
               'ipvs_timeout': 'timeouts', 'ipvs_laddr': 'laddrs'}
INTERFACES = ('lo', 'eth0', 'eth1')


def install(fake, monkeypatch):
    """Route the modules' netlink sockets, modprobe and MTU lookups to `fake`."""
    fake.install(monkeypatch)
    monkeypatch.setattr(_common.IpvsModule, 'modprobe', lambda self, name: fake.modprobe(name), raising=False)
    monkeypatch.setattr(_ipvs.IpvsClient, 'interface_mtu', lambda self, name: fake.interface_mtu(name), raising=False)
    return fake


def writes(fake, since=0):
    """Names of the write requests the fake received after log entry `since`."""
    return [r.name for r in fake.log[since:] if r.write]


def sent_service_flags(request):
    """(flags, mask) of the SVC_ATTR_FLAGS a NEW/SET_SERVICE request carried."""
    body = request.body
    top = _netlink.parse_attrs(body, 0, len(body))
    off, n = top[_ipvs.CMD_ATTR_SERVICE]
    inner = _netlink.parse_attrs(body, off, off + n)
    return struct.unpack_from('=II', body, inner[_ipvs.SVC_ATTR_FLAGS][0])


def differences(check, real, path='$'):
    """Where two results differ, field by field: ['$.after.servers[1].weight: 3 != 5', ...]."""
    if isinstance(check, dict) and isinstance(real, dict):
        out = []
        for k in sorted(set(check) | set(real), key=str):
            if k not in real:
                out.append('%s.%s: only in check mode' % (path, k))
            elif k not in check:
                out.append('%s.%s: only in the real run' % (path, k))
            else:
                out.extend(differences(check[k], real[k], '%s.%s' % (path, k)))
        return out
    if isinstance(check, list) and isinstance(real, list):
        out = ['%s: %d items != %d' % (path, len(check), len(real))] if len(check) != len(real) else []
        for i, (a, b) in enumerate(zip(check, real)):
            out.extend(differences(a, b, '%s[%d]' % (path, i)))
        return out
    if check != real or type(check) is not type(real):
        return ['%s: %r != %r' % (path, check, real)]
    return []


class Harness:
    """A fake kernel installed for one test, and module runs against it."""

    def __init__(self, monkeypatch, capsys):
        self.monkeypatch = monkeypatch
        self.capsys = capsys
        self.fake = None
        self.warnings = []  # of the last run: under pytest, ansible-core may route them to its display
        monkeypatch.setattr(AnsibleModule, 'warn', lambda module, text, **kw: self.warnings.append(text))

    def kernel(self, **kw):
        """Install a new fake kernel (FakeKernel's arguments; interfaces lo, eth0, eth1 unless told)."""
        kw.setdefault('interfaces', INTERFACES)
        self.fake = install(FakeKernel(**kw), self.monkeypatch)
        return self.fake

    def run(self, module, args, check=False, diff=False):
        """Run module.main() with args; return the parsed result (its warnings in self.warnings)."""
        args = dict(args, _ansible_check_mode=check, _ansible_diff=diff)
        del self.warnings[:]
        with patch_module_args(args):
            with pytest.raises(SystemExit):
                module.main()
        return json.loads(self.capsys.readouterr().out)

    def four(self, module, args):
        """check, real, again, check again: the four runs every change must survive.
        The check run must send no write and predict the real run's diff and
        result, field by field. Returns the first two results."""
        fake = self.fake
        key = RESULT_KEYS[module.__name__.rsplit('.', 1)[-1]]
        n = len(fake.log)
        first = self.run(module, args, check=True, diff=True)
        assert 'failed' not in first, first
        assert writes(fake, n) == [], 'check mode sent %s' % writes(fake, n)
        real = self.run(module, args, diff=True)
        assert 'failed' not in real, real
        assert real['changed'] == first['changed'], (first, real)
        assert differences(first['diff'], real['diff']) == [], (first['diff'], real['diff'])
        assert differences(first[key], real[key]) == [], (first[key], real[key])
        n = len(fake.log)
        again = self.run(module, args, diff=True)
        assert again['changed'] is False and writes(fake, n) == [], (again, writes(fake, n))
        assert differences(again[key], real[key]) == [], (again[key], real[key])
        again_check = self.run(module, args, check=True, diff=True)
        assert again_check['changed'] is False and writes(fake, n) == [], again_check
        return first, real
