# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""ipvs_vip without a kernel: pyroute2's IPRoute replaced by FakeNet, an
in-memory rtnetlink that keeps the kernel's rules this module meets (an IPv4
address is its address and prefix, an IPv6 address one per interface,
secondaries that go with their primary unless promote_secondaries, labels,
peers, broadcast, flags and lifetimes, a link-local address when an interface
comes up, disable_ipv6, an interface without IPv6, the kernel's own words only
with ext_ack, no CAP_NET_ADMIN). It is one network namespace: a regular file
stands in for it, setns() is faked, and a netlink socket or sysctl opened
outside it fails the test. Each write it gets is logged with the arguments
pyroute2 would encode."""

import builtins
import contextlib
import errno
import importlib.abc
import importlib.util
import ipaddress
import os
import socket
import sys

import pytest

from ansible.module_utils.basic import AnsibleModule
from harness import Harness, differences
from pyroute2.netlink.exceptions import NetlinkError

from ansible_collections.lvs.ipvs.plugins.module_utils import _netns, _vip
from ansible_collections.lvs.ipvs.plugins.modules import ipvs_vip

IFA_F_SECONDARY = IFA_F_TEMPORARY = 0x01
IFA_F_PERMANENT = 0x80
IFA_F_NOPREFIXROUTE = 0x200
INFINITY = 0xFFFFFFFF
# What pyroute2's addr('add') is given by the module, and what the fake understands.
ADD_ARGS = {'index', 'address', 'local', 'prefixlen', 'scope', 'label', 'broadcast', 'flags', 'valid_lft',
            'preferred_lft', 'rt_priority', 'proto'}
PROMOTE_ALL = 'ipv4/conf/all/promote_secondaries'
DEFAULT_DISABLE_IPV6 = 'ipv6/conf/default/disable_ipv6'


class Nla:
    def __init__(self, **attrs):
        self.attrs = attrs

    def get_attr(self, name):
        return self.attrs.get(name)


class Msg(Nla):
    def __init__(self, fields, **attrs):
        super(Msg, self).__init__(**attrs)
        self.fields = fields

    def __getitem__(self, name):
        return self.fields[name]


class FakeNet:
    """The links, addresses and sysctls of one network namespace (the file `netns`), and every
    request made."""

    def __init__(self, netns, kinds=('dummy',)):
        self.netns = netns
        self.current = None  # the namespace this process is in: None (its own) or `netns`
        self.kinds = kinds
        self.ipv6 = True  # False: a kernel booted with ipv6.disable=1
        self.links = {}
        self.addrs = []
        self.sysctls = {PROMOTE_ALL: '0', DEFAULT_DISABLE_IPV6: '0'}
        self.sysctl_readonly = False  # /proc/sys mounted read-only, as in many containers
        self.sysctl_refuse = {}  # value written -> errno
        self.sysctl_log = []  # (key, None for a read or the value written, namespace)
        self.writes = []  # (method, command, kwargs)
        self.connected_in = []  # the namespace of each netlink socket
        self.ext_ack = []  # whether each socket asked for the kernel's error texts
        self.opened = self.closed = 0
        self.deny = False  # no CAP_NET_ADMIN
        self.refuse = {}  # (command, address) -> errno
        self.explode = None  # (command, address): an exception that is no NetlinkError, before the kernel acts
        self.explode_after = None  # (command, address): the same once the kernel has acted (the reply is lost)
        self.dump_breaks_after = None  # (command, address): after that write, reading addresses fails
        self.dump_broken = False
        self.add_link('lo', kind=None, up=True)
        self.add_address('lo', '127.0.0.1/8', scope=254)
        self.add_address('lo', '::1/128')

    # -- set-up helpers, as `ip` would do it
    def add_link(self, name, kind='dummy', up=False, ipv6_disabled=False, no_ipv6=False):
        """no_ipv6: the interface has no IPv6 state (an MTU below 1280)."""
        index = len(self.links) + 1
        self.links[name] = dict(index=index, kind=kind, up=False, ipv6_disabled=ipv6_disabled,
                                no_ipv6=no_ipv6 or not self.ipv6, promote='0')
        if up:
            self._up(name)
        return index

    def add_address(self, name, cidr, peer=None, **attrs):
        """attrs: scope, label, broadcast, flags, valid_lft, preferred_lft, proto, rt_priority."""
        iface = ipaddress.ip_interface(cidr)
        self._add(self.links[name]['index'], str(iface.ip), peer, iface.network.prefixlen, attrs)

    def show(self, name):
        """What `ip addr show dev name` would list, as CIDR strings."""
        index = self.links[name]['index']
        return sorted('%s/%d' % (a['address'], a['prefixlen']) for a in self.addrs if a['index'] == index)

    def entry(self, name, cidr):
        """The kernel's record of address `cidr` of `name` (secondary, label, peer, lifetimes, ...)."""
        index = self.links[name]['index']
        found = [a for a in self.addrs if a['index'] == index and '%s/%d' % (a['address'], a['prefixlen']) == cidr]
        assert len(found) == 1, (cidr, self.addrs)
        return dict((k, v) for k, v in found[0].items() if k != 'index')

    def write_log(self):
        return [(m, c, dict(kw)) for m, c, kw in self.writes]

    def promote_values(self):
        return dict([('all', self.sysctls[PROMOTE_ALL])] + [(k, v['promote']) for k, v in self.links.items()])

    def sysctl_writes(self, since=0):
        return [(key, value) for key, value, _ns in self.sysctl_log[since:] if value is not None]

    # -- the kernel's rules
    def _link_by_index(self, index):
        for name, link in self.links.items():
            if link['index'] == index:
                return name, link
        raise NetlinkError(errno.ENODEV, 'No such device')

    def _up(self, name):
        link = self.links[name]
        link['up'] = True
        if not link['ipv6_disabled'] and not link['no_ipv6'] and link['kind'] is not None:
            ll = 'fe80::%x' % (0x1000 + link['index'])
            if not any(a['address'] == ll for a in self.addrs):
                self._add(link['index'], ll, None, 64, {})

    @staticmethod
    def _subnet(address, prefixlen):
        return ipaddress.ip_interface('%s/%d' % (address, prefixlen)).network

    def _group(self, a):
        """The IPv4 addresses of a's interface in a's subnet (the kernel: same mask, and IFA_ADDRESS,
        the peer for a point-to-point address, in the same subnet)."""
        net = self._subnet(a['peer'] or a['address'], a['prefixlen'])
        return [b for b in self.addrs if b['index'] == a['index'] and b['family'] == socket.AF_INET
                and b['prefixlen'] == a['prefixlen'] and self._subnet(b['peer'] or b['address'], b['prefixlen']) == net]

    def _add(self, index, local, peer, prefixlen, attrs):
        name, link = self._link_by_index(index)
        ip = ipaddress.ip_address(local)
        flags = attrs.get('flags', 0) & ~IFA_F_PERMANENT
        new = dict(index=index, family=socket.AF_INET6 if ip.version == 6 else socket.AF_INET, address=local,
                   peer=peer, prefixlen=prefixlen, secondary=False, scope=attrs.get('scope', 0),
                   label=attrs.get('label', name) if ip.version == 4 else None, broadcast=attrs.get('broadcast'),
                   flags=flags, valid=attrs.get('valid_lft'), preferred=attrs.get('preferred_lft'),
                   proto=attrs.get('proto'), rt_priority=attrs.get('rt_priority'))
        if ip.version == 6:
            if not self.ipv6:
                raise NetlinkError(errno.EOPNOTSUPP, 'Operation not supported')  # no AF_INET6 handler at all
            if link['no_ipv6']:
                raise NetlinkError(errno.EINVAL, 'Invalid argument')  # no inet6_dev: MTU below 1280
            if link['ipv6_disabled']:
                raise NetlinkError(errno.EACCES, 'ipv6: IPv6 is disabled on this device')
            if ip.is_loopback and link['kind'] is not None:
                raise NetlinkError(errno.EADDRNOTAVAIL, 'ipv6: Cannot assign loopback address on this device')
            if any(a['index'] == index and a['address'] == local for a in self.addrs):
                raise NetlinkError(errno.EEXIST, 'ipv6: address already assigned')
        else:
            new['flags'] = flags & ~IFA_F_SECONDARY
            for a in self._group(new):
                if a['address'] == local:
                    raise NetlinkError(errno.EEXIST, 'ipv4: Address already assigned')
                if a['scope'] != new['scope']:
                    raise NetlinkError(errno.EINVAL, 'ipv4: Invalid scope value')
                new['secondary'] = True
        self.addrs.append(new)

    def _promotes(self, link):
        return link['promote'] != '0' or self.sysctls[PROMOTE_ALL] != '0'

    def _delete(self, index, address, prefixlen, local):
        _name, link = self._link_by_index(index)
        for a in self.addrs:
            if a['index'] == index and a['address'] == (local or address) and a['prefixlen'] == prefixlen:
                if a['family'] == socket.AF_INET and local and address and (
                        self._subnet(address, prefixlen) != self._subnet(a['peer'] or a['address'], prefixlen)):
                    continue
                break
        else:
            raise NetlinkError(errno.EADDRNOTAVAIL, 'Cannot assign requested address')
        group = self._group(a) if a['family'] == socket.AF_INET and not a['secondary'] else []
        self.addrs.remove(a)
        secondaries = [b for b in group if b['secondary']]
        if secondaries and self._promotes(link):
            secondaries[0]['secondary'] = False  # the first one becomes the primary
        else:
            for b in secondaries:
                self.addrs.remove(b)

    def _write(self, method, command, kwargs):
        self.writes.append((method, command, kwargs))
        if self.deny:
            raise NetlinkError(errno.EPERM, 'Operation not permitted')
        key = (command, kwargs.get('local') or kwargs.get('address') or kwargs.get('ifname'))
        if self.explode == key:
            raise OSError(errno.EIO, 'the socket broke')
        if key in self.refuse:
            raise NetlinkError(self.refuse[key], 'refused by the test')
        return key

    def _after(self, key):
        if self.dump_breaks_after == key:
            self.dump_broken = True
        if self.explode_after == key:
            raise OSError(errno.EIO, 'the reply was lost')

    # -- /proc/sys/net of this namespace (the module's own `open`)
    def _sysctl(self, key, value=None):
        """The value of sysctl file `key` (None: there is no such file), or set it."""
        parts = key.split('/')
        if self.current != self.netns:
            return None  # another namespace: none of this one's files
        if key in self.sysctls and (key != DEFAULT_DISABLE_IPV6 or self.ipv6):
            if value is not None:
                self.sysctls[key] = value
            return self.sysctls[key]
        if len(parts) == 4 and parts[:2] == ['ipv4', 'conf'] and parts[3] == 'promote_secondaries' \
                and parts[2] in self.links:
            if value is not None:
                self.links[parts[2]]['promote'] = value
            return self.links[parts[2]]['promote']
        return None

    def open(self, path, mode='r', *args, **kwargs):
        if not str(path).startswith('/proc/sys/net/'):
            return builtins.open(path, mode, *args, **kwargs)
        return FakeSysctlFile(self, str(path), 'w' in mode)

    # -- what the module's setns() does
    def setns(self, fd):
        target = os.readlink('/proc/self/fd/%d' % fd)
        self.current = target if target == self.netns else None

    # -- the IPRoute API the module uses
    def connect(self, ext_ack=False):
        self.opened += 1
        self.connected_in.append(self.current)
        self.ext_ack.append(ext_ack)
        return FakeIPRoute(self, ext_ack)


