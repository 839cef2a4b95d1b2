# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""ipvs_vip without a kernel: pyroute2's IPRoute replaced by FakeNet, an
in-memory rtnetlink that keeps the kernel's rules this module meets (an IPv4
address is its address and prefix, an IPv6 address one per interface,
secondaries that go with their primary, a link-local address when an interface
comes up, disable_ipv6, no CAP_NET_ADMIN). Each write it gets is logged with
the arguments pyroute2 would encode."""

import errno
import ipaddress
import socket

import pytest

from harness import Harness, differences
from pyroute2.netlink.exceptions import NetlinkError

from ansible_collections.lvs.ipvs.plugins.module_utils import _vip
from ansible_collections.lvs.ipvs.plugins.modules import ipvs_vip


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
    """The links and addresses of one network namespace, and every request made."""

    def __init__(self, kinds=('dummy',)):
        self.kinds = kinds
        self.links = {}
        self.addrs = []
        self.writes = []  # (method, command, kwargs)
        self.opened = self.closed = 0
        self.deny = False  # no CAP_NET_ADMIN
        self.refuse = {}  # (command, address) -> errno
        self.explode = None  # (command, address): an exception that is no NetlinkError
        self.default_ipv6_disabled = False
        self.add_link('lo', kind=None, up=True)
        self.add_address('lo', '127.0.0.1/8')
        self.add_address('lo', '::1/128')

    # -- set-up helpers, as `ip` would do it
    def add_link(self, name, kind='dummy', up=False, ipv6_disabled=False):
        index = len(self.links) + 1
        self.links[name] = dict(index=index, kind=kind, up=False, ipv6_disabled=ipv6_disabled)
        if up:
            self._up(name)
        return index

    def add_address(self, name, cidr):
        iface = ipaddress.ip_interface(cidr)
        self._add(self.links[name]['index'], str(iface.ip), iface.network.prefixlen, None)

    def show(self, name):
        """What `ip addr show dev name` would list, as CIDR strings."""
        index = self.links[name]['index']
        return sorted('%s/%d' % (a['address'], a['prefixlen']) for a in self.addrs if a['index'] == index)

    def write_log(self):
        return [(m, c, dict(kw)) for m, c, kw in self.writes]

    # -- the kernel's rules
    def _link_by_index(self, index):
        for name, link in self.links.items():
            if link['index'] == index:
                return name, link
        raise NetlinkError(errno.ENODEV, 'No such device')

    def _up(self, name):
        link = self.links[name]
        link['up'] = True
        if not link['ipv6_disabled'] and link['kind'] is not None:
            ll = 'fe80::%x' % (0x1000 + link['index'])
            if not any(a['address'] == ll for a in self.addrs):
                self._add(link['index'], ll, 64, None)

    def _add(self, index, address, prefixlen, scope):
        ip = ipaddress.ip_address(address)
        _name, link = self._link_by_index(index)
        secondary = False
        if ip.version == 6:
            if link['ipv6_disabled']:
                raise NetlinkError(errno.EACCES, 'Permission denied')
            if any(a['index'] == index and a['address'] == address for a in self.addrs):
                raise NetlinkError(errno.EEXIST, 'File exists')
        else:
            net = ipaddress.ip_interface('%s/%d' % (address, prefixlen)).network
            for a in self.addrs:
                if a['index'] != index or a['family'] != socket.AF_INET or a['prefixlen'] != prefixlen:
                    continue
                if a['address'] == address:
                    raise NetlinkError(errno.EEXIST, 'File exists')
                if not a['secondary'] and ipaddress.ip_interface('%s/%d' % (a['address'], prefixlen)).network == net:
                    secondary = True
        self.addrs.append(dict(index=index, family=socket.AF_INET6 if ip.version == 6 else socket.AF_INET,
                               address=address, prefixlen=prefixlen, secondary=secondary, scope=scope or 0))

    def _delete(self, index, address, prefixlen, local):
        self._link_by_index(index)
        for a in self.addrs:
            if a['index'] == index and a['address'] == (local or address) and a['prefixlen'] == prefixlen:
                break
        else:
            raise NetlinkError(errno.EADDRNOTAVAIL, 'Cannot assign requested address')
        self.addrs.remove(a)
        if a['family'] == socket.AF_INET and not a['secondary']:
            net = ipaddress.ip_interface('%s/%d' % (a['address'], prefixlen)).network
            self.addrs = [b for b in self.addrs if not (
                b['index'] == index and b['secondary'] and b['prefixlen'] == prefixlen
                and ipaddress.ip_interface('%s/%d' % (b['address'], prefixlen)).network == net)]

    def _write(self, method, command, kwargs):
        self.writes.append((method, command, kwargs))
        if self.deny:
            raise NetlinkError(errno.EPERM, 'Operation not permitted')
        key = (command, kwargs.get('local') or kwargs.get('address') or kwargs.get('ifname'))
        if self.explode == key:
            raise OSError(errno.EIO, 'the socket broke')
        if key in self.refuse:
            raise NetlinkError(self.refuse[key], 'refused by the test')

    # -- the IPRoute API the module uses
    def connect(self):
        self.opened += 1
        return FakeIPRoute(self)


class FakeIPRoute:
    def __init__(self, net):
        self.net = net

    def close(self):
        self.net.closed += 1

    def link(self, command, **kw):
        net = self.net
        if command == 'get':
            link = net.links.get(kw['ifname'])
            if link is None:
                raise NetlinkError(errno.ENODEV, 'No such device')
            info = Nla(IFLA_INFO_KIND=link['kind']) if link['kind'] else None
            spec = Nla(AF_INET6=Nla(IFLA_INET6_CONF=dict(disable_ipv6=int(link['ipv6_disabled']), mtu=1500)))
            return (Msg(dict(index=link['index'], flags=0x1000 | (1 if link['up'] else 0)),
                        IFLA_IFNAME=kw['ifname'], IFLA_LINKINFO=info, IFLA_AF_SPEC=spec),)
        net._write('link', command, kw)
        if command == 'add':
            if kw['kind'] not in net.kinds:
                raise NetlinkError(errno.EOPNOTSUPP, 'Operation not supported')
            if kw['ifname'] in net.links:
                raise NetlinkError(errno.EEXIST, 'File exists')
            net.add_link(kw['ifname'], kind=kw['kind'], ipv6_disabled=net.default_ipv6_disabled)
        elif command == 'set':
            name, _link = net._link_by_index(kw['index'])
            assert kw == dict(index=kw['index'], state='up'), kw
            net._up(name)
        return ()

    def addr(self, command, **kw):
        net = self.net
        if command == 'dump':
            out = []
            for a in net.addrs:
                flags = 0x80 | (0x01 if a['secondary'] else 0)
                attrs = dict(IFA_ADDRESS=a['address'], IFA_FLAGS=flags)
                if a['family'] == socket.AF_INET:
                    attrs['IFA_LOCAL'] = a['address']
                out.append(Msg(dict(family=a['family'], prefixlen=a['prefixlen'], index=a['index'], flags=flags & 0xff,
                                    scope=a['scope']), **attrs))
            return iter(out)
        net._write('addr', command, kw)
        if command == 'add':
            net._add(kw['index'], kw['address'], kw['prefixlen'], kw.get('scope'))
        elif command == 'del':
            net._delete(kw['index'], kw['address'], kw['prefixlen'], kw.get('local'))
        return ()


@pytest.fixture
def h(monkeypatch, capsys):
    harness = Harness(monkeypatch, capsys)
    harness.net = FakeNet()
    monkeypatch.setattr(_vip, 'IPRoute', harness.net.connect)
    return harness


def run(h, args, check=False, diff=True):
    result = h.run(ipvs_vip, args, check=check, diff=diff)
    assert h.net.opened == h.net.closed, 'the netlink socket was left open'
    return result


def four(h, args):
    """check, real, again, check again. The check run sends no write and predicts
    the real run's result and diff field by field; then nothing is left to do."""
    net = h.net
    n = len(net.writes)
    state = (dict((k, dict(v)) for k, v in net.links.items()), [dict(a) for a in net.addrs])
    first = run(h, args, check=True)
    assert 'failed' not in first, first
    assert net.writes[n:] == [], 'check mode sent %s' % net.writes[n:]
    assert (dict((k, dict(v)) for k, v in net.links.items()), [dict(a) for a in net.addrs]) == state
    real = run(h, args)
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


