# -*- coding: utf-8 -*-
# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This is a private module_util of lvs.ipvs: it may change without notice.
"""ipvs_vip: addresses on a network interface, over rtnetlink (pyroute2's IPRoute).

Decide, then act: `run()` reads the interface and its addresses, `Plan`
computes the whole change from them (check mode stops there), `apply()` sends
it. The rtnetlink socket is opened inside the target network namespace
(_netns.entered) and stays bound to it; pyroute2's own IPRoute(netns=...)
forks a helper for that and creates a namespace that does not exist. The
sysctls the module reads and writes (/proc/sys/net/...) are opened inside the
namespace too: /proc/sys/net is resolved in the namespace of whoever opens it.
"""

from __future__ import absolute_import, division, print_function

import errno
import ipaddress
import os
import platform
import re
import socket
import traceback

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.lvs.ipvs.plugins.module_utils._common import IpvsModule
from ansible_collections.lvs.ipvs.plugins.module_utils._errors import ApplyError, IpvsError
from ansible_collections.lvs.ipvs.plugins.module_utils._netns import entered
from ansible_collections.lvs.ipvs.plugins.module_utils._options import OptionError, ip_option

try:
    from pyroute2 import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError
except Exception:  # pylint: disable=broad-except
    # Not only ImportError: pyroute2 0.9 and later, installed on Python 3.8, raise
    # TypeError while they are imported.
    IPRoute = None
    PYROUTE2_IMPORT_ERROR = traceback.format_exc()

    class NetlinkError(Exception):
        """Stands in for pyroute2's, which is missing; never raised."""
        code = 0
else:
    PYROUTE2_IMPORT_ERROR = None

__metaclass__ = type

LINK_KIND = 'dummy'
IFF_UP = 0x1
IFA_F_SECONDARY = 0x01  # IPv4; the same bit is IFA_F_TEMPORARY for IPv6
IFA_F_PERMANENT = 0x80
# The flags an address is added with (the others are the kernel's: secondary, permanent,
# tentative, deprecated, ...): nodad, home, mngtmpaddr, noprefixroute, autojoin.
IFA_F_CONFIG = 0x02 | 0x10 | 0x100 | 0x200 | 0x400
INFINITY_LIFE_TIME = 0xFFFFFFFF
RT_SCOPE_HOST = 254
IFNAMSIZ = 16

PERMISSION = "permission denied: changing network interfaces and their addresses needs CAP_NET_ADMIN (use become: true)"
FAMILY_OF = {socket.AF_INET: 'ipv4', socket.AF_INET6: 'ipv6'}
PROMOTE_SECONDARIES = '/proc/sys/net/ipv4/conf/%s/promote_secondaries'
DEFAULT_DISABLE_IPV6 = '/proc/sys/net/ipv6/conf/default/disable_ipv6'
_PREFIX = re.compile(r'^[0-9]{1,3}$')


class Address:
    """One interface address. `cidr` ('192.0.2.1/32', '2001:db8::1/128', the
    address as inet_ntop writes it) is its identity; `peer` is the kernel's
    IFA_ADDRESS where it differs from the local address (a point-to-point address).
    `attrs` are what an address read from the kernel carries besides (label,
    broadcast, scope, flags, lifetimes, ...), as pyroute2's addr('add') takes them."""

    def __init__(self, family, address, prefixlen, peer=None, secondary=False, permanent=True, attrs=None):
        self.family = family
        self.address = address
        self.prefixlen = prefixlen
        self.peer = peer
        self.secondary = secondary
        self.permanent = permanent
        self.attrs = attrs or {}
        self.ip = ipaddress.ip_address(address)
        self.cidr = '%s/%d' % (address, prefixlen)

    def sort_key(self):
        return (self.ip.version, int(self.ip), self.prefixlen)

    @property
    def link_local(self):
        """IPv6 link-local (fe80::/10): the kernel's own, never purged."""
        return self.family == 'ipv6' and self.ip.is_link_local

    @property
    def protected(self):
        """Never removed by purge: IPv6 link-local and loopback addresses (127.0.0.0/8, ::1)."""
        return self.link_local or self.ip.is_loopback

    @property
    def subnet(self):
        """The kernel's key for an IPv4 primary address and its secondaries: the prefix length
        and the subnet of IFA_ADDRESS (the peer, for a point-to-point address)."""
        return (self.prefixlen, ipaddress.ip_network('%s/%d' % (self.peer or self.address, self.prefixlen),
                                                     strict=False))