class FakeSysctlFile:
    def __init__(self, net, path, write):
        self.net, self.path, self.key = net, path, path[len('/proc/sys/net/'):]
        net.sysctl_log.append((self.key, None, net.current))
        if net._sysctl(self.key) is None:
            raise FileNotFoundError(errno.ENOENT, 'No such file or directory', path)
        if write and net.sysctl_readonly:
            raise OSError(errno.EROFS, 'Read-only file system', path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def read(self):
        return self.net._sysctl(self.key) + '\n'

    def write(self, text):
        value = text.strip()
        self.net.sysctl_log.append((self.key, value, self.net.current))
        if value in self.net.sysctl_refuse:
            raise OSError(self.net.sysctl_refuse[value], os.strerror(self.net.sysctl_refuse[value]))
        self.net._sysctl(self.key, value)
        return len(text)


class FakeIPRoute:
    def __init__(self, net, ext_ack):
        self.net = net
        self.ext_ack = ext_ack

    def close(self):
        self.net.closed += 1

    def _kernel(self, func, *args):
        """The kernel's words reach the caller only through ext_ack; without it, the errno alone."""
        try:
            return func(*args)
        except NetlinkError as e:
            if self.ext_ack:
                raise
            raise NetlinkError(e.code)

    def link(self, command, **kw):
        net = self.net
        if command == 'get':
            link = net.links.get(kw['ifname'])
            if link is None:
                raise NetlinkError(errno.ENODEV, 'No such device')
            info = Nla(IFLA_INFO_KIND=link['kind']) if link['kind'] else None
            spec = dict(AF_INET=Nla())
            if not link['no_ipv6']:
                spec['AF_INET6'] = Nla(IFLA_INET6_CONF=dict(disable_ipv6=int(link['ipv6_disabled']), mtu=1500))
            return (Msg(dict(index=link['index'], flags=0x1000 | (1 if link['up'] else 0)),
                        IFLA_IFNAME=kw['ifname'], IFLA_LINKINFO=info, IFLA_AF_SPEC=Nla(**spec)),)
        self._kernel(net._write, 'link', command, kw)
        if command == 'add':
            if kw['kind'] not in net.kinds:
                self._kernel(self._raise, errno.EOPNOTSUPP, 'Unknown device type')
            if kw['ifname'] in net.links:
                self._kernel(self._raise, errno.EEXIST, 'File exists')
            net.add_link(kw['ifname'], kind=kw['kind'], ipv6_disabled=net.sysctls[DEFAULT_DISABLE_IPV6] != '0')
        elif command == 'set':
            name, _link = self._kernel(net._link_by_index, kw['index'])
            assert kw == dict(index=kw['index'], state='up'), kw
            net._up(name)
        return ()

    @staticmethod
    def _raise(code, text):
        raise NetlinkError(code, text)

    def addr(self, command, **kw):
        net = self.net
        if command == 'dump':
            if net.dump_broken:
                raise OSError(errno.EIO, 'the socket broke')
            out = []
            for a in net.addrs:
                flags = a['flags'] | (IFA_F_SECONDARY if a['secondary'] else 0) | (
                    IFA_F_PERMANENT if a['valid'] is None else 0)
                cacheinfo = dict(ifa_valid=INFINITY if a['valid'] is None else a['valid'],
                                 ifa_preferred=INFINITY if a['preferred'] is None else a['preferred'], cstamp=1, tstamp=1)
                attrs = dict(IFA_ADDRESS=a['peer'] or a['address'], IFA_FLAGS=flags, IFA_CACHEINFO=cacheinfo)
                if a['family'] == socket.AF_INET or a['peer']:
                    attrs['IFA_LOCAL'] = a['address']
                for key, nla in (('label', 'IFA_LABEL'), ('broadcast', 'IFA_BROADCAST'), ('proto', 'IFA_PROTO'),
                                 ('rt_priority', 'IFA_RT_PRIORITY')):
                    if a[key] is not None:
                        attrs[nla] = a[key]
                out.append(Msg(dict(family=a['family'], prefixlen=a['prefixlen'], index=a['index'], flags=flags & 0xff,
                                    scope=a['scope']), **attrs))
            return iter(out)
        key = self._kernel(net._write, 'addr', command, kw)
        if command == 'add':
            assert set(kw) <= ADD_ARGS, set(kw) - ADD_ARGS
            local = kw.get('local') or kw['address']
            peer = kw['address'] if kw.get('local') and kw['address'] != kw['local'] else None
            attrs = dict((k, v) for k, v in kw.items() if k not in ('index', 'address', 'local', 'prefixlen'))
            self._kernel(net._add, kw['index'], local, peer, kw['prefixlen'], attrs)
        elif command == 'del':
            self._kernel(net._delete, kw['index'], kw['address'], kw['prefixlen'], kw.get('local'))
        net._after(key)
        return ()


@pytest.fixture
def h(monkeypatch, capsys, tmp_path):
    harness = Harness(monkeypatch, capsys)
    netns = tmp_path / 'netns'  # stands in for /run/netns/NAME: _netns.entered wants a regular file
    netns.write_text('')
    net = harness.net = FakeNet(os.path.realpath(str(netns)))
    monkeypatch.setattr(_vip, 'IPRoute', net.connect)
    monkeypatch.setattr(_vip, 'open', net.open, raising=False)
    monkeypatch.setattr(_netns, '_setns_func', lambda: net.setns)
    return harness


def run(h, args, check=False, diff=True, restores=True):
    """Run ipvs_vip in the fake's namespace (unless args name one). Whatever the module opens,
    it opens there; it leaves no socket open, and no promote_secondaries changed (unless
    `restores` is False)."""
    net = h.net
    if 'netns' not in args:
        args = dict(args, netns=net.netns)
    promote = net.promote_values()
    sockets, sysctls = len(net.connected_in), len(net.sysctl_log)
    result = h.run(ipvs_vip, args, check=check, diff=diff)
    assert net.opened == net.closed, 'the netlink socket was left open'
    assert net.current is None, 'the module stayed in the network namespace'
    assert net.connected_in[sockets:] in ([], [net.netns]), \
        'a netlink socket was opened outside the network namespace: %s' % net.connected_in[sockets:]
    outside = [entry for entry in net.sysctl_log[sysctls:] if entry[2] != net.netns]
    assert outside == [], 'sysctls opened outside the network namespace: %s' % outside
    if restores:
        now = net.promote_values()
        assert dict((k, now[k]) for k in promote if k in now) == promote, 'promote_secondaries was left changed'
    return result


def four(h, args):
    """check, real, again, check again. The check run sends no write and predicts
    the real run's result and diff field by field; then nothing is left to do."""
    net = h.net
    n, s = len(net.writes), len(net.sysctl_log)
    state = (dict((k, dict(v)) for k, v in net.links.items()), [dict(a) for a in net.addrs])
    first = run(h, args, check=True)
    assert 'failed' not in first, first
    assert net.writes[n:] == [], 'check mode sent %s' % net.writes[n:]
    assert net.sysctl_writes(s) == [], 'check mode wrote sysctls: %s' % net.sysctl_writes(s)
    assert (dict((k, dict(v)) for k, v in net.links.items()), [dict(a) for a in net.addrs]) == state
    real = run(h, args)
    h.real_warnings = list(h.warnings)
    assert 'failed' not in real, real
    for key in set(first) | set(real):
        if key != 'invocation':
            assert differences(first.get(key), real.get(key)) == [], (key, first.get(key), real.get(key))
    assert real['changed'] == (len(net.writes) > n)
    n = len(net.writes)
    again = run(h, args)
    assert again['changed'] is False and net.writes[n:] == [], again
    assert again['addresses'] == real['addresses'] and again['added'] == again['removed'] == []
    assert run(h, args, check=True)['changed'] is False and net.writes[n:] == []
    return first, real


def test_the_fake_fails_a_socket_opened_outside_the_namespace(h, monkeypatch):
    monkeypatch.setattr(_vip, 'entered', lambda netns: contextlib.nullcontext())
    with pytest.raises(AssertionError, match='outside the network namespace'):
        run(h, dict(interface='lo', addresses=['192.0.2.1']))


# ---------------------------------------------------------------- the usual path

def test_dummy_created_brought_up_and_given_its_addresses(h):
    args = dict(interface='vip0', kind='dummy', addresses=['2001:db8::10', '198.51.100.1/24', '192.0.2.10'])
    first, real = four(h, args)
    want = ['192.0.2.10/32', '198.51.100.1/24', '2001:db8::10/128']
    assert real['changed'] and real['created'] is True and real['up'] is True
    assert real['added'] == real['addresses'] == want and real['removed'] == []
    assert first['diff'] == dict(before=dict(interface='vip0', exists=False, up=False, addresses=[]),
                                 after=dict(interface='vip0', exists=True, up=True, addresses=want))
    index = h.net.links['vip0']['index']
    assert h.net.write_log() == [
        ('link', 'add', dict(ifname='vip0', kind='dummy')),
        ('link', 'set', dict(index=index, state='up')),
        ('addr', 'add', dict(index=index, address='192.0.2.10', prefixlen=32)),
        ('addr', 'add', dict(index=index, address='198.51.100.1', prefixlen=24)),
        ('addr', 'add', dict(index=index, address='2001:db8::10', prefixlen=128)),
    ]
    # The kernel's link-local address is on the interface, and in no result.
    assert 'fe80::1002/64' in h.net.show('vip0') and 'fe80::1002/64' not in real['addresses']


def test_without_diff_there_is_no_diff(h):
    result = run(h, dict(interface='lo', addresses=['192.0.2.1']), diff=False)
    assert result['changed'] and 'diff' not in result


def test_a_down_dummy_is_brought_up_but_another_interface_is_left_down(h):
    h.net.add_link('vip0')
    h.net.add_link('eth0', kind=None)
    first, real = four(h, dict(interface='vip0', kind='dummy'))
    assert real['changed'] and real['up'] is True and real['created'] is False
    assert (first['diff']['before']['up'], first['diff']['after']['up']) == (False, True)
    assert [(m, c) for m, c, _kw in h.net.writes] == [('link', 'set')]
    first, real = four(h, dict(interface='eth0', addresses=['192.0.2.1']))
    assert real['up'] is False and h.net.links['eth0']['up'] is False
    # state=absent brings nothing up.
    h.net.add_link('vip1')
    result = run(h, dict(interface='vip1', kind='dummy', state='absent'))
    assert result['changed'] is False and h.net.links['vip1']['up'] is False


def test_ipv4_loopback_addresses_get_host_scope_and_removal_names_the_exact_address(h):
    h.net.add_address('lo', '10.0.0.1/24')
    h.net.add_address('lo', '10.0.0.1/32')
    h.net.add_address('lo', '2001:db8::1/128')
    four(h, dict(interface='lo', addresses=['127.0.0.2', '10.0.0.1/32', '2001:db8::1'], state='absent'))
    four(h, dict(interface='lo', addresses=['127.0.0.2']))
    assert h.net.write_log() == [
        ('addr', 'del', dict(index=1, address='10.0.0.1', local='10.0.0.1', prefixlen=32)),
        ('addr', 'del', dict(index=1, address='2001:db8::1', prefixlen=128)),
        ('addr', 'add', dict(index=1, address='127.0.0.2', prefixlen=32, scope=254)),
    ]
    assert h.net.show('lo') == ['10.0.0.1/24', '127.0.0.1/8', '127.0.0.2/32', '::1/128']


def test_purge_keeps_link_local_and_loopback_addresses(h):
    h.net.add_link('vip0', up=True)
    for cidr in ('192.0.2.1/32', '192.0.2.2/32', '2001:db8::2/128', 'fe80::99/64'):
        h.net.add_address('vip0', cidr)
    first, real = four(h, dict(interface='vip0', addresses=['192.0.2.1'], purge=True))
    assert real['removed'] == ['192.0.2.2/32', '2001:db8::2/128'] and real['addresses'] == ['192.0.2.1/32']
    assert first['diff']['before']['addresses'] == ['192.0.2.1/32', '192.0.2.2/32', '2001:db8::2/128']
    assert h.net.show('vip0') == ['192.0.2.1/32', 'fe80::1002/64', 'fe80::99/64']
    first, real = four(h, dict(interface='lo', addresses=[], purge=True))
    assert real['changed'] is False and real['addresses'] == ['127.0.0.1/8', '::1/128']
    # Named, a link-local address is managed like any other (and shown).
    first, real = four(h, dict(interface='vip0', addresses=['fe80::99/64'], state='absent'))
    assert real['removed'] == ['fe80::99/64'] and first['diff']['before']['addresses'] == ['192.0.2.1/32', 'fe80::99/64']
    assert h.net.show('vip0') == ['192.0.2.1/32', 'fe80::1002/64']
    # purge: true with state=absent removes only what is listed.
    first, real = four(h, dict(interface='lo', addresses=['::1'], state='absent', purge=True))
    assert real['removed'] == ['::1/128'] and real['addresses'] == ['127.0.0.1/8']


def test_absent_removes_only_what_is_listed_and_keeps_the_interface(h):
    h.net.add_link('vip0', up=True)
    for cidr in ('192.0.2.1/32', '192.0.2.2/32', '2001:db8::1/128'):
        h.net.add_address('vip0', cidr)
    first, real = four(h, dict(interface='vip0', kind='dummy', state='absent',
                               addresses=['192.0.2.1', '2001:db8::1', '203.0.113.9', '192.0.2.2/24']))
    assert real['removed'] == ['192.0.2.1/32', '2001:db8::1/128'] and real['addresses'] == ['192.0.2.2/32']
    assert first['diff']['after'] == dict(interface='vip0', exists=True, up=True, addresses=['192.0.2.2/32'])
    first, real = four(h, dict(interface='vip0', kind='dummy', state='absent', addresses=['192.0.2.2']))
    assert real['addresses'] == [] and 'vip0' in h.net.links


@pytest.mark.parametrize('kind', [{}, dict(kind='dummy')])
def test_absent_on_a_missing_interface_is_ok_and_creates_nothing(h, kind):
    first, real = four(h, dict(kind, interface='vip9', addresses=['192.0.2.1'], state='absent'))
    assert real['changed'] is False and real['created'] is False and real['addresses'] == []
    nothing = dict(interface='vip9', exists=False, up=False, addresses=[])
    assert first['diff']['before'] == first['diff']['after'] == nothing
    assert 'vip9' not in h.net.links and h.net.writes == []


def test_an_ipv6_address_listed_with_another_prefix_replaces_it(h):
    h.net.add_address('lo', '2001:db8::1/64')
    h.net.add_address('lo', '10.0.0.1/24')
    first, real = four(h, dict(interface='lo', addresses=['2001:db8::1', '10.0.0.1']))
    assert real['removed'] == ['2001:db8::1/64'] and real['added'] == ['10.0.0.1/32', '2001:db8::1/128']
    assert real['addresses'] == ['10.0.0.1/24', '10.0.0.1/32', '127.0.0.1/8', '::1/128', '2001:db8::1/128']
    assert [(c, kw['address']) for _m, c, kw in h.net.writes] == [
        ('del', '2001:db8::1'), ('add', '10.0.0.1'), ('add', '2001:db8::1')]


def secondaries(net, name='lo'):
    """10.2.0.1/24 (the primary) and secondaries 10.2.0.2/24 (with a label, broadcast, flags, lifetimes,
    proto and metric), 10.2.0.3 peer 10.2.0.254/24 and 10.2.0.4/24; 10.3.0.1/24 with 10.3.0.2/24."""
    net.add_address(name, '10.2.0.1/24', label=name + ':p')
    net.add_address(name, '10.2.0.2/24', label=name + ':s', broadcast='10.2.0.255', flags=IFA_F_NOPREFIXROUTE,
                    valid_lft=3000, preferred_lft=2000, proto=99, rt_priority=7)
    net.add_address(name, '10.2.0.3/24', peer='10.2.0.254')
    net.add_address(name, '10.2.0.4/24')
    net.add_address(name, '10.3.0.1/24')
    net.add_address(name, '10.3.0.2/24')
    assert [net.entry(name, c)['secondary'] for c in ('10.2.0.2/24', '10.2.0.3/24', '10.2.0.4/24', '10.3.0.2/24')] \
        == [True] * 4


def test_removing_a_primary_has_the_kernel_promote_a_secondary_instead_of_dropping_them(h):
    secondaries(h.net)
    before = dict((c, h.net.entry('lo', c)) for c in ('10.2.0.2/24', '10.2.0.3/24'))
    first, real = four(h, dict(interface='lo', addresses=['10.2.0.1/24', '10.2.0.4/24'], state='absent'))
    assert real['removed'] == ['10.2.0.1/24', '10.2.0.4/24'] and real['added'] == []
    assert real['addresses'] == ['10.2.0.2/24', '10.2.0.3/24', '10.3.0.1/24', '10.3.0.2/24', '127.0.0.1/8', '::1/128']
    # The secondary first, then the primary: nothing added back, the secondaries as they were.
    assert [(c, kw['local']) for _m, c, kw in h.net.writes] == [('del', '10.2.0.4'), ('del', '10.2.0.1')]
    assert h.net.entry('lo', '10.2.0.2/24') == dict(before['10.2.0.2/24'], secondary=False)  # promoted
    assert h.net.entry('lo', '10.2.0.3/24') == before['10.2.0.3/24']
    # promote_secondaries of lo, set for the removal and put back, in the namespace (run() checks that).
    assert h.net.sysctl_writes() == [('ipv4/conf/lo/promote_secondaries', '1'), ('ipv4/conf/lo/promote_secondaries', '0')]
    assert h.real_warnings == []


def test_promote_secondaries_already_set_is_left_alone(h):
    secondaries(h.net)
    h.net.sysctls[PROMOTE_ALL] = '1'
    four(h, dict(interface='lo', addresses=['10.2.0.1/24'], state='absent'))
    assert h.net.sysctl_writes() == [] and [c for _m, c, _kw in h.net.writes] == ['del']
    h.net.links['lo']['promote'] = '1'
    h.net.sysctls[PROMOTE_ALL] = '0'
    four(h, dict(interface='lo', addresses=['10.2.0.2/24'], state='absent'))
    assert h.net.sysctl_writes() == [] and h.net.show('lo')[:2] == ['10.2.0.3/24', '10.2.0.4/24']


def test_without_promote_secondaries_the_dropped_secondaries_are_added_back_as_they_were(h):
    secondaries(h.net)
    h.net.sysctl_readonly = True
    before = dict((c, h.net.entry('lo', c)) for c in ('10.2.0.2/24', '10.2.0.3/24', '10.2.0.4/24'))
    first, real = four(h, dict(interface='lo', addresses=['10.2.0.1/24', '10.3.0.2/24'], state='absent'))
    assert real['removed'] == ['10.2.0.1/24', '10.3.0.2/24'] and real['added'] == []
    assert real['addresses'] == ['10.2.0.2/24', '10.2.0.3/24', '10.2.0.4/24', '10.3.0.1/24', '127.0.0.1/8', '::1/128']
    assert h.net.write_log() == [
        ('addr', 'del', dict(index=1, address='10.3.0.2', local='10.3.0.2', prefixlen=24)),
        ('addr', 'del', dict(index=1, address='10.2.0.1', local='10.2.0.1', prefixlen=24)),
        ('addr', 'add', dict(index=1, address='10.2.0.2', local='10.2.0.2', prefixlen=24, scope=0, label='lo:s',
                             broadcast='10.2.0.255', flags=IFA_F_NOPREFIXROUTE, valid_lft=3000, preferred_lft=2000,
                             proto=99, rt_priority=7)),
        ('addr', 'add', dict(index=1, address='10.2.0.254', local='10.2.0.3', prefixlen=24, scope=0, label='lo')),
        ('addr', 'add', dict(index=1, address='10.2.0.4', local='10.2.0.4', prefixlen=24, scope=0, label='lo')),
    ]
    assert h.net.entry('lo', '10.2.0.2/24') == dict(before['10.2.0.2/24'], secondary=False)
    assert h.net.entry('lo', '10.2.0.3/24') == before['10.2.0.3/24']
    assert h.net.entry('lo', '10.2.0.4/24') == before['10.2.0.4/24']
    assert h.real_warnings == [
        'cannot set net.ipv4.conf.lo.promote_secondaries=1: Read-only file system; removing a primary IPv4 address '
        'makes the kernel drop the secondary addresses of its subnet, so those that are to stay were added back '
        '(a short interruption)']


def test_secondaries_that_cannot_be_added_back_are_all_reported(h):
    secondaries(h.net)
    h.net.sysctl_readonly = True
    h.net.refuse[('add', '10.2.0.2')] = errno.ENOMEM
    h.net.refuse[('add', '10.2.0.3')] = errno.ENOMEM
    result = run(h, dict(interface='lo', addresses=['10.2.0.1/24', '10.3.0.1/24'], state='absent'))
    assert result['failed'] and result['changed'] is True
    assert result['applied'] == ['remove 10.2.0.1/24 from lo', 'add 10.2.0.4/24 back to lo (the kernel dropped it '
                                                               'with its primary address 10.2.0.1/24)']
    assert [f['change'] for f in result['not_applied']] == [
        'add 10.2.0.2/24 back to lo (the kernel dropped it with its primary address 10.2.0.1/24)',
        'add 10.2.0.3/24 back to lo (the kernel dropped it with its primary address 10.2.0.1/24)']
    assert result['msg'].startswith('cannot add 10.2.0.2/24 back to lo (the kernel dropped it with its primary '
                                    'address 10.2.0.1/24): Cannot allocate memory')
    assert ' (and 1 more change failed)' in result['msg']
    # Nothing after that: 10.3.0.1/24 and its secondary are still there.
    assert '10.3.0.1/24' in h.net.show('lo') and '10.3.0.2/24' in h.net.show('lo')


def test_a_removal_that_fails_half_way_loses_no_secondary(h):
    secondaries(h.net)
    h.net.sysctl_readonly = True
    h.net.refuse[('del', '10.3.0.1')] = errno.EBUSY
    result = run(h, dict(interface='lo', addresses=['10.2.0.1/24', '10.3.0.1/24'], state='absent'))
    assert result['failed'] and result['changed'] is True
    assert [f['change'] for f in result['not_applied']] == ['remove 10.3.0.1/24 from lo']
    assert h.net.show('lo') == ['10.2.0.2/24', '10.2.0.3/24', '10.2.0.4/24', '10.3.0.1/24', '10.3.0.2/24',
                                '127.0.0.1/8', '::1/128']


def test_secondaries_that_may_have_been_dropped_are_reported_when_that_cannot_be_checked(h):
    secondaries(h.net)
    h.net.sysctl_readonly = True
    h.net.dump_breaks_after = ('del', '10.2.0.1')
    result = run(h, dict(interface='lo', addresses=['10.2.0.1/24'], state='absent'))
    assert result['failed'] and result['changed'] is True and result['applied'] == ['remove 10.2.0.1/24 from lo']
    assert result['not_applied'] == [dict(
        change='add %s back to lo (the kernel dropped it with its primary address 10.2.0.1/24)' % c,
        error='%s may have been dropped by the kernel with 10.2.0.1/24 and could not be checked: cannot read the '
              'addresses of lo: [Errno 5] the socket broke' % c) for c in ('10.2.0.2/24', '10.2.0.3/24', '10.2.0.4/24')]


@pytest.mark.parametrize('readonly', [False, True])
def test_a_lost_reply_to_the_removal_of_a_primary_loses_no_secondary(h, readonly):
    secondaries(h.net)
    h.net.sysctl_readonly = readonly
    h.net.explode_after = ('del', '10.2.0.1')
    result = run(h, dict(interface='lo', addresses=['10.2.0.1/24'], state='absent'))
    assert result['failed'] and result['changed'] is True
    assert result['msg'] == 'cannot remove 10.2.0.1/24 from lo: [Errno 5] the reply was lost'
    assert h.net.show('lo')[:3] == ['10.2.0.2/24', '10.2.0.3/24', '10.2.0.4/24']
    assert len(result['applied']) == (3 if readonly else 0)


def test_promote_secondaries_is_put_back_when_a_removal_fails(h):
    secondaries(h.net)
    h.net.refuse[('del', '10.2.0.1')] = errno.EBUSY
    result = run(h, dict(interface='lo', addresses=['10.2.0.1/24'], state='absent'))
    assert result['failed'] and not result.get('changed') and 'applied' not in result, result
    assert h.net.sysctl_writes() == [('ipv4/conf/lo/promote_secondaries', '1'), ('ipv4/conf/lo/promote_secondaries', '0')]


def test_promote_secondaries_that_cannot_be_put_back_is_reported(h):
    secondaries(h.net)
    h.net.sysctl_refuse['0'] = errno.EIO
    result = run(h, dict(interface='lo', addresses=['10.2.0.1/24'], state='absent'), restores=False)
    assert result['failed'] and result['changed'] is True
    assert result['applied'] == ['set net.ipv4.conf.lo.promote_secondaries=1', 'remove 10.2.0.1/24 from lo']
    assert result['not_applied'] == [dict(change='set net.ipv4.conf.lo.promote_secondaries back to 0',
                                          error='cannot set net.ipv4.conf.lo.promote_secondaries back to 0: '
                                                'Input/output error')]
    assert h.net.links['lo']['promote'] == '1' and h.net.show('lo')[:3] == ['10.2.0.2/24', '10.2.0.3/24', '10.2.0.4/24']


def test_ipv6_temporary_addresses_are_no_secondaries_and_lifetimes_are_read(h):
    # IFA_F_TEMPORARY (an IPv6 privacy address) is the bit of IFA_F_SECONDARY.
    h.net.add_link('vip0', up=True)
    h.net.add_address('vip0', '2001:db8::5/64', flags=IFA_F_TEMPORARY, valid_lft=600, preferred_lft=300)
    h.net.add_address('vip0', '10.0.0.1/24')
    h.net.add_address('vip0', '10.0.0.2/24', valid_lft=600, preferred_lft=300)
    rt = _vip.Rtnl(h.net.netns)
    try:
        got = dict((a.cidr, (a.secondary, a.permanent, a.attrs.get('valid_lft'))) for a in rt.addresses(2, 'vip0'))
    finally:
        rt.close()
    assert got == {'2001:db8::5/64': (False, False, 600), '10.0.0.1/24': (False, True, None),
                   '10.0.0.2/24': (True, False, 600), 'fe80::1002/64': (False, True, None)}


def test_purge_leaves_dynamic_addresses_alone(h):
    h.net.add_link('vip0', up=True)
    h.net.add_address('vip0', '192.0.2.1/32')
    h.net.add_address('vip0', '192.0.2.5/24', valid_lft=600, preferred_lft=300)  # DHCP
    h.net.add_address('vip0', '2001:db8::1234/64', valid_lft=86400, preferred_lft=14400)  # SLAAC
    h.net.add_address('vip0', '2001:db8::5/64', flags=IFA_F_TEMPORARY, valid_lft=600, preferred_lft=300)
    h.net.add_address('vip0', '2001:db8:1::1/64')
    first, real = four(h, dict(interface='vip0', addresses=[], purge=True))
    assert real['removed'] == ['192.0.2.1/32', '2001:db8:1::1/64']
    assert real['addresses'] == ['192.0.2.5/24', '2001:db8::5/64', '2001:db8::1234/64']
    # Named, they are managed like any other.
    first, real = four(h, dict(interface='vip0', addresses=['2001:db8::5/64'], state='absent'))
    assert real['removed'] == ['2001:db8::5/64']


def test_duplicates_and_spellings_collapse(h):
    args = dict(interface='lo', addresses=['192.0.2.1', '192.0.2.1/32', ' 2001:DB8:0::1 ', '[2001:db8::2]/64'])
    first, real = four(h, args)
    assert real['added'] == ['192.0.2.1/32', '2001:db8::1/128', '2001:db8::2/64']


# ---------------------------------------------------------------- bad input, missing things

BAD = [
    (dict(interface='lo', addresses=['192.0.2.1', 'nonsense']), "addresses[1]: 'nonsense' is not an IPv4 or IPv6 address"),
    (dict(interface='lo', addresses=['192.0.2.1/33']),
     "addresses[0]: '192.0.2.1/33': the prefix length must be a number from 0 to 32 for an IPv4 address"),
    (dict(interface='lo', addresses=['2001:db8::1/129']), "must be a number from 0 to 128 for an IPv6 address"),
    (dict(interface='lo', addresses=['192.0.2.1/24/1']), "the prefix length must be a number"),
    (dict(interface='lo', addresses=['192.0.2.1/255.255.255.0']), "the prefix length must be a number"),
    (dict(interface='lo', addresses=['fe80::1%eth0']), "is not an IPv4 or IPv6 address"),
    (dict(interface='lo', addresses=['2001:db8::1/64', '2001:db8::1']),
     "addresses[1]: 2001:db8::1/128 repeats addresses[0]'s 2001:db8::1/64 with another prefix length"),
    (dict(interface='lo', addresses=['ff02::1']), "addresses[0]: 'ff02::1' is a multicast address"),
    (dict(interface='lo', addresses=['::']), "addresses[0]: '::' is the unspecified address"),
    (dict(interface='lo', kind='dummy'),
     "interface lo exists but is not a dummy interface (it is a physical or other non-dummy interface); leave kind "
     "out to use it as it is"),
    (dict(interface='veth0', kind='dummy'), "interface veth0 exists but is not a dummy interface (it is a veth interface)"),
    (dict(interface='ifb0', kind='dummy'), "interface ifb0 exists but is not a dummy interface (it is an ifb interface)"),
    (dict(interface='vip%d', kind='dummy', addresses=['192.0.2.1']),
     "interface: 'vip%d' is not a valid interface name (1 to 15 bytes, without '/', ':', '%' or white space; the "
     "kernel would take a name with '%' as a template for a new name such as vip0)"),
    (dict(interface='vip%', kind='dummy'), "is not a valid interface name"),
    (dict(interface='x' * 16), "interface: 'xxxxxxxxxxxxxxxx' is not a valid interface name"),
    (dict(interface='eth0:1'), "is not a valid interface name"),
    (dict(interface='a b'), "is not a valid interface name"),
    (dict(interface='a\tb'), "is not a valid interface name"),
    (dict(interface='a/b'), "is not a valid interface name"),
    (dict(interface=''), "is not a valid interface name"),
    (dict(interface='v6off', addresses=['192.0.2.1', '2001:db8::1', '2001:db8::2']),
     "cannot add 2001:db8::1/128, 2001:db8::2/128 to v6off: IPv6 is disabled on that interface "
     "(sysctl net.ipv6.conf.v6off.disable_ipv6=1)"),
    (dict(interface='v6none', kind='dummy', addresses=['192.0.2.1', '2001:db8::1']),
     "cannot add 2001:db8::1/128 to v6none: IPv6 is not available on v6none (its MTU is below 1280, or the kernel "
     "runs without IPv6, booted with ipv6.disable=1)"),
    (dict(interface='lo', state='gone'), "value of state must be one of: present, absent"),
]


@pytest.mark.parametrize('check', [True, False])
@pytest.mark.parametrize('args,message', BAD)
def test_bad_input_changes_nothing(h, args, message, check):
    h.net.add_link('veth0', kind='veth')
    h.net.add_link('ifb0', kind='ifb')
    h.net.add_link('v6off', ipv6_disabled=True, up=True)
    h.net.add_link('v6none', no_ipv6=True)  # an MTU below 1280
    before = (h.net.show('lo'), sorted(h.net.links))
    result = run(h, args, check=check)
    assert result.get('failed') and message in result['msg'], result
    assert not result.get('changed') and 'applied' not in result and 'exception' not in result, result
    assert h.net.writes == [] and h.net.sysctl_writes() == [] and (h.net.show('lo'), sorted(h.net.links)) == before


def test_a_missing_interface_fails_but_check_mode_warns(h):
    args = dict(interface='eth7', addresses=['192.0.2.1'])
    result = run(h, args)
    assert result['failed'] and result['msg'] == 'interface eth7 does not exist (kind=dummy creates it)'
    assert not result.get('changed') and h.net.writes == []
    result = run(h, args, check=True)
    assert 'failed' not in result and result['changed'] and result['added'] == ['192.0.2.1/32']
    assert result['diff']['before']['exists'] is False and result['diff']['after']['exists'] is True
    assert h.warnings == ['interface eth7 does not exist (kind=dummy creates it); '
                          'check mode assumes an earlier task creates it']


@pytest.mark.parametrize('args', [dict(addresses=[]), dict(addresses=[], purge=True)])
def test_check_mode_on_a_missing_interface_with_nothing_to_do_shows_no_change(h, args):
    result = run(h, dict(args, interface='eth7'), check=True)
    assert 'failed' not in result and result['changed'] is False
    nothing = dict(interface='eth7', exists=False, up=False, addresses=[])
    assert result['diff']['before'] == result['diff']['after'] == nothing


class Unimportable(importlib.abc.MetaPathFinder):
    """Makes `import pyroute2` raise `error`, as a missing pyroute2 does (ImportError) and as
    pyroute2 0.9 and later do on Python 3.8 (TypeError: a subscripted builtin type)."""

    def __init__(self, error):
        self.error = error

    def find_spec(self, fullname, path=None, target=None):
        if fullname == 'pyroute2' or fullname.startswith('pyroute2.'):
            raise self.error
        return None


@pytest.mark.parametrize('error', [ImportError("No module named 'pyroute2'"),
                                   TypeError("'type' object is not subscriptable")])
def test_a_pyroute2_that_fails_to_import_is_reported_as_missing(h, monkeypatch, error):
    for name in list(sys.modules):
        if name == 'pyroute2' or name.startswith('pyroute2.'):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, 'meta_path', [Unimportable(error)] + sys.meta_path)
    spec = importlib.util.spec_from_file_location('_vip_without_pyroute2', _vip.__file__)
    fresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fresh)  # the import of pyroute2 fails here, and the module loads all the same
    assert fresh.IPRoute is None and type(error).__name__ in fresh.PYROUTE2_IMPORT_ERROR
    monkeypatch.setattr(ipvs_vip, 'VipModule', fresh.VipModule)
    monkeypatch.setattr(ipvs_vip, 'run', fresh.run)
    tracebacks = []  # the result has them only where tracebacks are enabled
    fail_json = AnsibleModule.fail_json
    monkeypatch.setattr(AnsibleModule, 'fail_json',
                        lambda self, msg, **kw: tracebacks.append(kw.get('exception')) or fail_json(self, msg, **kw))
    for check in (True, False):
        result = h.run(ipvs_vip, dict(interface='lo', addresses=['192.0.2.1']), check=check)
        assert result['failed'] and 'Failed to import the required Python library (pyroute2)' in result['msg']
        assert not result.get('changed') and h.net.opened == 0
    assert len(tracebacks) == 2 and all('%s: %s' % (type(error).__name__, error) in t for t in tracebacks)