def test_secondaries_that_go_with_their_primary_are_put_back(h):
    for cidr in ('10.2.0.1/24', '10.2.0.2/24', '10.2.0.3/24'):
        h.net.add_address('lo', cidr)
    first, real = four(h, dict(interface='lo', addresses=['10.2.0.1/24', '10.2.0.3/24'], state='absent'))
    assert real['removed'] == ['10.2.0.1/24', '10.2.0.3/24'] and real['added'] == []
    assert real['addresses'] == ['10.2.0.2/24', '127.0.0.1/8', '::1/128']
    # The secondary first, then the primary (which takes 10.2.0.2 along), then 10.2.0.2 back.
    assert [(c, kw['address']) for _m, c, kw in h.net.writes] == [
        ('del', '10.2.0.3'), ('del', '10.2.0.1'), ('add', '10.2.0.2')]
    assert h.net.show('lo') == ['10.2.0.2/24', '127.0.0.1/8', '::1/128']


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
    (dict(interface='lo', kind='dummy'), "interface lo exists but is not a dummy interface (it is a device)"),
    (dict(interface='veth0', kind='dummy'), "interface veth0 exists but is not a dummy interface (it is a veth interface)"),
    (dict(interface='x' * 16), "interface: 'xxxxxxxxxxxxxxxx' is not a valid interface name"),
    (dict(interface='eth0:1'), "is not a valid interface name"),
    (dict(interface='a b'), "is not a valid interface name"),
    (dict(interface=''), "is not a valid interface name"),
    (dict(interface='v6off', addresses=['192.0.2.1', '2001:db8::1', '2001:db8::2']),
     "cannot add 2001:db8::1/128, 2001:db8::2/128 to v6off: IPv6 is disabled on that interface "
     "(sysctl net.ipv6.conf.v6off.disable_ipv6=1)"),
    (dict(interface='lo', state='gone'), "value of state must be one of: present, absent"),
]


