# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""ipvs_vip against the real kernel, in-process, in a namespace of its own:
every change four times (check, real, again, check again), the result
cross-checked with `ip addr show` (labels, peers, flags and lifetimes
included), bad input and no become change nothing, a primary address goes
without its secondaries going or coming back, and a write the kernel refuses
half-way is reported as a change, in the kernel's words."""

import builtins
import errno
import ipaddress
import os
import re
import time

import pytest

from lvs_testlib import run_as_nobody, run_module

from ansible_collections.lvs.ipvs.plugins.module_utils import _netns, _vip


def run(args, netns, check=False):
    return run_module('vip', args, netns, check=check)


def snapshot(netns):
    """Every address and link (name, flags) of the namespace, read in one shell, and its
    promote_secondaries sysctls. An address with all `ip addr show` says of it: label, peer,
    broadcast, metric, scope, flags, and whether its lifetimes are finite. Left out: what the
    kernel changes on its own a moment later, such as an address that is still tentative, the
    seconds a lifetime has left, or a link's operational state."""
    addrs, links, promote = netns.sh('ip -o addr show; echo ==; ip -o link show; echo ==; '
                                     'sysctl net.ipv4.conf | grep promote_secondaries').split('==\n')
    return (sorted(_address(line) for line in addrs.splitlines()),
            sorted(re.findall(r'^\d+: (\S+): <([^>]*)>', links, re.M)), sorted(promote.splitlines()))


def _address(line):
    """'2: lo    inet 10.2.0.2/24 brd 10.2.0.255 scope global secondary dynamic lo:s\\  valid_lft 2999sec
    preferred_lft 1999sec' -> 'lo inet 10.2.0.2/24 brd 10.2.0.255 scope global secondary dynamic lo:s
    valid_lft finite preferred_lft finite'."""
    head, _sep, tail = line.partition('\\')
    words = [w for w in head.split()[1:] if w != 'tentative']
    return ' '.join(words + ['finite' if re.match(r'^\d+sec$', w) else w for w in tail.split()])


def addresses_of(netns, dev):
    """The lines of snapshot() for `dev`, by address."""
    out = {}
    for line in snapshot(netns)[0]:
        words = line.split()
        if words[0] == dev and words[1] in ('inet', 'inet6'):
            prefix = words[4].split('/')[1] if words[3] == 'peer' else words[2].split('/')[1]
            out['%s/%s' % (words[2].split('/')[0], prefix)] = line
    return out


def ip_addresses(netns, dev, link_local=False):
    """The addresses `ip addr show` lists for `dev` (IPv6 link-local ones only if asked), in the module's order."""
    out = []
    for line in netns.sh('ip -o addr show dev %s' % dev).splitlines():
        words = line.split()
        if words[2] in ('inet', 'inet6'):
            # 10.2.0.3 peer 10.2.0.254/24: the prefix length is the peer's
            prefix = words[5].split('/')[1] if words[4] == 'peer' else words[3].split('/')[1]
            iface = ipaddress.ip_interface('%s/%s' % (words[3].split('/')[0], prefix))
            if link_local or not (iface.version == 6 and iface.ip.is_link_local):
                out.append(iface)
    return ['%s/%d' % (i.ip, i.network.prefixlen) for i in sorted(out, key=lambda i: (i.version, i.ip, i.network.prefixlen))]


def link_local(netns, dev):
    return [line.split()[3] for line in netns.sh('ip -o addr show dev %s' % dev).splitlines() if ' fe80:' in line]


def created(netns, dev):
    """When (in hundredths of a second since boot) the kernel created each IPv4 address of `dev`:
    an address that was removed and added back in between has a new time."""
    from pyroute2 import IPRoute
    with _netns.entered(netns.name):
        ipr = IPRoute()
    try:
        index = ipr.link_lookup(ifname=dev)[0]
        return dict(('%s/%d' % (m.get_attr('IFA_LOCAL'), m['prefixlen']), m.get_attr('IFA_CACHEINFO')['cstamp'])
                    for m in ipr.addr('dump', index=index) if m.get_attr('IFA_LOCAL'))
    finally:
        ipr.close()