def test_without_pyroute2_the_task_says_what_to_install(h, monkeypatch):
    monkeypatch.setattr(_vip, 'IPRoute', None)
    monkeypatch.setattr(_vip, 'PYROUTE2_IMPORT_ERROR', 'Traceback ...\nModuleNotFoundError: pyroute2')
    for check in (True, False):
        result = h.run(ipvs_vip, dict(interface='lo', addresses=['192.0.2.1']), check=check)
        assert result['failed'] and 'Failed to import the required Python library (pyroute2)' in result['msg']
        assert not result.get('changed') and h.net.opened == 0
    # A bad option is still named first.
    result = h.run(ipvs_vip, dict(interface='lo', addresses=['192.0.2.300']))
    assert "addresses[0]: '192.0.2.300' is not an IPv4 or IPv6 address" in result['msg']


def test_a_missing_network_namespace_is_not_created(h, tmp_path):
    result = run(h, dict(interface='lo', addresses=['192.0.2.1'], netns=str(tmp_path / 'nosuch')))
    assert result['failed'] and "network namespace '%s' does not exist" % (tmp_path / 'nosuch') in result['msg']
    assert not (tmp_path / 'nosuch').exists() and h.net.opened == 0


# ---------------------------------------------------------------- the kernel says no

@pytest.mark.parametrize('args', [
    dict(interface='lo', addresses=['192.0.2.1']),
    dict(interface='vip0', kind='dummy'),
    dict(interface='lo', addresses=['::1'], state='absent'),
])
def test_without_cap_net_admin_it_says_use_become(h, args):
    h.net.deny = True
    result = run(h, args)
    assert result['failed'] and result['msg'] == _vip.PERMISSION, result
    assert not result.get('changed') and 'applied' not in result and 'exception' not in result
    assert len(h.net.writes) == 1
    assert run(h, args, check=True)['changed'] is True, 'check mode reads only, which needs no privilege'