def canonical(addresses):
    """The CIDR strings of `addresses`, IPv4 before IPv6, by address, then prefix length."""
    return [a.cidr for a in sorted(addresses, key=Address.sort_key)]


def interface_option(value):
    """The interface name, if Linux would accept it (dev_valid_name) and take it as a name:
    with a '%' the kernel makes a name from it as a template (vip%d: vip0, vip1, ...)."""
    if (not value or len(value.encode('utf-8')) >= IFNAMSIZ or value in ('.', '..')
            or any(c in value for c in '/:%') or any(c.isspace() for c in value)):
        raise OptionError("interface: %r is not a valid interface name (1 to %d bytes, without '/', ':', '%%' "
                          "or white space; the kernel would take a name with '%%' as a template for a new name "
                          "such as vip0)" % (value, IFNAMSIZ - 1))
    return value


def address_option(name, value):
    """The Address that option `name` gives: ADDRESS (a host: /32 or /128) or ADDRESS/PREFIXLEN."""
    text = str(value).strip()
    addr, slash, prefix = text.partition('/')
    family, addr = ip_option(name, addr)
    maxlen = 32 if family == 'ipv4' else 128
    if not slash:
        prefixlen = maxlen
    elif _PREFIX.match(prefix) and int(prefix) <= maxlen:
        prefixlen = int(prefix)
    else:
        raise OptionError("%s: %r: the prefix length must be a number from 0 to %d for an %s address"
                          % (name, value, maxlen, 'IPv4' if family == 'ipv4' else 'IPv6'))
    out = Address(family, addr, prefixlen)
    if out.ip.is_unspecified:
        raise OptionError("%s: %r is the unspecified address, which no interface can have" % (name, value))
    if out.ip.is_multicast:
        raise OptionError("%s: %r is a multicast address, which is joined, not assigned" % (name, value))
    return out


def wanted_addresses(values):
    """The Addresses that option `addresses` lists, checked all before anything is done."""
    out = []
    for i, value in enumerate(values):
        name = 'addresses[%d]' % i
        a = address_option(name, value)
        for j, b in enumerate(out):
            if a.family == 'ipv6' and b.address == a.address and b.prefixlen != a.prefixlen:
                raise OptionError("%s: %s repeats addresses[%d]'s %s with another prefix length; an interface "
                                  "has an IPv6 address with one prefix length only" % (name, a.cidr, j, b.cidr))
        if a.cidr not in [b.cidr for b in out]:
            out.append(a)
    return out


def kind_in_words(kind):
    """'an ifb interface', 'a veth interface'; an interface without a kind (a physical one, lo, ...)
    in words too."""
    if not kind:
        return 'a physical or other non-%s interface' % LINK_KIND
    return '%s %s interface' % ('an' if kind[0] in 'aeiouAEIOU' or kind in ('xfrm', 'hsr') else 'a', kind)


def no_ipv6(addresses, name):
    return ("cannot add %s to %s: IPv6 is not available on %s (its MTU is below 1280, or the kernel runs without "
            "IPv6, booted with ipv6.disable=1)" % (addresses, name, name))


def ipv6_disabled(addresses, name):
    return ("cannot add %s to %s: IPv6 is disabled on that interface (sysctl net.ipv6.conf.%s.disable_ipv6=1)"
            % (addresses, name, name))


