# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""ipvs_vip against the real kernel, in-process, in a namespace of its own:
every change four times (check, real, again, check again), the result
cross-checked with `ip addr show`, bad input and no become change nothing,
and a write the kernel refuses half-way is reported as a change."""

import ipaddress
import json
import os
import re

from lvs_testlib import Netns, run_module

from ansible_collections.lvs.ipvs.plugins.module_utils import _netns, _vip

NOBODY = 65534


def run(args, netns, check=False):
    return run_module('vip', args, netns, check=check)


def snapshot(netns):
    """Every address (interface, family, address, scope, secondary) and link (name, flags) of the
    namespace, read in one shell. Left out: what the kernel changes on its own a moment later,
    such as an address that is still tentative or a link's operational state."""
    addrs, links = netns.sh('ip -o addr show; echo ==; ip -o link show').split('==\n')
    return sorted(_address(line) for line in addrs.splitlines()), sorted(re.findall(r'^\d+: (\S+): <([^>]*)>', links, re.M))


def _address(line):
    words = line.split()  # 2: vip0    inet 192.0.2.10/24 scope global secondary vip0\       valid_lft ...
    scope = words[words.index('scope') + 1] if 'scope' in words else ''
    return ' '.join(words[1:4] + [scope] + (['secondary'] if 'secondary' in words else []))


def ip_addresses(netns, dev, link_local=False):
    """The addresses `ip addr show` lists for `dev` (IPv6 link-local ones only if asked), in the module's order."""
    out = []
    for line in netns.sh('ip -o addr show dev %s' % dev).splitlines():
        words = line.split()
        if words[2] in ('inet', 'inet6'):
            iface = ipaddress.ip_interface(words[3])
            if link_local or not (iface.version == 6 and iface.ip.is_link_local):
                out.append(iface)
    return ['%s/%d' % (i.ip, i.network.prefixlen) for i in sorted(out, key=lambda i: (i.version, i.ip, i.network.prefixlen))]


def link_local(netns, dev):
    return [line.split()[3] for line in netns.sh('ip -o addr show dev %s' % dev).splitlines() if ' fe80:' in line]


def four(args, netns):
    """check, real, again, check again; returns (check result, real result)."""
    before = snapshot(netns)
    first = run(args, netns, check=True)
    assert 'failed' not in first, first
    assert snapshot(netns) == before, 'check mode changed the kernel'
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


def test_removing_a_primary_address_keeps_its_secondaries(netns):
    netns.sh('ip addr add 10.2.0.1/24 dev lo && ip addr add 10.2.0.2/24 dev lo && ip addr add 10.2.0.3/24 dev lo')
    assert 'secondary' in netns.sh('ip -o addr show dev lo to 10.2.0.2')
    first, real = four(dict(interface='lo', addresses=['10.2.0.1/24', '10.2.0.3/24'], state='absent'), netns)
    assert real['removed'] == ['10.2.0.1/24', '10.2.0.3/24'] and real['added'] == []
    assert real['addresses'] == ['10.2.0.2/24', '127.0.0.1/8', '::1/128'] == ip_addresses(netns, 'lo')
    netns.sh('ip addr add 10.3.0.1/24 dev lo && ip addr add 10.3.0.2/24 dev lo')
    first, real = four(dict(interface='lo', addresses=['10.3.0.2/24', '127.0.0.1/8', '::1'], purge=True), netns)
    assert real['removed'] == ['10.2.0.2/24', '10.3.0.1/24'] and real['addresses'] == [
        '10.3.0.2/24', '127.0.0.1/8', '::1/128'] == ip_addresses(netns, 'lo')


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
    (dict(interface='v6off', kind='dummy', addresses=['192.0.2.1', '2001:db8::1']),
     "cannot add 2001:db8::1/128 to v6off: IPv6 is disabled on that interface"),
    (dict(interface='nosuch0', addresses=['192.0.2.1']), "interface nosuch0 does not exist (kind="),
]


def test_bad_input_changes_nothing(netns):
    netns.sh('ip link add v6off type %s && sysctl -qw net.ipv6.conf.v6off.disable_ipv6=1' % _vip.LINK_KIND)
    before = snapshot(netns)
    for args, message in BAD:
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
    netns.sh('sysctl -qw net.ipv6.conf.default.disable_ipv6=1')
    args = dict(interface='vip1', kind='dummy', addresses=['192.0.2.1', '2001:db8::1'])
    assert run(args, netns, check=True)['changed'] is True
    result = run(args, netns)
    assert result['failed'] and result['changed'] is True, result
    assert result['applied'] == ['create %s interface vip1' % _vip.LINK_KIND, 'bring up interface vip1',
                                 'add 192.0.2.1/32 to vip1']
    assert [f['change'] for f in result['not_applied']] == ['add 2001:db8::1/128 to vip1']
    assert 'IPv6 is disabled on that interface' in result['msg'] and 'exception' not in result
    assert ip_addresses(netns, 'vip1') == ['192.0.2.1/32']


def run_unprivileged(netns, args):
    """Run ipvs_vip in a child that entered `netns` as root and then became nobody."""
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
            result = run(args, here)
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


def test_without_become_it_says_so(netns):
    before = snapshot(netns)
    for args in (dict(interface='lo', addresses=['192.0.2.1']), dict(interface='vip0', kind='dummy'),
                 dict(interface='lo', addresses=['::1'], state='absent')):
        result = run_unprivileged(netns, args)
        assert 'child_error' not in result, result
        assert result.get('failed') and result['msg'] == _vip.PERMISSION, result
        assert not result.get('changed') and 'exception' not in result
    assert snapshot(netns) == before