def four(args, netns):
    """check, real, again, check again; returns (check result, real result)."""
    before = snapshot(netns)
    first = run(args, netns, check=True)
    assert 'failed' not in first, first
    assert snapshot(netns) == before, 'check mode changed the kernel'
    time.sleep(0.05)  # an address added back by the real run gets a later creation time
    real = run(args, netns)
    assert 'failed' not in real, real
    for key in set(first) | set(real):  # the prediction is the outcome, field by field
        if key not in ('invocation', 'warnings'):
            assert first.get(key) == real.get(key), (key, first.get(key), real.get(key))
    assert (snapshot(netns) != before) == real['changed'], 'changed does not match what the kernel did'
    if real['diff']['after']['exists']:
        assert ip_addresses(netns, args['interface']) == real['addresses']
    after = snapshot(netns)
    again = run(args, netns)
    assert again['changed'] is False, again
    assert again['addresses'] == real['addresses'] and again['added'] == again['removed'] == []
    assert run(args, netns, check=True)['changed'] is False
    assert snapshot(netns) == after
    return first, real


def test_dummy_interface_ipv4_ipv6_purge_and_absent(netns):
    args = dict(interface='vip0', kind='dummy',
                addresses=['2001:db8:1::1/64', '198.51.100.1/24', '2001:db8::10', '192.0.2.10'])
    first, real = four(args, netns)
    want = ['192.0.2.10/32', '198.51.100.1/24', '2001:db8::10/128', '2001:db8:1::1/64']
    assert real['created'] is True and real['up'] is True
    assert real['added'] == real['addresses'] == want and real['removed'] == []
    assert first['diff'] == dict(before=dict(interface='vip0', exists=False, up=False, addresses=[]),
                                 after=dict(interface='vip0', exists=True, up=True, addresses=want))
    assert ip_addresses(netns, 'vip0') == want
    link = netns.sh('ip -d -o link show vip0')
    assert ' %s ' % _vip.LINK_KIND in link and ',UP' in link, link
    fe80 = link_local(netns, 'vip0')
    assert fe80, 'the kernel gives an interface that comes up an IPv6 link-local address'

    # Down: the kernel drops its IPv6 addresses; kind=dummy brings it up and puts them back.
    netns.sh('ip link set vip0 down')
    first, real = four(args, netns)
    assert real['created'] is False and real['up'] is True and first['diff']['before']['up'] is False
    assert real['added'] == ['2001:db8::10/128', '2001:db8:1::1/64'] and real['addresses'] == want
    fe80 = link_local(netns, 'vip0')

    # Purge: only what is listed stays, and the link-local address is not touched.
    netns.sh('ip addr add 203.0.113.5/32 dev vip0 && ip addr add 2001:db8:2::5/128 dev vip0')
    first, real = four(dict(interface='vip0', addresses=['192.0.2.10', '2001:db8::10'], purge=True), netns)
    assert real['removed'] == ['198.51.100.1/24', '203.0.113.5/32', '2001:db8:1::1/64', '2001:db8:2::5/128']
    assert real['added'] == [] and real['addresses'] == ['192.0.2.10/32', '2001:db8::10/128']
    assert first['diff']['before']['addresses'] == ['192.0.2.10/32', '198.51.100.1/24', '203.0.113.5/32',
                                                    '2001:db8::10/128', '2001:db8:1::1/64', '2001:db8:2::5/128']
    assert link_local(netns, 'vip0') == fe80

    # Absent: the listed addresses go (one of them was never there); the interface stays.
    first, real = four(dict(interface='vip0', kind='dummy', addresses=['192.0.2.10', '2001:db8::10', '192.0.2.99'],
                            state='absent'), netns)
    assert real['removed'] == ['192.0.2.10/32', '2001:db8::10/128'] and real['addresses'] == []
    assert first['diff']['after'] == dict(interface='vip0', exists=True, up=True, addresses=[])
    assert ip_addresses(netns, 'vip0') == [] and link_local(netns, 'vip0') == fe80


def test_absent_on_a_missing_interface_is_ok(netns):
    for kind in ({}, dict(kind='dummy')):
        first, real = four(dict(kind, interface='nosuch0', addresses=['192.0.2.10'], state='absent'), netns)
        assert real['changed'] is False and real['created'] is False and real['addresses'] == []
        nothing = dict(interface='nosuch0', exists=False, up=False, addresses=[])
        assert first['diff']['before'] == first['diff']['after'] == nothing
    # Check mode with nothing to do on an interface that is not there: no change, and the diff agrees.
    for args in (dict(addresses=[]), dict(addresses=[], purge=True)):
        result = run(dict(args, interface='nosuch0'), netns, check=True)
        assert 'failed' not in result and result['changed'] is False, result
        assert result['diff']['before'] == result['diff']['after'] == nothing
    assert 'nosuch0' not in netns.sh('ip -o link show')