class Change:
    """One write, as IpvsModule.fail reports it (`applied`, `not_applied`)."""

    def __init__(self, verb, interface, address=None, other=None):
        self.verb = verb  # create, up, add, remove, add-back, promote, unpromote, read
        self.interface = interface
        self.address = address
        self.other = other  # add-back: the primary address; unpromote: the value put back

    def describe(self):
        if self.verb == 'create':
            return 'create %s interface %s' % (LINK_KIND, self.interface)
        if self.verb == 'up':
            return 'bring up interface %s' % self.interface
        if self.verb == 'read':
            return 'read interface %s' % self.interface
        if self.verb == 'add':
            return 'add %s to %s' % (self.address.cidr, self.interface)
        if self.verb == 'add-back':
            return ('add %s back to %s (the kernel dropped it with its primary address %s)'
                    % (self.address.cidr, self.interface, self.other.cidr))
        if self.verb == 'promote':
            return 'set net.ipv4.conf.%s.promote_secondaries=1' % self.interface
        if self.verb == 'unpromote':
            return 'set net.ipv4.conf.%s.promote_secondaries back to %s' % (self.interface, self.other)
        return 'remove %s from %s' % (self.address.cidr, self.interface)


def explain(err, change, extra=None):
    """errno `err` of `change` (a Change) in an operator's words, as an IpvsError."""
    name = change.interface
    v6_add = change.verb == 'add' and change.address.family == 'ipv6'
    if err == errno.EPERM:
        msg = PERMISSION
    elif err == errno.EACCES and v6_add:
        msg = ipv6_disabled(change.address.cidr, name)
    elif err == errno.EACCES:
        msg = PERMISSION
    elif err == errno.ENODEV:
        msg = "cannot %s: interface %s does not exist (any more)" % (change.describe(), name)
    elif change.verb == 'create' and err == errno.EOPNOTSUPP:
        msg = ("cannot create interface %s: this kernel has no %s interfaces (CONFIG_DUMMY; is the %s kernel "
               "module available?)" % (name, LINK_KIND, LINK_KIND))
    elif change.verb == 'create' and err == errno.EEXIST:
        msg = "cannot create interface %s: an interface of that name appeared meanwhile" % name
    elif v6_add and err in (errno.EOPNOTSUPP, errno.EINVAL, errno.EAFNOSUPPORT):
        # EINVAL: the interface has no IPv6 state (MTU below 1280); EOPNOTSUPP: the kernel has
        # no IPv6 at all (no handler for AF_INET6 requests).
        msg = no_ipv6(change.address.cidr, name)
    elif err == errno.EAFNOSUPPORT:
        msg = "cannot %s: this kernel has no IPv6 (booted with ipv6.disable=1?)" % change.describe()
    else:
        msg = "cannot %s: %s" % (change.describe(), os.strerror(err))
    if extra and extra != os.strerror(err):
        msg += " [kernel: %s]" % extra
    return IpvsError(msg, errno=err)


def _attr(msg, *path):
    """The NLA at `path` (nested names) of a pyroute2 message, or None."""
    for name in path:
        if msg is None:
            return None
        msg = msg.get_attr(name)
    return msg


class Link:
    """What the module needs to know of an interface. `ipv6` is False where the interface
    has no IPv6 state at all (an MTU below 1280, a kernel without IPv6)."""

    def __init__(self, index, kind, up, ipv6, ipv6_disabled):
        self.index = index
        self.kind = kind
        self.up = up
        self.ipv6 = ipv6
        self.ipv6_disabled = ipv6_disabled