def test_a_write_refused_half_way_is_a_change_with_what_was_applied(h):
    h.net.add_link('vip0')
    h.net.add_address('vip0', '198.51.100.1/24', scope=254)  # another scope than the module's in that subnet
    args = dict(interface='vip0', kind='dummy', addresses=['192.0.2.1', '198.51.100.2/24', '2001:db8::1'])
    assert run(h, args, check=True)['changed'] is True
    result = run(h, args)
    assert result['failed'] and result['changed'] is True
    assert result['applied'] == ['bring up interface vip0', 'add 192.0.2.1/32 to vip0']
    assert result['not_applied'] == [dict(
        change='add 198.51.100.2/24 to vip0',
        error='cannot add 198.51.100.2/24 to vip0: Invalid argument [kernel: ipv4: Invalid scope value]')]
    assert result['msg'] == result['not_applied'][0]['error'] and 'exception' not in result
    assert h.net.show('vip0') == ['192.0.2.1/32', '198.51.100.1/24', 'fe80::1002/64']


def test_default_disable_ipv6_refuses_a_new_dummy_with_ipv6_addresses_up_front(h):
    h.net.sysctls[DEFAULT_DISABLE_IPV6] = '1'
    args = dict(interface='vip0', kind='dummy', addresses=['192.0.2.1', '2001:db8::1', '2001:db8::2'])
    for check in (True, False):
        result = run(h, args, check=check)
        assert result['failed'] and not result.get('changed') and 'applied' not in result
        assert result['msg'] == ('cannot add 2001:db8::1/128, 2001:db8::2/128 to vip0: a new interface gets IPv6 '
                                 'disabled here (sysctl net.ipv6.conf.default.disable_ipv6=1)')
    assert h.net.writes == [] and 'vip0' not in h.net.links
    assert [key for key, _v, _ns in h.net.sysctl_log] == [DEFAULT_DISABLE_IPV6, DEFAULT_DISABLE_IPV6]
    # Without IPv6 addresses, nothing is asked.
    four(h, dict(interface='vip0', kind='dummy', addresses=['192.0.2.1']))
    assert len(h.net.sysctl_log) == 2