def test_lo_bare_addresses_ipv6_prefix_and_purge_keeps_loopback(netns):
    netns.sh('ip addr add 2001:db8::1/64 dev lo && ip addr add 10.1.0.1/24 dev lo')
    first, real = four(dict(interface='lo', addresses=['10.0.0.1', '2001:db8::1', '10.1.0.1/24']), netns)
    assert real['added'] == ['10.0.0.1/32', '2001:db8::1/128'] and real['removed'] == ['2001:db8::1/64']
    assert real['addresses'] == ['10.0.0.1/32', '10.1.0.1/24', '127.0.0.1/8', '::1/128', '2001:db8::1/128']
    assert ip_addresses(netns, 'lo') == real['addresses'] and real['created'] is False
    # 10.0.0.1/24 is another address than 10.0.0.1/32: IPv4 lets lo have both.
    first, real = four(dict(interface='lo', addresses=['10.0.0.1/24']), netns)
    assert real['added'] == ['10.0.0.1/24'] and '10.0.0.1/32' in real['addresses']
    first, real = four(dict(interface='lo', addresses=['10.0.0.1'], purge=True), netns)
    assert real['addresses'] == ['10.0.0.1/32', '127.0.0.1/8', '::1/128'] == ip_addresses(netns, 'lo')
    assert real['removed'] == ['10.0.0.1/24', '10.1.0.1/24', '2001:db8::1/128']


SECONDARIES = ('ip addr add 10.2.0.1/24 dev lo label lo:p && '
               'ip addr add 10.2.0.2/24 brd + dev lo label lo:s noprefixroute valid_lft 3000 preferred_lft 2000 && '
               'ip addr add 10.2.0.3 peer 10.2.0.254/24 dev lo && ip addr add 10.2.0.4/24 dev lo metric 7 && '
               'ip addr add 10.3.0.1/24 dev lo && ip addr add 10.3.0.2/24 dev lo')


def test_removing_a_primary_address_keeps_its_secondaries(netns):
    netns.sh(SECONDARIES)
    assert 'secondary' in netns.sh('ip -o addr show dev lo to 10.2.0.2')
    lines, born, host_promote = addresses_of(netns, 'lo'), created(netns, 'lo'), _host_promote()
    first, real = four(dict(interface='lo', addresses=['10.2.0.1/24', '10.3.0.2/24'], state='absent'), netns)
    assert real['removed'] == ['10.2.0.1/24', '10.3.0.2/24'] and real['added'] == []
    assert real['addresses'] == ['10.2.0.2/24', '10.2.0.3/24', '10.2.0.4/24', '10.3.0.1/24', '127.0.0.1/8',
                                 '::1/128'] == ip_addresses(netns, 'lo')
    # The kernel promoted the first secondary and kept the others: none went and came back, each
    # is as it was (label, broadcast, peer, flags, lifetimes), and promote_secondaries is 0 again.
    now = addresses_of(netns, 'lo')
    assert now['10.2.0.2/24'] == lines['10.2.0.2/24'].replace(' secondary', '')
    assert now['10.2.0.3/24'] == lines['10.2.0.3/24'] and now['10.2.0.4/24'] == lines['10.2.0.4/24']
    assert all(created(netns, 'lo')[c] == born[c] for c in ('10.2.0.2/24', '10.2.0.3/24', '10.2.0.4/24'))
    assert netns.sh('sysctl -n net.ipv4.conf.lo.promote_secondaries').strip() == '0'
    assert _host_promote() == host_promote, 'promote_secondaries of lo outside the namespace was changed'
    # Purge: 10.2.0.2 (dynamic: it has a lifetime) stays, and so does 10.4.0.2, the secondary of 10.4.0.1.
    netns.sh('ip addr add 10.4.0.1/24 dev lo && ip addr add 10.4.0.2/24 dev lo')
    born = created(netns, 'lo')
    first, real = four(dict(interface='lo', addresses=['10.4.0.2/24', '127.0.0.1/8', '::1'], purge=True), netns)
    assert real['removed'] == ['10.2.0.3/24', '10.2.0.4/24', '10.3.0.1/24', '10.4.0.1/24']
    assert real['addresses'] == ['10.2.0.2/24', '10.4.0.2/24', '127.0.0.1/8', '::1/128'] == ip_addresses(netns, 'lo')
    assert created(netns, 'lo')['10.4.0.2/24'] == born['10.4.0.2/24']
    assert 'secondary' not in netns.sh('ip -o addr show dev lo to 10.4.0.2')


def _host_promote():
    with open('/proc/sys/net/ipv4/conf/lo/promote_secondaries') as f:
        return f.read()