class Rtnl:
    """rtnetlink in network namespace `netns`, through pyroute2's IPRoute. Every
    write is recorded in `applied` (IpvsModule.fail reports them on failure)."""

    def __init__(self, netns=None):
        self.applied = []
        self.uncertain = False
        self.netns = netns
        try:
            with entered(netns):
                try:
                    # ext_ack: the kernel's own words on a refusal ("ipv4: Invalid scope value").
                    self.ipr = IPRoute(ext_ack=True)
                except TypeError:  # a pyroute2 that does not know ext_ack
                    self.ipr = IPRoute()
        except (OSError, NetlinkError) as e:
            raise IpvsError("cannot open a netlink socket: %s" % e)

    def close(self):
        ipr, self.ipr = self.ipr, None
        if ipr is not None:
            ipr.close()

    @staticmethod
    def _read_error(what, e):
        if isinstance(e, NetlinkError):
            return IpvsError("cannot read %s: %s" % (what, os.strerror(e.code)), errno=e.code)
        return IpvsError("cannot read %s: %s" % (what, e))

    def link(self, name):
        """The Link called `name`, or None."""
        try:
            msgs = self.ipr.link('get', ifname=name)
        except NetlinkError as e:
            if e.code == errno.ENODEV:
                return None
            raise self._read_error('interface %s' % name, e)
        except OSError as e:
            raise self._read_error('interface %s' % name, e)
        msgs = list(msgs)
        if not msgs:
            return None
        msg = msgs[0]
        inet6 = _attr(msg, 'IFLA_AF_SPEC', 'AF_INET6')
        conf = _attr(inet6, 'IFLA_INET6_CONF')
        disabled = bool(conf.get('disable_ipv6')) if isinstance(conf, dict) else False
        return Link(msg['index'], _attr(msg, 'IFLA_LINKINFO', 'IFLA_INFO_KIND'), bool(msg['flags'] & IFF_UP),
                    inet6 is not None, disabled)

    def addresses(self, index, name):
        """The IPv4 and IPv6 Addresses of interface `index`."""
        try:
            msgs = list(self.ipr.addr('dump'))
        except (NetlinkError, OSError) as e:
            raise self._read_error('the addresses of %s' % name, e)
        out = []
        for msg in msgs:
            family = FAMILY_OF.get(msg['family'])
            if msg['index'] != index or family is None:
                continue
            address = _attr(msg, 'IFA_ADDRESS')
            local = _attr(msg, 'IFA_LOCAL') or address
            if local is None:
                continue
            af = socket.AF_INET if family == 'ipv4' else socket.AF_INET6
            local = socket.inet_ntop(af, socket.inet_pton(af, local))
            flags = _attr(msg, 'IFA_FLAGS')
            flags = msg['flags'] if flags is None else flags
            peer = address if address and address != local else None
            attrs = dict(scope=msg['scope'])
            for key, nla in (('label', 'IFA_LABEL'), ('broadcast', 'IFA_BROADCAST'),
                             ('rt_priority', 'IFA_RT_PRIORITY'), ('proto', 'IFA_PROTO')):
                value = _attr(msg, nla)
                if value:
                    attrs[key] = value
            if flags & IFA_F_CONFIG:
                attrs['flags'] = flags & IFA_F_CONFIG
            cacheinfo = _attr(msg, 'IFA_CACHEINFO')
            if cacheinfo is not None and cacheinfo.get('ifa_valid', INFINITY_LIFE_TIME) != INFINITY_LIFE_TIME:
                # The time left, as `ip addr add ... valid_lft N preferred_lft M` would give it.
                attrs['valid_lft'] = cacheinfo['ifa_valid']
                attrs['preferred_lft'] = min(cacheinfo.get('ifa_preferred', 0), cacheinfo['ifa_valid'])
            # IFA_F_SECONDARY is IFA_F_TEMPORARY (a privacy address) for IPv6.
            out.append(Address(family, local, msg['prefixlen'], peer=peer,
                               secondary=family == 'ipv4' and bool(flags & IFA_F_SECONDARY),
                               permanent=bool(flags & IFA_F_PERMANENT), attrs=attrs))
        return out

    def _write(self, change, func, *args, **kwargs):
        """Send one write; True if the kernel carried it out, False if it had nothing
        to do (`ok_errnos`), ApplyError if it refused."""
        ok = kwargs.pop('ok_errnos', ())
        try:
            func(*args, **kwargs)
        except NetlinkError as e:
            if e.code in ok:
                return False
            text = e.args[1] if len(e.args) > 1 and isinstance(e.args[1], str) else None
            raise ApplyError([(change, explain(e.code, change, text))], list(self.applied))
        except Exception as e:  # pylint: disable=broad-except
            # The request may have reached the kernel: a possible change.
            self.uncertain = True
            raise ApplyError([(change, IpvsError("cannot %s: %s" % (change.describe(), e)))], list(self.applied))
        self.applied.append(change)
        return True

    def create(self, name):
        self._write(Change('create', name), self.ipr.link, 'add', ifname=name, kind=LINK_KIND)

    def set_up(self, name, index):
        self._write(Change('up', name), self.ipr.link, 'set', index=index, state='up')

    def add(self, name, index, a):
        kw = dict(index=index, address=a.address, prefixlen=a.prefixlen)
        if a.family == 'ipv4' and a.ip.is_loopback:
            kw['scope'] = RT_SCOPE_HOST  # as `ip addr add` does for 127.0.0.0/8
        return self._write(Change('add', name, a), self.ipr.addr, 'add', ok_errnos=(errno.EEXIST,), **kw)

    def add_back(self, name, index, a, primary):
        """Add IPv4 address `a` (read from the kernel) again as it was: label, peer, broadcast,
        scope, flags and the lifetimes it had left."""
        kw = dict(a.attrs, index=index, local=a.address, address=a.peer or a.address, prefixlen=a.prefixlen)
        return self._write(Change('add-back', name, a, primary), self.ipr.addr, 'add', ok_errnos=(errno.EEXIST,),
                           **kw)

    def remove(self, name, index, a):
        kw = dict(index=index, address=a.peer or a.address, prefixlen=a.prefixlen)
        if a.peer or a.family == 'ipv4':
            kw['local'] = a.address
        return self._write(Change('remove', name, a), self.ipr.addr, 'del', ok_errnos=(errno.EADDRNOTAVAIL,), **kw)

    def sysctl(self, path, value=None):
        """Read /proc/sys file `path` of the namespace, or write `value` to it; OSError if that fails."""
        with entered(self.netns):
            if value is None:
                with open(path) as f:
                    return f.read().strip()
            with open(path, 'w') as f:
                f.write('%s\n' % value)
        return value

    def ipv6_default(self):
        """None where the namespace has no IPv6 (no net.ipv6.conf.default), True where a new
        interface gets IPv6 disabled (net.ipv6.conf.default.disable_ipv6), else False."""
        try:
            return self.sysctl(DEFAULT_DISABLE_IPV6) not in ('', '0')
        except OSError as e:
            if e.errno == errno.ENOENT:
                return None
            return False  # unknown: the kernel will tell

    def promote_secondaries(self, name):
        """Make the kernel promote a secondary address when its primary goes, rather than
        drop them all: net.ipv4.conf.<name>.promote_secondaries=1 (unless it or the `all`
        one is set). The value to put back (None: nothing to put back); IpvsError if the
        sysctl cannot be set."""
        path = PROMOTE_SECONDARIES % name
        try:
            old = self.sysctl(path)
            if old != '0' or self.sysctl(PROMOTE_SECONDARIES % 'all') != '0':
                return None
            self.sysctl(path, '1')
        except OSError as e:
            raise IpvsError("cannot set net.ipv4.conf.%s.promote_secondaries=1: %s" % (name, e.strerror or e))
        self.applied.append(Change('promote', name))
        return old

    def unpromote(self, name, old):
        """Put net.ipv4.conf.<name>.promote_secondaries back to `old` (None: nothing to do).
        None, or the (Change, IpvsError) that failed."""
        if old is None:
            return None
        change = Change('unpromote', name, other=old)
        try:
            self.sysctl(PROMOTE_SECONDARIES % name, old)
        except OSError as e:
            return (change, IpvsError("cannot %s: %s" % (change.describe(), e.strerror or e)))
        self.applied = [c for c in self.applied if c.verb != 'promote']
        return None