def without_ipv6(net):
    """The kernel of `net` was booted with ipv6.disable=1."""
    net.ipv6 = False
    net.addrs = [a for a in net.addrs if a['family'] != socket.AF_INET6]
    for link in net.links.values():
        link['no_ipv6'] = True


@pytest.mark.parametrize('args,message', [
    (dict(interface='vip0', kind='dummy', addresses=['2001:db8::1']),
     'cannot add 2001:db8::1/128 to vip0: IPv6 is not available in this network namespace (there is no '
     'net.ipv6.conf.default: the kernel runs without IPv6, booted with ipv6.disable=1?)'),
    (dict(interface='lo', addresses=['2001:db8::1']), 'cannot add 2001:db8::1/128 to lo: IPv6 is not available on lo'),
])
def test_a_kernel_without_ipv6_refuses_ipv6_addresses_up_front(h, args, message):
    without_ipv6(h.net)
    for check in (True, False):
        result = run(h, args, check=check)
        assert result['failed'] and not result.get('changed') and result['msg'].startswith(message), result
    assert h.net.writes == [] and 'vip0' not in h.net.links
    first, real = four(h, dict(interface='vip0', kind='dummy', addresses=['192.0.2.1']))
    assert real['addresses'] == ['192.0.2.1/32'] and h.net.show('vip0') == ['192.0.2.1/32']