def test_without_promote_secondaries_the_secondaries_are_added_back_as_they_were(netns, monkeypatch):
    """As in a container with /proc/sys read-only: the kernel drops the secondaries, the module
    adds them back with everything they had."""
    def read_only(path, mode='r', *args, **kwargs):
        if str(path).startswith('/proc/sys/') and 'w' in mode:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)
        return builtins.open(path, mode, *args, **kwargs)
    monkeypatch.setattr(_vip, 'open', read_only, raising=False)
    netns.sh(SECONDARIES)
    lines, born = addresses_of(netns, 'lo'), created(netns, 'lo')
    first, real = four(dict(interface='lo', addresses=['10.2.0.1/24'], state='absent'), netns)
    assert real['removed'] == ['10.2.0.1/24'] and real['added'] == []
    assert real['addresses'] == ['10.2.0.2/24', '10.2.0.3/24', '10.2.0.4/24', '10.3.0.1/24', '10.3.0.2/24',
                                 '127.0.0.1/8', '::1/128'] == ip_addresses(netns, 'lo')
    now = addresses_of(netns, 'lo')
    assert now['10.2.0.2/24'] == lines['10.2.0.2/24'].replace(' secondary', '')
    assert now['10.2.0.3/24'] == lines['10.2.0.3/24'] and now['10.2.0.4/24'] == lines['10.2.0.4/24']
    assert all(created(netns, 'lo')[c] != born[c] for c in ('10.2.0.2/24', '10.2.0.3/24', '10.2.0.4/24'))
    left = int(re.search(r'valid_lft (\d+)sec', netns.sh('ip -o addr show dev lo to 10.2.0.2')).group(1))
    assert 2900 < left <= 3000, 'the lifetime left is kept'
    assert netns.sh('sysctl -n net.ipv4.conf.lo.promote_secondaries').strip() == '0'


def test_purge_leaves_dynamic_and_temporary_addresses(netns):
    netns.sh('ip link add vip0 type %s && ip link set vip0 up && sysctl -qw net.ipv6.conf.vip0.use_tempaddr=2 && '
             'ip addr add 192.0.2.1/32 dev vip0 && ip addr add 192.0.2.7/24 dev vip0 valid_lft 3000 preferred_lft 3000 && '
             'ip addr add 2001:db8:3::7/64 dev vip0 valid_lft 3000 preferred_lft 2000 && '
             'ip addr add 2001:db8:5::1/64 dev vip0 mngtmpaddr && ip addr add 2001:db8:6::1/64 dev vip0' % _vip.LINK_KIND)
    temporary = [line.split()[3] for line in netns.sh('ip -o addr show dev vip0').splitlines() if ' temporary ' in line]
    assert len(temporary) == 1, 'the kernel makes a temporary (privacy) address from a mngtmpaddr one'
    first, real = four(dict(interface='vip0', addresses=['2001:db8:5::1/64'], purge=True), netns)
    assert real['removed'] == ['192.0.2.1/32', '2001:db8:6::1/64']
    assert real['addresses'] == ip_addresses(netns, 'vip0') == canonical(
        ['192.0.2.7/24', '2001:db8:3::7/64', '2001:db8:5::1/64'] + temporary)
    assert ' temporary ' in netns.sh('ip -o addr show dev vip0 to %s' % temporary[0])


def canonical(cidrs):
    return _vip.canonical(_vip.address_option('x', c) for c in cidrs)