class Plan:
    """The whole change for one task, computed before anything is written."""

    def __init__(self, name, link, current, wanted, state, purge, kind):
        self.name = name
        self.exists = link is not None
        # Check mode on an interface that does not exist yet (a warning says so): an
        # earlier task is assumed to create it.
        self.assumed = link is None and kind is None and state == 'present'
        self.up = bool(link and link.up)
        self.create = link is None and kind is not None and state == 'present'
        # kind=dummy: a new interface is brought up, and so is an existing one that is down.
        self.bring_up = self.create or (link is not None and kind is not None and state == 'present' and not link.up)
        self.current = current
        named = set(a.address for a in wanted)
        # IPv6 link-local addresses are the kernel's (it makes one when an interface comes
        # up): left out of results and diffs unless `addresses` names them.
        self.shown = lambda a: not a.link_local or a.address in named
        want = set(a.cidr for a in wanted)
        have = set(a.cidr for a in current)
        if state == 'present':
            v6 = set(a.address for a in wanted if a.family == 'ipv6')
            # Purge leaves dynamic addresses alone (no IFA_F_PERMANENT: SLAAC, DHCP, privacy
            # addresses, anything with a lifetime): whatever made them would make them again.
            self.remove = [a for a in current if a.cidr not in want and (
                (purge and not a.protected and a.permanent) or (a.family == 'ipv6' and a.address in v6))]
            self.add = [a for a in wanted if a.cidr not in have]
        else:
            self.remove = [a for a in current if a.cidr in want]
            self.add = []
        gone = set(a.cidr for a in self.remove)
        self.final = [a for a in current if a.cidr not in gone] + self.add
        # Removing an IPv4 primary address makes the kernel drop the secondaries of its subnet
        # (unless promote_secondaries): those that are to stay, by primary.
        self.at_risk = {}
        for p in self.remove:
            if p.family == 'ipv4' and not p.secondary:
                keep = [s for s in current if s.family == 'ipv4' and s.secondary and s.cidr not in gone
                        and s.subnet == p.subnet]
                if keep:
                    self.at_risk[p.cidr] = keep

    @property
    def changed(self):
        return bool(self.create or self.bring_up or self.add or self.remove)

    def state(self, after):
        if after and self.changed:
            return dict(interface=self.name, exists=self.exists or self.create or self.assumed, up=self.up or self.bring_up,
                        addresses=canonical(a for a in self.final if self.shown(a)))
        return dict(interface=self.name, exists=self.exists, up=self.up,
                    addresses=canonical(a for a in self.current if self.shown(a)))