@pytest.mark.parametrize('code', [errno.EINVAL, errno.EOPNOTSUPP, errno.EAFNOSUPPORT])
def test_an_ipv6_address_the_kernel_cannot_take_means_no_ipv6(h, code):
    h.net.refuse[('add', '2001:db8::1')] = code
    result = run(h, dict(interface='lo', addresses=['2001:db8::1']))
    assert result['msg'] == ('cannot add 2001:db8::1/128 to lo: IPv6 is not available on lo (its MTU is below 1280, '
                             'or the kernel runs without IPv6, booted with ipv6.disable=1) [kernel: refused by the '
                             'test]')


def test_a_kernel_without_dummy_interfaces(h):
    h.net.kinds = ()
    result = run(h, dict(interface='vip0', kind='dummy', addresses=['192.0.2.1']))
    assert result['failed'] and not result.get('changed')
    assert result['msg'].startswith('cannot create interface vip0: this kernel has no dummy interfaces (CONFIG_DUMMY')
    assert [f['change'] for f in result['not_applied']] == ['create dummy interface vip0']


def test_a_broken_socket_during_a_write_is_a_possible_change(h):
    h.net.explode = ('add', '192.0.2.1')
    result = run(h, dict(interface='lo', addresses=['192.0.2.1']))
    assert result['failed'] and result['changed'] is True and result['applied'] == []
    assert result['msg'] == 'cannot add 192.0.2.1/32 to lo: [Errno 5] the socket broke'