@pytest.mark.parametrize('check', [True, False])
@pytest.mark.parametrize('args,message', BAD)
def test_bad_input_changes_nothing(h, args, message, check):
    h.net.add_link('veth0', kind='veth')
    h.net.add_link('v6off', ipv6_disabled=True, up=True)
    before = (h.net.show('lo'), sorted(h.net.links))
    result = run(h, args, check=check)
    assert result.get('failed') and message in result['msg'], result
    assert not result.get('changed') and 'applied' not in result and 'exception' not in result, result
    assert h.net.writes == [] and (h.net.show('lo'), sorted(h.net.links)) == before


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
    h.net.default_ipv6_disabled = True  # the new interface gets IPv6 disabled, as net.ipv6.conf.default says
    result = run(h, dict(interface='vip0', kind='dummy', addresses=['192.0.2.1', '2001:db8::1', '2001:db8::2']))
    assert result['failed'] and result['changed'] is True
    assert result['applied'] == ['create dummy interface vip0', 'bring up interface vip0', 'add 192.0.2.1/32 to vip0']
    assert result['not_applied'] == [dict(
        change='add 2001:db8::1/128 to vip0',
        error='cannot add 2001:db8::1/128 to vip0: IPv6 is disabled on that interface '
              '(sysctl net.ipv6.conf.vip0.disable_ipv6=1)')]
    assert result['msg'] == result['not_applied'][0]['error'] and 'exception' not in result
    assert h.net.show('vip0') == ['192.0.2.1/32']


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


def test_other_errnos_are_named(h):
    h.net.refuse[('add', '192.0.2.1')] = errno.EINVAL
    result = run(h, dict(interface='lo', addresses=['192.0.2.1']))
    assert result['msg'] == 'cannot add 192.0.2.1/32 to lo: Invalid argument [kernel: refused by the test]'
    assert not result.get('changed')


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