def _add_back(rt, name, index, primary, keep, applied_error=None):
    """After `primary` was removed: add back those of `keep` (its secondaries that stay) that
    the kernel dropped. Every one that is not back is reported (ApplyError)."""
    failed = []
    try:
        now = set(a.cidr for a in rt.addresses(index, name))
    except IpvsError as e:
        now = None
        why = "may have been dropped by the kernel with %s and could not be checked: %s" % (primary.cidr, e)
        failed = [(Change('add-back', name, s, primary), IpvsError("%s %s" % (s.cidr, why))) for s in keep]
    for s in keep if now is not None else ():
        if s.cidr in now:
            continue
        try:
            rt.add_back(name, index, s, primary)
        except ApplyError as e:
            failed.extend(e.failed)
    if applied_error is not None:
        applied_error.failed.extend(failed)
    elif failed:
        raise ApplyError(failed, list(rt.applied))


def _remove_keeping_secondaries(rt, plan, index, removals, warn):
    """Remove `removals` (secondaries first) where some are primaries whose secondaries stay:
    with promote_secondaries set for the time of it, so that the kernel promotes one of them
    instead of dropping them. Where that sysctl cannot be set, the dropped ones are added
    back as they were, right after their primary went."""
    name = plan.name
    try:
        old = rt.promote_secondaries(name)
    except IpvsError as e:
        old = None
        warn("%s; removing a primary IPv4 address makes the kernel drop the secondary addresses of its subnet, "
             "so those that are to stay were added back (a short interruption)" % e)
    try:
        for a in removals:
            keep = plan.at_risk.get(a.cidr)
            try:
                rt.remove(name, index, a)
            except ApplyError as e:
                if keep and rt.uncertain:  # it may have gone, and its secondaries with it
                    _add_back(rt, name, index, a, keep, applied_error=e)
                raise
            if keep:
                _add_back(rt, name, index, a, keep)
    except BaseException as e:
        failure = rt.unpromote(name, old)
        if failure is not None and isinstance(e, ApplyError):
            e.failed.append(failure)
        raise
    failure = rt.unpromote(name, old)
    if failure is not None:
        raise ApplyError([failure], list(rt.applied))