def test_other_errnos_are_named_with_the_kernels_words(h):
    h.net.refuse[('add', '192.0.2.1')] = errno.EINVAL
    result = run(h, dict(interface='lo', addresses=['192.0.2.1']))
    assert result['msg'] == 'cannot add 192.0.2.1/32 to lo: Invalid argument [kernel: refused by the test]'
    assert not result.get('changed') and h.net.ext_ack == [True]


def test_a_pyroute2_without_ext_ack_is_used_without_it(h, monkeypatch):
    def old_iproute():  # no ext_ack argument
        return h.net.connect()
    monkeypatch.setattr(_vip, 'IPRoute', old_iproute)
    h.net.add_link('vip0')
    h.net.add_address('vip0', '198.51.100.1/24', scope=254)
    result = run(h, dict(interface='vip0', addresses=['198.51.100.2/24']))
    assert result['msg'] == 'cannot add 198.51.100.2/24 to vip0: Invalid argument' and h.net.ext_ack == [False]
    result = run(h, dict(interface='vip0', addresses=['192.0.2.1']))
    assert result['changed'] and h.net.show('vip0') == ['192.0.2.1/32', '198.51.100.1/24']


def test_an_address_that_vanishes_before_its_removal_is_no_failure(h):
    h.net.add_address('lo', '192.0.2.1/32')
    h.net.refuse[('del', '192.0.2.1')] = errno.EADDRNOTAVAIL
    result = run(h, dict(interface='lo', addresses=['192.0.2.1'], state='absent'))
    assert 'failed' not in result and result['changed'] and result['removed'] == ['192.0.2.1/32']


# ---------------------------------------------------------------- helpers

def test_canonical_order_and_forms():
    addrs = [_vip.address_option('a', v) for v in ('2001:db8::a', '10.0.0.1/8', '9.0.0.1', '10.0.0.1', '::ffff:1.2.3.4',
                                                   '2001:db8::a/64', '0:0::1')]
    assert _vip.canonical(addrs) == ['9.0.0.1/32', '10.0.0.1/8', '10.0.0.1/32', '::1/128', '::ffff:1.2.3.4/128',
                                     '2001:db8::a/64', '2001:db8::a/128']


@pytest.mark.parametrize('name', ['lo', 'vip0', 'eth0.100', 'x' * 15, 'br-lan_1'])
def test_valid_interface_names(name):
    assert _vip.interface_option(name) == name


@pytest.mark.parametrize('kind,words', [(None, 'a physical or other non-dummy interface'), ('ifb', 'an ifb interface'),
                                        ('ipip', 'an ipip interface'), ('veth', 'a veth interface'),
                                        ('xfrm', 'an xfrm interface'), ('bridge', 'a bridge interface')])
def test_kinds_in_words(kind, words):
    assert _vip.kind_in_words(kind) == words
