# -*- coding: utf-8 -*-
# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This is a private module_util of lvs.ipvs: it may change without notice.
"""The collection's vocabulary: plain IPVS objects in one canonical form.

Addresses are kept as inet_ntop() text (what ipvsadm prints), families and
protocols by name, so desired and current state compare with ==. Counters
(stats, rates, connection counts) ride along but never take part in
`config()` comparisons.
"""

from __future__ import absolute_import, division, print_function

import collections
import operator
import socket

__metaclass__ = type

FAMILIES = collections.OrderedDict([('ipv4', socket.AF_INET), ('ipv6', socket.AF_INET6)])
FAMILY_NAMES = dict((v, k) for k, v in FAMILIES.items())
PROTOCOLS = collections.OrderedDict([('tcp', 6), ('udp', 17), ('sctp', 132)])
PROTOCOL_NAMES = dict((v, k) for k, v in PROTOCOLS.items())
FORWARD = collections.OrderedDict([('masq', 0), ('local', 1), ('tun', 2), ('dr', 3), ('bypass', 4), ('fnat', 5)])
FORWARD_NAMES = dict((v, k) for k, v in FORWARD.items())
TUN_TYPES = collections.OrderedDict([('ipip', 0), ('gue', 1), ('gre', 2)])
TUN_TYPE_NAMES = dict((v, k) for k, v in TUN_TYPES.items())
TUN_CSUM = collections.OrderedDict([('nocsum', 0), ('csum', 1), ('remcsum', 2)])
TUN_CSUM_NAMES = dict((v, k) for k, v in TUN_CSUM.items())
SCHEDULERS = ('rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'fo', 'ovf', 'mh', 'twos')
DAEMON_ROLES = collections.OrderedDict([('master', 1), ('backup', 2)])

F_PERSISTENT = 0x1
F_HASHED = 0x2
F_ONEPACKET = 0x4
F_SCHED1 = 0x8
F_SCHED2 = 0x10
F_SCHED3 = 0x20
F_SCHED_MASK = F_SCHED1 | F_SCHED2 | F_SCHED3
# Every flag a user may set; HASHED is the kernel's own bookkeeping.
F_USER_MASK = F_PERSISTENT | F_ONEPACKET | F_SCHED_MASK

SCHED_FLAG_BITS = collections.OrderedDict([('flag-1', F_SCHED1), ('flag-2', F_SCHED2), ('flag-3', F_SCHED3)])
# Names ipvsadm gives the generic bits for the schedulers that use them.
SCHED_FLAG_ALIASES = {
    'sh': collections.OrderedDict([('sh-fallback', F_SCHED1), ('sh-port', F_SCHED2)]),
    'mh': collections.OrderedDict([('mh-fallback', F_SCHED1), ('mh-port', F_SCHED2)]),
}
SCHED_FLAG_CHOICES = ('flag-1', 'flag-2', 'flag-3', 'sh-fallback', 'sh-port', 'mh-fallback', 'mh-port')

DEFAULT_PERSISTENCE_TIMEOUT = 360
DEFAULT_NETMASK = {'ipv4': '255.255.255.255', 'ipv6': '128'}

Stats = collections.namedtuple('Stats', 'conns inpkts outpkts inbytes outbytes')
Rates = collections.namedtuple('Rates', 'cps inpps outpps inbps outbps')
ZERO_STATS = Stats(0, 0, 0, 0, 0)
ZERO_RATES = Rates(0, 0, 0, 0, 0)

Info = collections.namedtuple('Info', 'version conn_table_size')
Timeouts = collections.namedtuple('Timeouts', 'tcp tcpfin udp')
Daemon = collections.namedtuple(
    'Daemon', 'role mcast_interface syncid sync_maxlen mcast_group mcast_port mcast_ttl')
LocalAddress = collections.namedtuple('LocalAddress', 'address family port_conflict conn_counts')


# ---------------------------------------------------------------- addresses

def normalize_ip(value):
    """(family, canonical text) of an address, or ValueError."""
    text = str(value).strip()
    if text.startswith('[') and text.endswith(']'):
        text = text[1:-1]
    for name, af in FAMILIES.items():
        try:
            return name, socket.inet_ntop(af, socket.inet_pton(af, text))
        except (OSError, ValueError):
            continue
    raise ValueError("%r is not an IPv4 or IPv6 address" % (value,))


def addr_port(family, addr, port):
    """'192.0.2.1:80' or '[2001:db8::1]:80', as ipvsadm writes them."""
    if family == 'ipv6':
        return '[%s]:%d' % (addr, port)
    return '%s:%d' % (addr, port)


def normalize_netmask(value, family):
    """Canonical netmask text: dotted IPv4 mask, or IPv6 prefix length digits."""
    text = str(value).strip()
    if family == 'ipv6':
        if text.isdigit() and 1 <= int(text) <= 128:
            return str(int(text))
        raise ValueError("an IPv6 netmask is a prefix length from 1 to 128, not %r" % (value,))
    if text.isdigit() and int(text) <= 32:
        bits = int(text)
        return socket.inet_ntoa((((1 << bits) - 1) << (32 - bits)).to_bytes(4, 'big'))
    try:
        packed = socket.inet_aton(text)
        if text.count('.') != 3:
            raise OSError
    except OSError:
        raise ValueError("an IPv4 netmask is a dotted mask such as 255.255.255.0 or a prefix length "
                         "from 0 to 32, not %r" % (value,))
    return socket.inet_ntoa(packed)


# ---------------------------------------------------------------- services

_SERVICE_FIELDS = 'family protocol vip vport fwmark scheduler flags timeout netmask pe stats rates'


class Service(collections.namedtuple('Service', _SERVICE_FIELDS)):
    """A virtual service. Either (protocol, vip, vport) or fwmark identifies it."""

    __slots__ = ()

    # (family, protocol, vip, vport, fwmark): the first five fields, sliced in C. A table
    # has thousands of services and their keys are taken on every path that reads one.
    key = property(operator.itemgetter(slice(0, 5)))

    def config(self):
        return self[:10]

    @property
    def persistent(self):
        return bool(self.flags & F_PERSISTENT)

    @property
    def one_packet(self):
        return bool(self.flags & F_ONEPACKET)

    @property
    def sched_flags(self):
        return sched_flag_names(self.scheduler, self.flags)

    def text(self):
        return service_text(self.key)


def service_text(key):
    """'TCP 192.0.2.10:80', 'FWM 3' or 'FWM 3 (IPv6)' — as operators read them."""
    family, protocol, vip, vport, fwmark = key
    if fwmark:
        return 'FWM %d%s' % (fwmark, ' (IPv6)' if family == 'ipv6' else '')
    return '%s %s' % (protocol.upper(), addr_port(family, vip, vport))


def make_service(family=None, protocol='tcp', vip=None, vport=0, fwmark=None, scheduler='wlc',
                 flags=0, timeout=0, netmask=None, pe=None, stats=None, rates=None):
    if fwmark:
        protocol, vip, vport = None, None, None
    if netmask is None:
        netmask = DEFAULT_NETMASK[family]
    return Service(family, protocol, vip, vport, fwmark or None, scheduler, flags & F_USER_MASK,
                   timeout, netmask, pe or None, stats, rates)


def sched_flag_names(scheduler, flags):
    aliases = SCHED_FLAG_ALIASES.get(scheduler, {})
    names = []
    for generic, bit in SCHED_FLAG_BITS.items():
        if flags & bit:
            named = [n for n, b in aliases.items() if b == bit]
            names.append(named[0] if named else generic)
    return names


def sched_flags_bits(names, scheduler):
    """Bits of a sched_flags list, or ValueError naming what is wrong."""
    bits = 0
    for name in names or ():
        if name in SCHED_FLAG_BITS:
            bits |= SCHED_FLAG_BITS[name]
            continue
        owner = name.split('-', 1)[0]
        if owner in SCHED_FLAG_ALIASES and name in SCHED_FLAG_ALIASES[owner]:
            if owner != scheduler:
                raise ValueError("sched_flags %r is only valid with scheduler %r, not %r" % (name, owner, scheduler))
            bits |= SCHED_FLAG_ALIASES[owner][name]
            continue
        raise ValueError("unknown sched_flags value %r; accepted: %s" % (name, ', '.join(SCHED_FLAG_CHOICES)))
    return bits


# ---------------------------------------------------------------- real servers

_SERVER_FIELDS = ('rip rport family forward weight u_threshold l_threshold tun_type tun_port tun_csum '
                  'active_conns inactive_conns persist_conns stats rates')


class Server(collections.namedtuple('Server', _SERVER_FIELDS)):
    """A real server (destination) of a virtual service."""

    __slots__ = ()

    @property
    def key(self):
        return (self.rip, self.rport)

    def config(self):
        return self[:10]

    def text(self):
        return 'real server %s' % addr_port(self.family, self.rip, self.rport)


def make_server(rip, rport, family=None, forward='dr', weight=1, u_threshold=0, l_threshold=0,
                tun_type=None, tun_port=None, tun_csum=None, active_conns=0, inactive_conns=0,
                persist_conns=0, stats=None, rates=None):
    if family is None:
        family = normalize_ip(rip)[0]
    if forward != 'tun':
        tun_type = tun_port = tun_csum = None
    else:
        tun_type = tun_type or 'ipip'
        if tun_type != 'gue':
            tun_port = None
        if tun_type == 'ipip':
            tun_csum = None
        elif tun_csum is None:
            tun_csum = 'nocsum'
    return Server(rip, rport, family, forward, weight, u_threshold, l_threshold, tun_type, tun_port,
                  tun_csum, active_conns, inactive_conns, persist_conns, stats, rates)


# ---------------------------------------------------------------- canonical order

def _packed(family, addr):
    return socket.inet_pton(FAMILIES[family], addr) if addr else b''


def server_order(srv):
    """Sort key of real servers in results and diffs: family, address, port.
    (The kernel lists them newest first, which check mode cannot know.)"""
    return (FAMILIES[srv.family], _packed(srv.family, srv.rip), srv.rport)


def service_order(svc):
    """Sort key of services in results: family, then marks, then protocol, address, port."""
    return (FAMILIES[svc.family], svc.fwmark or 0, PROTOCOLS.get(svc.protocol, 0), _packed(svc.family, svc.vip),
            svc.vport or 0)


# ---------------------------------------------------------------- dict shapes (ipvs_info's vocabulary)

def stats_dict(stats):
    return dict(stats._asdict()) if stats is not None else None


def service_dict(svc, servers=None, with_stats=True, with_rates=True):
    d = collections.OrderedDict()
    d['family'] = svc.family
    if svc.fwmark:
        d['fwmark'] = svc.fwmark
    else:
        d['protocol'] = svc.protocol
        d['vip'] = svc.vip
        d['vport'] = svc.vport
    d['scheduler'] = svc.scheduler
    d['sched_flags'] = svc.sched_flags
    d['persistent'] = svc.persistent
    d['persistence_timeout'] = svc.timeout
    d['netmask'] = svc.netmask
    d['pe'] = svc.pe
    d['one_packet'] = svc.one_packet
    if with_stats and svc.stats is not None:
        d['stats'] = stats_dict(svc.stats)
    if with_rates and svc.rates is not None:
        d['rates'] = stats_dict(svc.rates)
    if servers is not None:
        d['servers'] = [server_dict(s, with_stats, with_rates) for s in sorted(servers, key=server_order)]
    return dict(d)


def server_dict(srv, with_stats=True, with_rates=True):
    d = dict(rip=srv.rip, rport=srv.rport, family=srv.family, forward=srv.forward, weight=srv.weight,
             u_threshold=srv.u_threshold, l_threshold=srv.l_threshold, tun_type=srv.tun_type,
             tun_port=srv.tun_port, tun_csum=srv.tun_csum, active_conns=srv.active_conns,
             inactive_conns=srv.inactive_conns, persist_conns=srv.persist_conns)
    if with_stats and srv.stats is not None:
        d['stats'] = stats_dict(srv.stats)
    if with_rates and srv.rates is not None:
        d['rates'] = stats_dict(srv.rates)
    return d


COUNTERS = ('active_conns', 'inactive_conns', 'persist_conns', 'stats', 'rates')


def config_dict(d):
    """A service or server dict without its counters: what --diff shows."""
    if d is None:
        return {}
    out = dict((k, v) for k, v in d.items() if k not in COUNTERS)
    if 'servers' in out:
        out['servers'] = [config_dict(s) for s in out['servers']]
    return out


def daemon_dict(daemon):
    return dict(daemon._asdict())


def laddr_dict(laddr):
    return dict(laddr._asdict())