def apply(rt, plan, warn):
    """Carry out `plan`; the addresses the interface then has."""
    name = plan.name
    if plan.create:
        rt.create(name)
    link = rt.link(name)
    if link is None:
        raise ApplyError([(Change('read', name), IpvsError("interface %s vanished while it was changed" % name))],
                         list(rt.applied))
    if plan.bring_up and not link.up:
        rt.set_up(name, link.index)
    # IPv4 secondaries before their primary: those need not be kept.
    removals = sorted(plan.remove, key=lambda a: not a.secondary)
    if plan.at_risk:
        _remove_keeping_secondaries(rt, plan, link.index, removals, warn)
    else:
        for a in removals:
            rt.remove(name, link.index, a)
    for a in sorted(plan.add, key=Address.sort_key):
        rt.add(name, link.index, a)
    return rt.addresses(link.index, name)


def check_ipv6(rt, plan, link):
    """Fail before any write where the IPv6 addresses to add cannot be added."""
    v6 = canonical(a for a in plan.add if a.family == 'ipv6')
    if not v6:
        return
    v6 = ', '.join(v6)
    if link is not None:
        if not link.ipv6:
            raise IpvsError(no_ipv6(v6, plan.name))
        if link.ipv6_disabled:
            raise IpvsError(ipv6_disabled(v6, plan.name))
    elif plan.create:
        default = rt.ipv6_default()
        if default is None:
            raise IpvsError("cannot add %s to %s: IPv6 is not available in this network namespace (there is no "
                            "net.ipv6.conf.default: the kernel runs without IPv6, booted with ipv6.disable=1?)"
                            % (v6, plan.name))
        if default:
            raise IpvsError("cannot add %s to %s: a new interface gets IPv6 disabled here (sysctl "
                            "net.ipv6.conf.default.disable_ipv6=1)" % (v6, plan.name))


class VipModule(IpvsModule):
    """IpvsModule whose client is rtnetlink (pyroute2), not IPVS."""

    def client(self):
        if self._client is None:
            if platform.system() != 'Linux':
                self.fail("network interfaces are managed here on Linux only; this host runs %s" % platform.system())
            if IPRoute is None:
                self.fail(missing_required_lib('pyroute2'), exception=PYROUTE2_IMPORT_ERROR)
            try:
                self._client = Rtnl(self.params.get('netns'))
            except IpvsError as e:
                self.fail(str(e))
        return self._client


def run(m):
    p = m.params
    name = interface_option(p['interface'])
    wanted = wanted_addresses(p['addresses'] or [])
    state, kind = p['state'], p['kind']
    rt = m.client()
    link = rt.link(name)
    if link is not None and kind is not None and link.kind != LINK_KIND:
        raise IpvsError("interface %s exists but is not a %s interface (it is %s); leave kind out to use it "
                        "as it is" % (name, LINK_KIND, kind_in_words(link.kind)))
    if link is None and state == 'absent':
        plan = Plan(name, None, [], wanted, state, p['purge'], kind)
        return m.finish(False, plan.state(False), plan.state(True), interface=name, created=False, up=False,
                        added=[], removed=[], addresses=[])
    if link is None and kind is None:
        missing = "interface %s does not exist (kind=%s creates it)" % (name, LINK_KIND)
        if not m.check_mode:
            raise IpvsError(missing)
        m.module.warn(missing + "; check mode assumes an earlier task creates it")
    current = rt.addresses(link.index, name) if link is not None else []
    plan = Plan(name, link, current, wanted, state, p['purge'], kind)
    check_ipv6(rt, plan, link)
    after = [a for a in plan.final if plan.shown(a)]
    if plan.changed and not m.check_mode:
        after = [a for a in apply(rt, plan, m.module.warn) if plan.shown(a)]
    return m.finish(plan.changed, plan.state(False), plan.state(True), interface=name, created=plan.create,
                    up=plan.up or plan.bring_up, added=canonical(plan.add), removed=canonical(plan.remove),
                    addresses=canonical(after))