BAD = [
    (dict(interface='lo', addresses=['192.0.2.1', 'nonsense']), "addresses[1]: 'nonsense' is not an IPv4 or IPv6 address"),
    (dict(interface='lo', addresses=['192.0.2.1/33']), "addresses[0]: '192.0.2.1/33': the prefix length must be a "
                                                       "number from 0 to 32 for an IPv4 address"),
    (dict(interface='lo', addresses=['2001:db8::1/64', '2001:db8::1']), "addresses[1]: 2001:db8::1/128 repeats "
                                                                        "addresses[0]'s 2001:db8::1/64"),
    (dict(interface='lo', addresses=['224.0.0.5']), "addresses[0]: '224.0.0.5' is a multicast address"),
    (dict(interface='lo', addresses=['0.0.0.0']), "addresses[0]: '0.0.0.0' is the unspecified address"),
    (dict(interface='lo', kind='dummy', addresses=['192.0.2.1']), "interface lo exists but is not a "),
    (dict(interface='averyveryverylongname', addresses=['192.0.2.1']), "interface: 'averyveryverylongname' is not a "
                                                                       "valid interface name"),
    (dict(interface='vip%d', kind='dummy', addresses=['192.0.2.1']), "interface: 'vip%d' is not a valid interface name"),
    (dict(interface='v6off', kind='dummy', addresses=['192.0.2.1', '2001:db8::1']),
     "cannot add 2001:db8::1/128 to v6off: IPv6 is disabled on that interface"),
    (dict(interface='v6mtu', kind='dummy', addresses=['192.0.2.1', '2001:db8::1']),
     "cannot add 2001:db8::1/128 to v6mtu: IPv6 is not available on v6mtu (its MTU is below 1280"),
    (dict(interface='v6new', kind='dummy', addresses=['192.0.2.1', '2001:db8::1']),
     "cannot add 2001:db8::1/128 to v6new: a new interface gets IPv6 disabled here (sysctl "
     "net.ipv6.conf.default.disable_ipv6=1)"),
    (dict(interface='lo', kind='dummy'), "interface lo exists but is not a dummy interface (it is a physical or other "
                                         "non-dummy interface)"),
    (dict(interface='vx0', kind='dummy'), "interface vx0 exists but is not a dummy interface (it is a veth interface)"),
    (dict(interface='nosuch0', addresses=['192.0.2.1']), "interface nosuch0 does not exist (kind="),
]


def test_bad_input_changes_nothing(netns):
    netns.sh('ip link add v6off type %s && sysctl -qw net.ipv6.conf.v6off.disable_ipv6=1' % _vip.LINK_KIND)
    netns.sh('ip link add v6mtu mtu 1200 type %s && ip link set v6mtu up' % _vip.LINK_KIND)  # no IPv6 below 1280
    netns.sh('ip link add vx0 type veth peer name vx1')
    netns.sh('sysctl -qw net.ipv6.conf.default.disable_ipv6=1')  # for new interfaces: v6new
    before = snapshot(netns)
    for args, message in BAD:
        message = message.replace('dummy', _vip.LINK_KIND)
        for check in (True, False):
            result = run(args, netns, check=check)
            if check and args['interface'] == 'nosuch0':
                # Check mode warns instead: an earlier task may create the interface.
                assert 'failed' not in result and result['changed'] and result['created'] is False, result
                continue
            assert result.get('failed') and message in result['msg'], (args, check, result)
            assert not result.get('changed') and 'applied' not in result and 'exception' not in result, result
            assert snapshot(netns) == before, args


def test_a_write_refused_half_way_is_a_change(netns):
    # ::1 is refused on any interface but lo, once the interface is there and 192.0.2.1 on it.
    args = dict(interface='vip1', kind='dummy', addresses=['192.0.2.1', '::1'])
    assert run(args, netns, check=True)['changed'] is True
    result = run(args, netns)
    assert result['failed'] and result['changed'] is True, result
    assert result['applied'] == ['create %s interface vip1' % _vip.LINK_KIND, 'bring up interface vip1',
                                 'add 192.0.2.1/32 to vip1']
    assert [f['change'] for f in result['not_applied']] == ['add ::1/128 to vip1']
    assert result['msg'].startswith('cannot add ::1/128 to vip1: Cannot assign requested address')
    assert 'exception' not in result
    assert ip_addresses(netns, 'vip1') == ['192.0.2.1/32']


def test_refusals_come_with_the_kernels_words(netns):
    """The netlink socket asks for extended acknowledgements (ext_ack), so a refusal carries
    the kernel's text; "Unknown device type" is one that every kernel since 4.x gives."""
    rt = _vip.Rtnl(netns.name)
    try:
        with pytest.raises(_vip.ApplyError) as e:
            rt._write(_vip.Change('create', 'x0'), rt.ipr.link,  # pylint: disable=protected-access
                      'add', ifname='x0', kind='nosuchkind')
    finally:
        rt.close()
    assert str(e.value).endswith('[kernel: Unknown device type]'), str(e.value)


def run_unprivileged(netns, args):
    """Run ipvs_vip in a child that entered `netns` as root and then became nobody."""
    return run_as_nobody(netns, lambda here: run(args, here))


def test_without_become_it_says_so(netns):
    before = snapshot(netns)
    for args in (dict(interface='lo', addresses=['192.0.2.1']), dict(interface='vip0', kind='dummy'),
                 dict(interface='lo', addresses=['::1'], state='absent')):
        result = run_unprivileged(netns, args)
        assert 'child_error' not in result, result
        assert result.get('failed') and result['msg'] == _vip.PERMISSION, result
        assert not result.get('changed') and 'exception' not in result
    assert snapshot(netns) == before
