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
forks a helper for that and creates a namespace that does not exist.
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
except ImportError:
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
IFA_F_SECONDARY = 0x01
RT_SCOPE_HOST = 254
IFNAMSIZ = 16

PERMISSION = "permission denied: changing network interfaces and their addresses needs CAP_NET_ADMIN (use become: true)"
FAMILY_OF = {socket.AF_INET: 'ipv4', socket.AF_INET6: 'ipv6'}
_PREFIX = re.compile(r'^[0-9]{1,3}$')


class Address:
    """One interface address. `cidr` ('192.0.2.1/32', '2001:db8::1/128', the
    address as inet_ntop writes it) is its identity; `peer` is the kernel's
    IFA_ADDRESS where it differs from the local address (a point-to-point address)."""

    def __init__(self, family, address, prefixlen, peer=None, secondary=False):
        self.family = family
        self.address = address
        self.prefixlen = prefixlen
        self.peer = peer
        self.secondary = secondary
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


def canonical(addresses):
    """The CIDR strings of `addresses`, IPv4 before IPv6, by address, then prefix length."""
    return [a.cidr for a in sorted(addresses, key=Address.sort_key)]


def interface_option(value):
    """The interface name, if Linux would accept it (dev_valid_name)."""
    if (not value or len(value.encode('utf-8')) >= IFNAMSIZ or value in ('.', '..')
            or any(c in value for c in '/:') or any(c.isspace() for c in value)):
        raise OptionError("interface: %r is not a valid interface name (1 to %d bytes, without '/', ':' "
                          "or white space)" % (value, IFNAMSIZ - 1))
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


class Change:
    """One write, as IpvsModule.fail reports it (`applied`, `not_applied`)."""

    def __init__(self, verb, interface, address=None):
        self.verb = verb  # create, up, add, remove, read
        self.interface = interface
        self.address = address

    def describe(self):
        if self.verb == 'create':
            return 'create %s interface %s' % (LINK_KIND, self.interface)
        if self.verb == 'up':
            return 'bring up interface %s' % self.interface
        if self.verb == 'read':
            return 'read interface %s' % self.interface
        if self.verb == 'add':
            return 'add %s to %s' % (self.address.cidr, self.interface)
        return 'remove %s from %s' % (self.address.cidr, self.interface)


def explain(err, change, extra=None):
    """errno `err` of `change` (a Change) in an operator's words, as an IpvsError."""
    name = change.interface
    if err == errno.EPERM:
        msg = PERMISSION
    elif err == errno.EACCES and change.verb == 'add' and change.address.family == 'ipv6':
        msg = ("cannot add %s to %s: IPv6 is disabled on that interface (sysctl net.ipv6.conf.%s.disable_ipv6=1)"
               % (change.address.cidr, name, name))
    elif err == errno.EACCES:
        msg = PERMISSION
    elif err == errno.ENODEV:
        msg = "cannot %s: interface %s does not exist (any more)" % (change.describe(), name)
    elif change.verb == 'create' and err == errno.EOPNOTSUPP:
        msg = ("cannot create interface %s: this kernel has no %s interfaces (CONFIG_DUMMY; is the %s kernel "
               "module available?)" % (name, LINK_KIND, LINK_KIND))
    elif change.verb == 'create' and err == errno.EEXIST:
        msg = "cannot create interface %s: an interface of that name appeared meanwhile" % name
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
    """What the module needs to know of an interface."""

    def __init__(self, index, kind, up, ipv6_disabled):
        self.index = index
        self.kind = kind
        self.up = up
        self.ipv6_disabled = ipv6_disabled


class Rtnl:
    """rtnetlink in network namespace `netns`, through pyroute2's IPRoute. Every
    write is recorded in `applied` (IpvsModule.fail reports them on failure)."""

    def __init__(self, netns=None):
        self.applied = []
        self.uncertain = False
        try:
            with entered(netns):
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
        conf = _attr(msg, 'IFLA_AF_SPEC', 'AF_INET6', 'IFLA_INET6_CONF')
        disabled = bool(conf.get('disable_ipv6')) if isinstance(conf, dict) else False
        return Link(msg['index'], _attr(msg, 'IFLA_LINKINFO', 'IFLA_INFO_KIND'), bool(msg['flags'] & IFF_UP),
                    disabled)

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
            out.append(Address(family, local, msg['prefixlen'], peer=peer, secondary=bool(flags & IFA_F_SECONDARY)))
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

    def remove(self, name, index, a):
        kw = dict(index=index, address=a.peer or a.address, prefixlen=a.prefixlen)
        if a.peer or a.family == 'ipv4':
            kw['local'] = a.address
        return self._write(Change('remove', name, a), self.ipr.addr, 'del', ok_errnos=(errno.EADDRNOTAVAIL,), **kw)


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
            self.remove = [a for a in current if a.cidr not in want and (
                (purge and not a.protected) or (a.family == 'ipv6' and a.address in v6))]
            self.add = [a for a in wanted if a.cidr not in have]
        else:
            self.remove = [a for a in current if a.cidr in want]
            self.add = []
        gone = set(a.cidr for a in self.remove)
        self.final = [a for a in current if a.cidr not in gone] + self.add

    @property
    def changed(self):
        return bool(self.create or self.bring_up or self.add or self.remove)

    def state(self, after):
        if after:
            return dict(interface=self.name, exists=self.exists or self.create or self.assumed, up=self.up or self.bring_up,
                        addresses=canonical(a for a in self.final if self.shown(a)))
        return dict(interface=self.name, exists=self.exists, up=self.up,
                    addresses=canonical(a for a in self.current if self.shown(a)))


def apply(rt, plan):
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
    # IPv4 secondaries before their primary: removing a primary takes its secondaries along
    # (unless promote_secondaries), and those that are to stay are put back below.
    for a in sorted(plan.remove, key=lambda a: not a.secondary):
        rt.remove(name, link.index, a)
    now = set(a.cidr for a in rt.addresses(link.index, name))
    added = set(a.cidr for a in plan.add)
    for a in sorted(plan.final, key=Address.sort_key):
        if a.cidr not in now and (a.cidr in added or a.secondary):
            rt.add(name, link.index, a)
    return rt.addresses(link.index, name)


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
                        "as it is" % (name, LINK_KIND, ('a %s interface' % link.kind) if link.kind else 'a device'))
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
    v6 = canonical(a for a in plan.add if a.family == 'ipv6')
    if v6 and link is not None and link.ipv6_disabled:
        raise IpvsError("cannot add %s to %s: IPv6 is disabled on that interface (sysctl net.ipv6.conf.%s."
                        "disable_ipv6=1)" % (', '.join(v6), name, name))
    after = [a for a in plan.final if plan.shown(a)]
    if plan.changed and not m.check_mode:
        after = [a for a in apply(rt, plan) if plan.shown(a)]
    return m.finish(plan.changed, plan.state(False), plan.state(True), interface=name, created=plan.create,
                    up=plan.up or plan.bring_up, added=canonical(plan.add), removed=canonical(plan.remove),
                    addresses=canonical(after))
