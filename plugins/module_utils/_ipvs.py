# -*- coding: utf-8 -*-
# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This is a private module_util of lvs.ipvs: it may change without notice.
"""The IPVS client: every command of the kernel's "IPVS" generic netlink family.

Encoders return attribute bytes, decoders take (buf, start, end) of a reply's
attributes; IpvsClient ties them to one GenlSocket and turns errnos into
IpvsError messages. Nothing else in the collection builds a netlink message.
"""

from __future__ import absolute_import, division, print_function

import errno
import fcntl
import functools
import os
import shutil
import socket
import struct
import subprocess

from ansible_collections.lvs.ipvs.plugins.module_utils import _ip_vs_conn
from ansible_collections.lvs.ipvs.plugins.module_utils._errors import ApplyError, IpvsError, NotLoaded, explain
from ansible_collections.lvs.ipvs.plugins.module_utils._model import (
    DAEMON_ROLES, FAMILIES, FAMILY_NAMES, FORWARD, FORWARD_NAMES, F_USER_MASK, PROTOCOLS,
    PROTOCOL_NAMES, TUN_CSUM, TUN_CSUM_NAMES, TUN_TYPES, TUN_TYPE_NAMES, Daemon, Info,
    LocalAddress, Rates, Server, Service, Stats, Timeouts, service_text,
)
from ansible_collections.lvs.ipvs.plugins.module_utils._netlink import (
    CTRL_ATTR_FAMILY_NAME, CTRL_CMD_GETFAMILY, GENL_ID_CTRL, NLA_F_NESTED, NLA_TYPE_MASK, NLAHDR, GenlSocket, Request,
    attr, attr_be16, attr_str, attr_u8, attr_u16, attr_u32, get_str, get_uint, nested, parse_attrs,
)
from ansible_collections.lvs.ipvs.plugins.module_utils._netns import entered

__metaclass__ = type

FAMILY = 'IPVS'

CMD_NEW_SERVICE = 1
CMD_SET_SERVICE = 2
CMD_DEL_SERVICE = 3
CMD_GET_SERVICE = 4
CMD_NEW_DEST = 5
CMD_SET_DEST = 6
CMD_DEL_DEST = 7
CMD_GET_DEST = 8
CMD_NEW_DAEMON = 9
CMD_DEL_DAEMON = 10
CMD_GET_DAEMON = 11
CMD_SET_CONFIG = 12
CMD_GET_CONFIG = 13
CMD_GET_INFO = 15
CMD_ZERO = 16
CMD_FLUSH = 17
CMD_NEW_LADDR = 18   # FULLNAT kernels (Alibaba LVS) only
CMD_DEL_LADDR = 19
CMD_GET_LADDR = 20

CMD_ATTR_SERVICE = 1
CMD_ATTR_DEST = 2
CMD_ATTR_DAEMON = 3
CMD_ATTR_TIMEOUT_TCP = 4
CMD_ATTR_TIMEOUT_TCP_FIN = 5
CMD_ATTR_TIMEOUT_UDP = 6
CMD_ATTR_LADDR = 7

SVC_ATTR_AF = 1
SVC_ATTR_PROTOCOL = 2
SVC_ATTR_ADDR = 3
SVC_ATTR_PORT = 4
SVC_ATTR_FWMARK = 5
SVC_ATTR_SCHED_NAME = 6
SVC_ATTR_FLAGS = 7
SVC_ATTR_TIMEOUT = 8
SVC_ATTR_NETMASK = 9
SVC_ATTR_STATS = 10
SVC_ATTR_PE_NAME = 11
SVC_ATTR_STATS64 = 12

DEST_ATTR_ADDR = 1
DEST_ATTR_PORT = 2
DEST_ATTR_FWD_METHOD = 3
DEST_ATTR_WEIGHT = 4
DEST_ATTR_U_THRESH = 5
DEST_ATTR_L_THRESH = 6
DEST_ATTR_ACTIVE_CONNS = 7
DEST_ATTR_INACT_CONNS = 8
DEST_ATTR_PERSIST_CONNS = 9
DEST_ATTR_STATS = 10
DEST_ATTR_ADDR_FAMILY = 11
DEST_ATTR_STATS64 = 12
DEST_ATTR_TUN_TYPE = 13
DEST_ATTR_TUN_PORT = 14
DEST_ATTR_TUN_FLAGS = 15

DAEMON_ATTR_STATE = 1
DAEMON_ATTR_MCAST_IFN = 2
DAEMON_ATTR_SYNC_ID = 3
DAEMON_ATTR_SYNC_MAXLEN = 4
DAEMON_ATTR_MCAST_GROUP = 5
DAEMON_ATTR_MCAST_GROUP6 = 6
DAEMON_ATTR_MCAST_PORT = 7
DAEMON_ATTR_MCAST_TTL = 8

INFO_ATTR_VERSION = 1
INFO_ATTR_CONN_TAB_SIZE = 2

LADDR_ATTR_ADDR = 1
LADDR_ATTR_PORT_CONFLICT = 2
LADDR_ATTR_CONN_COUNTS = 3

SIOCGIFMTU = 0x8921
STATS_ATTRS = range(1, 11)  # conns inpkts outpkts inbytes outbytes cps inpps outpps inbps outbps

_FLAGS = struct.Struct('=II')
_ROLE_NAMES = dict((v, k) for k, v in DAEMON_ROLES.items())


# ---------------------------------------------------------------- encoding

def _addr16(family, text):
    packed = socket.inet_pton(FAMILIES[family], text)
    return packed + b'\0' * (16 - len(packed))


def _addr_from16(af, raw):
    if af == socket.AF_INET6:
        return socket.inet_ntop(af, raw[:16])
    return socket.inet_ntop(socket.AF_INET, raw[:4])


def encode_service_key(key):
    """The CMD_ATTR_SERVICE nest that names a service (for GET/DEL and dests)."""
    family, protocol, vip, vport, fwmark = key
    parts = [attr_u16(SVC_ATTR_AF, FAMILIES[family])]
    if fwmark:
        parts.append(attr_u32(SVC_ATTR_FWMARK, fwmark))
    else:
        parts.append(attr_u16(SVC_ATTR_PROTOCOL, PROTOCOLS[protocol]))
        parts.append(attr(SVC_ATTR_ADDR, _addr16(family, vip)))
        parts.append(attr_be16(SVC_ATTR_PORT, vport))
    return parts


_KEY_NEST = struct.Struct('=HH' + 'HHH2x' + 'HHH2x' + 'HH16s' + 'HHBB2x')
_FWMARK_KEY_NEST = struct.Struct('=HH' + 'HHH2x' + 'HHI')
_SERVICE_NEST = CMD_ATTR_SERVICE | NLA_F_NESTED


def service_key_nest(key):
    """nested(CMD_ATTR_SERVICE, *encode_service_key(key)), in one pack."""
    family, protocol, vip, vport, fwmark = key
    af = FAMILIES[family]
    if fwmark:
        return _FWMARK_KEY_NEST.pack(_FWMARK_KEY_NEST.size, _SERVICE_NEST, 6, SVC_ATTR_AF, af,
                                     8, SVC_ATTR_FWMARK, fwmark)
    return _KEY_NEST.pack(_KEY_NEST.size, _SERVICE_NEST, 6, SVC_ATTR_AF, af, 6, SVC_ATTR_PROTOCOL,
                          PROTOCOLS[protocol], 20, SVC_ATTR_ADDR, socket.inet_pton(af, vip), 6, SVC_ATTR_PORT,
                          vport >> 8, vport & 0xff)


@functools.lru_cache(maxsize=16)
def _service_ref(key):
    """(the CMD_ATTR_SERVICE nest, the text) of a service key: a plan builds
    each service's ops, and their undo ops, one after another."""
    return service_key_nest(key), service_text(key)


def encode_netmask(family, netmask):
    # IPv4: the mask's bytes as they are (be32); IPv6: the prefix length as a
    # plain u32 in that same field, as the kernel compares it with 128.
    if family == 'ipv6':
        return attr_u32(SVC_ATTR_NETMASK, int(netmask))
    return attr(SVC_ATTR_NETMASK, socket.inet_aton(netmask))


def encode_service(svc, mask=F_USER_MASK):
    """Full service nest for NEW/SET. The kernel sets new flags as
    (old & ~mask) | (flags & mask): mask names the flags meant to change."""
    parts = [_service_ref(svc.key)[0][4:]]  # the key's attributes, from the key's nest
    parts.append(attr_str(SVC_ATTR_SCHED_NAME, svc.scheduler))
    parts.append(attr(SVC_ATTR_FLAGS, _FLAGS.pack(svc.flags & F_USER_MASK, mask)))
    parts.append(attr_u32(SVC_ATTR_TIMEOUT, svc.timeout))
    parts.append(encode_netmask(svc.family, svc.netmask))
    if svc.pe:
        parts.append(attr_str(SVC_ATTR_PE_NAME, svc.pe))
    return nested(CMD_ATTR_SERVICE, *parts)


# A real server's nest without tunnel attributes, and its identity alone (for
# DEL), each in one pack: what encode_server() builds from attributes.
_DEST_NEST = struct.Struct('=HH' + 'HH16s' + 'HHBB2x' + 'HHH2x' + 'HHI' * 4)
_DEST_KEY_NEST = struct.Struct('=HH' + 'HH16s' + 'HHBB2x' + 'HHH2x')
_DEST_TYPE = CMD_ATTR_DEST | NLA_F_NESTED


def encode_server(srv, full=True):
    if full and srv.forward == 'tun':
        return encode_server_attrs(srv, full)
    af = FAMILIES[srv.family]
    port = srv.rport
    if not full:
        return _DEST_KEY_NEST.pack(_DEST_KEY_NEST.size, _DEST_TYPE, 20, DEST_ATTR_ADDR, socket.inet_pton(af, srv.rip),
                                   6, DEST_ATTR_PORT, port >> 8, port & 0xff, 6, DEST_ATTR_ADDR_FAMILY, af)
    return _DEST_NEST.pack(_DEST_NEST.size, _DEST_TYPE, 20, DEST_ATTR_ADDR, socket.inet_pton(af, srv.rip),
                           6, DEST_ATTR_PORT, port >> 8, port & 0xff, 6, DEST_ATTR_ADDR_FAMILY, af,
                           8, DEST_ATTR_FWD_METHOD, FORWARD[srv.forward], 8, DEST_ATTR_WEIGHT, srv.weight & 0xffffffff,
                           8, DEST_ATTR_U_THRESH, srv.u_threshold, 8, DEST_ATTR_L_THRESH, srv.l_threshold)


def encode_server_attrs(srv, full=True):
    """encode_server() attribute by attribute: the reference its packs are tested against, and tunnels."""
    parts = [attr(DEST_ATTR_ADDR, _addr16(srv.family, srv.rip)),
             attr_be16(DEST_ATTR_PORT, srv.rport),
             attr_u16(DEST_ATTR_ADDR_FAMILY, FAMILIES[srv.family])]
    if full:
        parts.append(attr_u32(DEST_ATTR_FWD_METHOD, FORWARD[srv.forward]))
        parts.append(attr_u32(DEST_ATTR_WEIGHT, srv.weight & 0xffffffff))
        parts.append(attr_u32(DEST_ATTR_U_THRESH, srv.u_threshold))
        parts.append(attr_u32(DEST_ATTR_L_THRESH, srv.l_threshold))
        if srv.forward == 'tun':
            parts.append(attr_u8(DEST_ATTR_TUN_TYPE, TUN_TYPES[srv.tun_type or 'ipip']))
            parts.append(attr_be16(DEST_ATTR_TUN_PORT, srv.tun_port or 0))
            parts.append(attr_u16(DEST_ATTR_TUN_FLAGS, TUN_CSUM[srv.tun_csum or 'nocsum']))
    return nested(CMD_ATTR_DEST, *parts)


def encode_daemon(d):
    parts = [attr_u32(DAEMON_ATTR_STATE, DAEMON_ROLES[d.role])]
    if d.mcast_interface is not None:
        parts.append(attr_str(DAEMON_ATTR_MCAST_IFN, d.mcast_interface))
    if d.syncid is not None:
        parts.append(attr_u32(DAEMON_ATTR_SYNC_ID, d.syncid))
    if d.sync_maxlen:
        parts.append(attr_u16(DAEMON_ATTR_SYNC_MAXLEN, d.sync_maxlen))
    if d.mcast_group:
        if ':' in d.mcast_group:
            parts.append(attr(DAEMON_ATTR_MCAST_GROUP6, socket.inet_pton(socket.AF_INET6, d.mcast_group)))
        else:
            parts.append(attr(DAEMON_ATTR_MCAST_GROUP, socket.inet_aton(d.mcast_group)))
    if d.mcast_port:
        parts.append(attr_u16(DAEMON_ATTR_MCAST_PORT, d.mcast_port))
    if d.mcast_ttl:
        parts.append(attr_u8(DAEMON_ATTR_MCAST_TTL, d.mcast_ttl))
    return nested(CMD_ATTR_DAEMON, *parts)


def encode_laddr(family, address):
    return nested(CMD_ATTR_LADDR, attr(LADDR_ATTR_ADDR, _addr16(family, address)))


# ---------------------------------------------------------------- decoding

_NEW = tuple.__new__
_U32 = struct.Struct('=I')


def _hdr(alen, atype):
    """An attribute header (length, type) read as one host-order u32."""
    return _U32.unpack(NLAHDR.pack(alen, atype))[0]


# A STATS64 nest's payload when it has no PAD attributes (nla_put_u64_64bit adds
# them only where the architecture needs 8-byte alignment): (header, u64) x 10.
_STATS64 = struct.Struct('=' + 'IQ' * 10)
_STATS64_SIZE = _STATS64.size
_STATS64_HDRS = tuple(_hdr(12, i) for i in STATS_ATTRS)


def decode_stats(buf, off, length):
    """(Stats, Rates) of a STATS or STATS64 nest's payload."""
    if length == _STATS64_SIZE:
        t = _STATS64.unpack_from(buf, off)
        if t[0::2] == _STATS64_HDRS:     # STATS64 without PAD attributes: one unpack
            return _NEW(Stats, t[1:10:2]), _NEW(Rates, t[11::2])
    a = parse_attrs(buf, off, off + length)
    v = [get_uint(buf, *a[i]) if i in a else 0 for i in STATS_ATTRS]
    return Stats(*v[:5]), Rates(*v[5:])


def _stats_of(buf, a, attr64, attr32):
    if attr64 in a:
        return decode_stats(buf, *a[attr64])
    if attr32 in a:
        return decode_stats(buf, *a[attr32])
    return None, None


def decode_service(buf, start, end, with_stats=True):
    top = parse_attrs(buf, start, end)
    off, length = top[CMD_ATTR_SERVICE]
    a = parse_attrs(buf, off, off + length)
    af = get_uint(buf, *a[SVC_ATTR_AF])
    family = FAMILY_NAMES.get(af, str(af))
    fwmark = get_uint(buf, *a[SVC_ATTR_FWMARK]) if SVC_ATTR_FWMARK in a else 0
    if fwmark:
        protocol = vip = vport = None
    else:
        proto = get_uint(buf, *a[SVC_ATTR_PROTOCOL])
        protocol = PROTOCOL_NAMES.get(proto, str(proto))
        o, n = a[SVC_ATTR_ADDR]
        vip = _addr_from16(af, bytes(buf[o:o + n]))
        o, _n = a[SVC_ATTR_PORT]
        vport = struct.unpack_from('>H', buf, o)[0]
    o, _n = a[SVC_ATTR_FLAGS]
    flags = _FLAGS.unpack_from(buf, o)[0]
    o, n = a[SVC_ATTR_NETMASK]
    if af == socket.AF_INET6:
        netmask = str(get_uint(buf, o, n))
    else:
        netmask = socket.inet_ntoa(bytes(buf[o:o + 4]))
    pe = get_str(buf, *a[SVC_ATTR_PE_NAME]) if SVC_ATTR_PE_NAME in a else None
    stats = rates = None
    if with_stats:
        stats, rates = _stats_of(buf, a, SVC_ATTR_STATS64, SVC_ATTR_STATS)
    return Service(family, protocol, vip, vport, fwmark or None, get_str(buf, *a[SVC_ATTR_SCHED_NAME]),
                   flags & F_USER_MASK, get_uint(buf, *a[SVC_ATTR_TIMEOUT]), netmask, pe or None,
                   stats, rates)


def make_dest_decoder(service_af, with_stats=True):
    def decode_dest(buf, start, end):
        top = parse_attrs(buf, start, end)
        off, length = top[CMD_ATTR_DEST]
        a = parse_attrs(buf, off, off + length)
        af = get_uint(buf, *a[DEST_ATTR_ADDR_FAMILY]) if DEST_ATTR_ADDR_FAMILY in a else service_af
        o, n = a[DEST_ATTR_ADDR]
        rip = _addr_from16(af, bytes(buf[o:o + n]))
        rport = struct.unpack_from('>H', buf, a[DEST_ATTR_PORT][0])[0]
        fwd = get_uint(buf, *a[DEST_ATTR_FWD_METHOD]) & 0x7
        forward = FORWARD_NAMES.get(fwd, str(fwd))
        tun_type = tun_port = tun_csum = None
        if forward == 'tun':
            tun_type = TUN_TYPE_NAMES.get(get_uint(buf, *a[DEST_ATTR_TUN_TYPE]) if DEST_ATTR_TUN_TYPE in a else 0)
            if tun_type == 'gue' and DEST_ATTR_TUN_PORT in a:
                tun_port = struct.unpack_from('>H', buf, a[DEST_ATTR_TUN_PORT][0])[0]
            if tun_type in ('gue', 'gre'):
                tun_csum = TUN_CSUM_NAMES.get(get_uint(buf, *a[DEST_ATTR_TUN_FLAGS]) if DEST_ATTR_TUN_FLAGS in a else 0,
                                              'nocsum')
        weight = get_uint(buf, *a[DEST_ATTR_WEIGHT])
        if weight & 0x80000000:
            weight -= 1 << 32
        stats = rates = None
        if with_stats:
            stats, rates = _stats_of(buf, a, DEST_ATTR_STATS64, DEST_ATTR_STATS)
        return Server(rip, rport, FAMILY_NAMES.get(af, str(af)), forward, weight,
                      get_uint(buf, *a[DEST_ATTR_U_THRESH]), get_uint(buf, *a[DEST_ATTR_L_THRESH]),
                      tun_type, tun_port, tun_csum,
                      get_uint(buf, *a[DEST_ATTR_ACTIVE_CONNS]), get_uint(buf, *a[DEST_ATTR_INACT_CONNS]),
                      get_uint(buf, *a[DEST_ATTR_PERSIST_CONNS]), stats, rates)
    return decode_dest


# ---------------------------------------------------------------- fast decoding
#
# The kernel writes the attributes of a service or a real server always in the
# same order (ip_vs_genl_fill_service / ip_vs_genl_fill_dest), and all but the
# scheduler and persistence-engine names at fixed sizes. So one Struct that
# includes the attribute headers unpacks a whole nest, and one comparison of the
# headers read with the ones expected confirms the layout. What follows the
# fixed part is STATS and STATS64; only their headers are looked at unless stats
# are asked for. Anything else (another kernel, another order, a FULLNAT kernel,
# PAD attributes in the stats) goes to the generic decoders above, which stay
# the reference: the fast ones return exactly what they return, for any bytes.

_NO_STATS = (None, None)

# CMD_ATTR_DEST nest: header, then ADDR PORT FWD_METHOD WEIGHT TUN_TYPE TUN_PORT
# TUN_FLAGS U_THRESH L_THRESH ACTIVE_CONNS INACT_CONNS PERSIST_CONNS ADDR_FAMILY
# (120 bytes), then STATS and STATS64, whose headers the same unpack reads where
# they are without PAD attributes (336 bytes in all). Ports come as their two bytes.
_DEST_FORMAT = ('HH' + 'I16s' + 'IBB2x' + 'II' + 'Ii' + 'IB3x' + 'IBB2x' + 'IH2x' + 'II' + 'II' + 'II' + 'II' + 'II'
                + 'IH2x' + 'HH88xHH')
_DEST = struct.Struct('=' + _DEST_FORMAT)
# The same, with the message's netlink header (length, type, seq) and genl header before it.
_DEST_MSG = struct.Struct('=IH2xI4x' + '4x' + _DEST_FORMAT)
_DEST_HDRS = (_hdr(20, DEST_ATTR_ADDR), _hdr(6, DEST_ATTR_PORT), _hdr(8, DEST_ATTR_FWD_METHOD),
              _hdr(8, DEST_ATTR_WEIGHT), _hdr(5, DEST_ATTR_TUN_TYPE), _hdr(6, DEST_ATTR_TUN_PORT),
              _hdr(6, DEST_ATTR_TUN_FLAGS), _hdr(8, DEST_ATTR_U_THRESH), _hdr(8, DEST_ATTR_L_THRESH),
              _hdr(8, DEST_ATTR_ACTIVE_CONNS), _hdr(8, DEST_ATTR_INACT_CONNS), _hdr(8, DEST_ATTR_PERSIST_CONNS),
              _hdr(6, DEST_ATTR_ADDR_FAMILY))
_DEST_SIZE = 120                    # the fixed part
_DEST_FULL = _DEST.size + _STATS64_SIZE
_DEST_MSG_LEN = 20 + _DEST_FULL
_DEST_READ = frozenset((DEST_ATTR_ADDR, DEST_ATTR_PORT, DEST_ATTR_FWD_METHOD, DEST_ATTR_WEIGHT, DEST_ATTR_U_THRESH,
                        DEST_ATTR_L_THRESH, DEST_ATTR_ACTIVE_CONNS, DEST_ATTR_INACT_CONNS, DEST_ATTR_PERSIST_CONNS,
                        DEST_ATTR_ADDR_FAMILY, DEST_ATTR_TUN_TYPE, DEST_ATTR_TUN_PORT, DEST_ATTR_TUN_FLAGS))

# CMD_ATTR_SERVICE nest: header, AF, and the header of what follows: FWMARK, or
# PROTOCOL ADDR PORT; then SCHED_NAME [PE_NAME] (strings), FLAGS TIMEOUT NETMASK,
# then STATS and STATS64.
_SVC_HEAD = struct.Struct('=HH' + 'IH2x' + 'I')
_SVC_ADDR = struct.Struct('=H2x' + 'I16s' + 'IBB2x')
_SVC_TAIL = struct.Struct('=III' + 'II' + 'I4s')
_H_AF = _hdr(6, SVC_ATTR_AF)
_H_PROTOCOL = _hdr(6, SVC_ATTR_PROTOCOL)
_H_FWMARK = _hdr(8, SVC_ATTR_FWMARK)
_SVC_ADDR_HDRS = (_hdr(20, SVC_ATTR_ADDR), _hdr(6, SVC_ATTR_PORT))
_SVC_TAIL_HDRS = (_hdr(12, SVC_ATTR_FLAGS), _hdr(8, SVC_ATTR_TIMEOUT), _hdr(8, SVC_ATTR_NETMASK))
_SVC_READ = frozenset((SVC_ATTR_AF, SVC_ATTR_PROTOCOL, SVC_ATTR_ADDR, SVC_ATTR_PORT, SVC_ATTR_FWMARK,
                       SVC_ATTR_SCHED_NAME, SVC_ATTR_FLAGS, SVC_ATTR_TIMEOUT, SVC_ATTR_NETMASK, SVC_ATTR_PE_NAME))

# STATS (u32 counters, u64 bytes: 92 bytes) then STATS64 (124 bytes), without
# PAD attributes: the two nest headers, read in one unpack.
_STATS_PAIR = struct.Struct('=HH88xHH')
_STATS_PAIR_SIZE = 92 + 4 + _STATS64_SIZE
_SVC_STATS_PAIR = (92, SVC_ATTR_STATS, 4 + _STATS64_SIZE, SVC_ATTR_STATS64)
_DEST_STATS_PAIR = (92, DEST_ATTR_STATS, 4 + _STATS64_SIZE, DEST_ATTR_STATS64)

_FORWARD_BY_BITS = tuple(FORWARD_NAMES.get(i, str(i)) for i in range(8))
_TUNNEL = FORWARD['tun']
_NTOP = socket.inet_ntop
_AF_INET = socket.AF_INET
_AF_INET6 = socket.AF_INET6
_OCTETS = tuple(str(i) for i in range(256))     # '.'.join of these is inet_ntop(AF_INET), in half its time
_NAMES = {}                         # scheduler / PE name bytes -> str
_NETMASKS = {_AF_INET: {}, _AF_INET6: {}}


def _other_tail(buf, pos, end, read, attr64, attr32, with_stats):
    """(Stats, Rates), or (None, None) without stats, from the attributes that
    follow a nest's fixed part in buf[pos:end] when they are not just STATS and
    STATS64; None if one of them is of a type in `read` (the generic decoder
    would take that one instead of the fixed part's)."""
    p = pos
    while p + 4 <= end:
        alen, atype = NLAHDR.unpack_from(buf, p)
        if alen < 4:
            break
        if atype & NLA_TYPE_MASK in read:
            return None
        p += (alen + 3) & ~3
    if not with_stats:
        return _NO_STATS
    return _stats_of(buf, parse_attrs(buf, pos, end), attr64, attr32)


def _name(buf, off, length):
    raw = bytes(buf[off:off + length])
    text = _NAMES.get(raw)
    if text is None:
        text = raw.split(b'\0', 1)[0].decode('ascii', 'replace')
        if len(_NAMES) < 256:
            _NAMES[raw] = text
    return text


def _netmask(af, raw):
    cache = _NETMASKS[af]
    text = cache.get(raw)
    if text is None:
        text = str(_U32.unpack(raw)[0]) if af == _AF_INET6 else socket.inet_ntoa(raw)
        if len(cache) < 256:
            cache[raw] = text
    return text


_NO_TUNNEL = (None, None, None)


def _tunnel(tun_type, port_hi, port_lo, flags):
    """(tun_type, tun_port, tun_csum) of a tunnel server's fixed fields."""
    tt = TUN_TYPE_NAMES.get(tun_type)
    tp = (port_hi << 8) | port_lo if tt == 'gue' else None
    tc = TUN_CSUM_NAMES.get(flags, 'nocsum') if tt in ('gue', 'gre') else None
    return tt, tp, tc


def make_fast_service_decoder(with_stats=True):
    """decode_service() for the layout Linux writes, in a few unpacks."""
    unpack_head = _SVC_HEAD.unpack_from
    unpack_addr = _SVC_ADDR.unpack_from
    unpack_tail = _SVC_TAIL.unpack_from
    unpack_pair = _STATS_PAIR.unpack_from
    unpack_attr = NLAHDR.unpack_from
    unpack_u32 = _U32.unpack_from
    protocols = PROTOCOL_NAMES

    def decode_service_fast(buf, start, end):
        if end - start < 16:
            return decode_service(buf, start, end, with_stats)
        nlen, ntype, afh, af, nexth = unpack_head(buf, start)
        if ntype != CMD_ATTR_SERVICE or start + nlen != end or afh != _H_AF or af not in _NETMASKS:
            return decode_service(buf, start, end, with_stats)
        p = start + 16
        if nexth == _H_PROTOCOL and p + 32 <= end:
            proto, addrh, addr, porth, hi, lo = unpack_addr(buf, p)
            if (addrh, porth) != _SVC_ADDR_HDRS:
                return decode_service(buf, start, end, with_stats)
            protocol = protocols.get(proto) or str(proto)
            if af == _AF_INET:
                vip = '.'.join((_OCTETS[addr[0]], _OCTETS[addr[1]], _OCTETS[addr[2]], _OCTETS[addr[3]]))
            else:
                vip = _NTOP(_AF_INET6, addr)
            vport = (hi << 8) | lo
            fwmark = None
            p += 32
        elif nexth == _H_FWMARK and p + 4 <= end:
            fwmark = unpack_u32(buf, p)[0]
            if not fwmark:
                return decode_service(buf, start, end, with_stats)
            vip = protocol = vport = None
            p += 4
        else:
            return decode_service(buf, start, end, with_stats)
        if p + 4 > end:
            return decode_service(buf, start, end, with_stats)
        alen, atype = unpack_attr(buf, p)
        q = p + ((alen + 3) & ~3)
        if atype != SVC_ATTR_SCHED_NAME or alen < 4 or q > end:
            return decode_service(buf, start, end, with_stats)
        scheduler = _name(buf, p + 4, alen - 4)
        p = q
        pe = None
        if p + 4 <= end:
            alen, atype = unpack_attr(buf, p)
            q = p + ((alen + 3) & ~3)
            if atype == SVC_ATTR_PE_NAME and alen >= 4 and q <= end:
                pe = _name(buf, p + 4, alen - 4) or None
                p = q
        if p + 28 > end:
            return decode_service(buf, start, end, with_stats)
        flagsh, flags, _mask, timeouth, timeout, netmaskh, netmask = unpack_tail(buf, p)
        if (flagsh, timeouth, netmaskh) != _SVC_TAIL_HDRS:
            return decode_service(buf, start, end, with_stats)
        p += 28
        if end - p == _STATS_PAIR_SIZE and unpack_pair(buf, p) == _SVC_STATS_PAIR:
            stats = decode_stats(buf, p + 96, _STATS64_SIZE) if with_stats else _NO_STATS
        else:
            stats = _other_tail(buf, p, end, _SVC_READ, SVC_ATTR_STATS64, SVC_ATTR_STATS, with_stats)
            if stats is None:
                return decode_service(buf, start, end, with_stats)
        return _NEW(Service, (FAMILY_NAMES[af], protocol, vip, vport, fwmark, scheduler, flags & F_USER_MASK,
                              timeout, _netmask(af, netmask), pe) + stats)
    return decode_service_fast


def make_fast_dest_decoder(service_af, with_stats=True):
    """make_dest_decoder()'s decoder for the layout Linux writes, in one
    unpack (two with stats)."""
    slow = make_dest_decoder(service_af, with_stats)
    unpack = _DEST.unpack_from
    forwards = _FORWARD_BY_BITS
    ipv4 = FAMILY_NAMES[_AF_INET]
    ipv6 = FAMILY_NAMES[_AF_INET6]
    octets = _OCTETS
    join = '.'.join

    def decode_dest_fast(buf, start, end):
        if end - start < _DEST_FULL:
            return slow(buf, start, end)
        (nlen, ntype, addrh, addr, porth, hi, lo, fwdh, fwd, weighth, weight, tunh, tun_type, tunporth,
         tun_hi, tun_lo, tunflagsh, tun_flags, uh, u_threshold, lh, l_threshold, activeh, active,
         inacth, inact, persisth, persist, afh, af, len32, type32, len64, type64) = unpack(buf, start)
        if (ntype != CMD_ATTR_DEST or start + nlen != end
                or (addrh, porth, fwdh, weighth, tunh, tunporth, tunflagsh, uh, lh, activeh, inacth, persisth,
                    afh) != _DEST_HDRS):
            return slow(buf, start, end)
        if af == _AF_INET:
            rip = join((octets[addr[0]], octets[addr[1]], octets[addr[2]], octets[addr[3]]))
            family = ipv4
        elif af == _AF_INET6:
            rip = _NTOP(_AF_INET6, addr)
            family = ipv6
        else:
            return slow(buf, start, end)
        if (len32, type32, len64, type64) == _DEST_STATS_PAIR and nlen == _DEST_FULL:
            stats, rates = decode_stats(buf, start + _DEST_FULL - _STATS64_SIZE, _STATS64_SIZE) if with_stats else _NO_STATS
        else:
            tail = _other_tail(buf, start + _DEST_SIZE, end, _DEST_READ, DEST_ATTR_STATS64, DEST_ATTR_STATS, with_stats)
            if tail is None:
                return slow(buf, start, end)
            stats, rates = tail
        fwd &= 7
        tt, tp, tc = _tunnel(tun_type, tun_hi, tun_lo, tun_flags) if fwd == _TUNNEL else _NO_TUNNEL
        return _NEW(Server, (rip, (hi << 8) | lo, family, forwards[fwd], weight, u_threshold, l_threshold,
                             tt, tp, tc, active, inact, persist, stats, rates))

    unpack_msg = _DEST_MSG.unpack_from
    layout = (_DEST_FULL, CMD_ATTR_DEST) + _DEST_HDRS + _DEST_STATS_PAIR

    def decode_dests_fast(buf, n, seq, family_id, out):
        """What decode_dest_fast() makes of the messages of dump `seq` at the
        start of a datagram of n bytes, appended to `out`, for as long as they
        have the layout: each in one unpack that includes its netlink header.
        Returns where the first other message starts."""
        pos = 0
        expect = (_DEST_MSG_LEN, family_id, seq) + layout
        append = out.append
        while pos + _DEST_MSG_LEN <= n:
            (mlen, mtype, mseq, nlen, ntype, addrh, addr, porth, hi, lo, fwdh, fwd, weighth, weight, tunh, tun_type,
             tunporth, tun_hi, tun_lo, tunflagsh, tun_flags, uh, u_threshold, lh, l_threshold, activeh, active,
             inacth, inact, persisth, persist, afh, af, len32, type32, len64, type64) = unpack_msg(buf, pos)
            if (mlen, mtype, mseq, nlen, ntype, addrh, porth, fwdh, weighth, tunh, tunporth, tunflagsh, uh, lh,
                    activeh, inacth, persisth, afh, len32, type32, len64, type64) != expect:
                break
            if af == _AF_INET:
                rip = join((octets[addr[0]], octets[addr[1]], octets[addr[2]], octets[addr[3]]))
                family = ipv4
            elif af == _AF_INET6:
                rip = _NTOP(_AF_INET6, addr)
                family = ipv6
            else:
                break
            stats, rates = decode_stats(buf, pos + _DEST_MSG_LEN - _STATS64_SIZE, _STATS64_SIZE) if with_stats else _NO_STATS
            fwd &= 7
            tt, tp, tc = _tunnel(tun_type, tun_hi, tun_lo, tun_flags) if fwd == _TUNNEL else _NO_TUNNEL
            append(_NEW(Server, (rip, (hi << 8) | lo, family, forwards[fwd], weight, u_threshold, l_threshold,
                                 tt, tp, tc, active, inact, persist, stats, rates)))
            pos += _DEST_MSG_LEN
        return pos

    decode_dest_fast.many = decode_dests_fast
    return decode_dest_fast


_SERVICE_DECODERS = {True: make_fast_service_decoder(True), False: make_fast_service_decoder(False)}
_DEST_DECODERS = dict(((af, with_stats), make_fast_dest_decoder(af, with_stats))
                      for af in (socket.AF_INET, socket.AF_INET6) for with_stats in (True, False))


def decode_daemon(buf, start, end):
    top = parse_attrs(buf, start, end)
    off, length = top[CMD_ATTR_DAEMON]
    a = parse_attrs(buf, off, off + length)

    def num(key, default=None):
        return get_uint(buf, *a[key]) if key in a else default
    group = None
    if DAEMON_ATTR_MCAST_GROUP6 in a:
        o, n = a[DAEMON_ATTR_MCAST_GROUP6]
        group = socket.inet_ntop(socket.AF_INET6, bytes(buf[o:o + 16]))
    elif DAEMON_ATTR_MCAST_GROUP in a:
        o, n = a[DAEMON_ATTR_MCAST_GROUP]
        group = socket.inet_ntoa(bytes(buf[o:o + 4]))
    state = num(DAEMON_ATTR_STATE, 0)
    return Daemon(_ROLE_NAMES.get(state, str(state)),
                  get_str(buf, *a[DAEMON_ATTR_MCAST_IFN]) if DAEMON_ATTR_MCAST_IFN in a else None,
                  num(DAEMON_ATTR_SYNC_ID), num(DAEMON_ATTR_SYNC_MAXLEN), group,
                  num(DAEMON_ATTR_MCAST_PORT), num(DAEMON_ATTR_MCAST_TTL))


def decode_config(buf, start, end):
    a = parse_attrs(buf, start, end)
    return Timeouts(*[get_uint(buf, *a[k]) if k in a else None
                      for k in (CMD_ATTR_TIMEOUT_TCP, CMD_ATTR_TIMEOUT_TCP_FIN, CMD_ATTR_TIMEOUT_UDP)])


def decode_info(buf, start, end):
    a = parse_attrs(buf, start, end)
    code = get_uint(buf, *a[INFO_ATTR_VERSION])
    version = '%d.%d.%d' % ((code >> 16) & 0xff, (code >> 8) & 0xff, code & 0xff)
    return Info(version, get_uint(buf, *a[INFO_ATTR_CONN_TAB_SIZE]))


def make_laddr_decoder(family):
    def decode_laddr(buf, start, end):
        top = parse_attrs(buf, start, end)
        off, length = top[CMD_ATTR_LADDR]
        a = parse_attrs(buf, off, off + length)
        o, n = a[LADDR_ATTR_ADDR]
        af = FAMILIES[family]
        return LocalAddress(_addr_from16(af, bytes(buf[o:o + n])), family,
                            get_uint(buf, *a[LADDR_ATTR_PORT_CONFLICT]) if LADDR_ATTR_PORT_CONFLICT in a else 0,
                            get_uint(buf, *a[LADDR_ATTR_CONN_COUNTS]) if LADDR_ATTR_CONN_COUNTS in a else 0)
    return decode_laddr


# ---------------------------------------------------------------- operations

class Op:
    """One write: its request, the model objects it was built from (`args`),
    and what is needed to explain its failure."""

    __slots__ = ('name', 'args', 'request', 'subject', 'service', 'scheduler', 'pe')

    def __init__(self, name, args, request, subject, service=None, scheduler=None, pe=None):
        self.name = name
        self.args = args
        self.request = request
        self.subject = subject
        self.service = service
        self.scheduler = scheduler
        self.pe = pe

    def __repr__(self):
        return 'Op(%s %s)' % (self.name, self.subject)

    def describe(self):
        """'add real server 10.0.0.2:80 in TCP 192.0.2.10:80': the change in words."""
        verb = _VERBS.get(self.name, self.name)
        where = ' in %s' % self.service if self.service and self.name.endswith(('server', 'laddr')) else ''
        return '%s %s%s' % (verb, self.subject, where)


_VERBS = {'add-service': 'add', 'edit-service': 'edit', 'del-service': 'delete', 'add-server': 'add',
          'edit-server': 'edit', 'del-server': 'delete', 'zero': 'zero', 'flush': 'flush', 'set-timeouts': 'set',
          'start-daemon': 'start', 'stop-daemon': 'stop', 'add-laddr': 'add', 'del-laddr': 'delete'}


def op_add_service(svc):
    return Op('add-service', (svc,), Request(CMD_NEW_SERVICE, encode_service(svc)),
              'virtual service ' + _service_ref(svc.key)[1], scheduler=svc.scheduler, pe=svc.pe)


def op_edit_service(svc, mask=F_USER_MASK):
    return Op('edit-service', (svc, mask), Request(CMD_SET_SERVICE, encode_service(svc, mask)), 'virtual service ' + svc.text(),
              service=svc.text(), scheduler=svc.scheduler, pe=svc.pe)


def op_delete_service(key):
    svc_nest, text = _service_ref(key)
    return Op('del-service', (key,), Request(CMD_DEL_SERVICE, svc_nest), 'virtual service ' + text, service=text)


def _dest_op(name, cmd, key, srv, full, svc_nest=None):
    nest, text = _service_ref(key)
    return Op(name, (key, srv), Request(cmd, (svc_nest or nest) + encode_server(srv, full)), srv.text(), text)


def op_add_server(key, srv, svc_nest=None):
    return _dest_op('add-server', CMD_NEW_DEST, key, srv, True, svc_nest)


def op_edit_server(key, srv, svc_nest=None):
    return _dest_op('edit-server', CMD_SET_DEST, key, srv, True, svc_nest)


def op_delete_server(key, srv, svc_nest=None):
    return _dest_op('del-server', CMD_DEL_DEST, key, srv, False, svc_nest)


def op_zero(key=None):
    body = nested(CMD_ATTR_SERVICE, *encode_service_key(key)) if key else b''
    return Op('zero', (key,), Request(CMD_ZERO, body), 'counters of ' + (service_text(key) if key else 'all services'),
              service=service_text(key) if key else None)


def op_flush():
    return Op('flush', (), Request(CMD_FLUSH), 'the IPVS table')


def op_set_timeouts(tcp=None, tcpfin=None, udp=None):
    # 0 leaves a value as it is: the kernel only sets the non-zero ones.
    body = (attr_u32(CMD_ATTR_TIMEOUT_TCP, tcp or 0) + attr_u32(CMD_ATTR_TIMEOUT_TCP_FIN, tcpfin or 0)
            + attr_u32(CMD_ATTR_TIMEOUT_UDP, udp or 0))
    return Op('set-timeouts', (tcp, tcpfin, udp), Request(CMD_SET_CONFIG, body), 'timeouts')


def op_start_daemon(daemon):
    subject = '%s sync daemon' % daemon.role
    if daemon.mcast_interface:
        subject += ' on %s' % daemon.mcast_interface
    return Op('start-daemon', (daemon,), Request(CMD_NEW_DAEMON, encode_daemon(daemon)), subject)


def op_stop_daemon(role):
    body = nested(CMD_ATTR_DAEMON, attr_u32(DAEMON_ATTR_STATE, DAEMON_ROLES[role]))
    return Op('stop-daemon', (role,), Request(CMD_DEL_DAEMON, body), '%s sync daemon' % role)


def _laddr_op(name, cmd, key, address):
    body = nested(CMD_ATTR_SERVICE, *encode_service_key(key)) + encode_laddr(key[0], address)
    return Op(name, (key, address), Request(cmd, body), 'local address %s' % address, service=service_text(key))


def op_add_laddr(key, address):
    return _laddr_op('add-laddr', CMD_NEW_LADDR, key, address)


def op_delete_laddr(key, address):
    return _laddr_op('del-laddr', CMD_DEL_LADDR, key, address)


NO_IPVS = ("this kernel has no IPVS: the IPVS generic netlink family is missing and 'modprobe ip_vs' "
           "did not provide it; load the ip_vs kernel module or use a kernel built with CONFIG_IP_VS")
NOT_LOADED = "the ip_vs kernel module is not loaded"
NO_LADDR = ("this kernel has no FULLNAT local-address support (the IPVS netlink family offers no "
            "local-address commands; they exist only in FULLNAT kernels such as Alibaba LVS)")
MODPROBE_TIMEOUT = 30


def _modprobe(name):
    """Load a kernel module, bounded in time; True when modprobe says it worked."""
    exe = shutil.which('modprobe') or next((p for p in ('/sbin/modprobe', '/usr/sbin/modprobe')
                                            if os.path.exists(p)), None)
    if exe is None:
        return False
    with open(os.devnull, 'wb') as null:
        try:
            return subprocess.call([exe, '-q', name], stdout=null, stderr=null, timeout=MODPROBE_TIMEOUT) == 0
        except subprocess.TimeoutExpired:
            return False


class IpvsClient:
    """One persistent netlink socket to the kernel's IPVS, in one namespace.

    `modprobe(name) -> bool` loads ip_vs when the family is missing; None
    loads nothing and raises NotLoaded instead (check mode). `applied` lists
    every write the kernel carried out through this client, in order.
    """

    def __init__(self, netns=None, timeout=10.0, modprobe=_modprobe):
        self.netns = netns
        self.applied = []
        self.uncertain = False  # a write batch broke off: some changes may have been made
        self.sock = None
        with entered(netns):
            self.sock = GenlSocket(FAMILY, CMD_GET_INFO, timeout=timeout)
        try:
            # Since Linux 5.16 looking a family up by name loads its module: where
            # loading is not allowed (check mode), ask the list of families first.
            if modprobe is None and not self._family_listed():
                raise NotLoaded(NOT_LOADED)
            found = self.sock.resolve()
            if not found and modprobe is None:
                raise NotLoaded(NOT_LOADED)
            if not found and modprobe('ip_vs'):
                found = self.sock.resolve()
        except Exception:
            self.close()
            raise
        if not found:
            self.close()
            raise IpvsError(NO_IPVS)

    def _family_listed(self):
        """Whether the IPVS family is registered, from a dump of all families (which loads nothing)."""
        def name_of(buf, start, end):
            a = parse_attrs(buf, start, end)
            return get_str(buf, *a[CTRL_ATTR_FAMILY_NAME]) if CTRL_ATTR_FAMILY_NAME in a else None
        reply = self.sock.run([Request(CTRL_CMD_GETFAMILY, dump=True, decode=name_of)], msg_type=GENL_ID_CTRL,
                              barrier=False)[0]
        if reply.error:
            raise IpvsError("cannot list the generic netlink families: %s" % os.strerror(reply.error), errno=reply.error)
        return FAMILY in reply.messages

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def supports_laddr(self):
        return CMD_NEW_LADDR in self.sock.ops

    # -- reads

    def _one(self, request, op='get', subject='IPVS', service=None):
        reply = self.sock.run([request])[0]
        if reply.error:
            raise explain(reply.error, op, subject, service=service, netlink_msg=reply.ext_msg)
        return reply.messages

    def info(self):
        return self._one(Request(CMD_GET_INFO, decode=decode_info), subject='version info')[0]

    def timeouts(self):
        return self._one(Request(CMD_GET_CONFIG, decode=decode_config), subject='timeouts')[0]

    def daemons(self):
        return self._one(Request(CMD_GET_DAEMON, dump=True, decode=decode_daemon), subject='sync daemons')

    def services(self, with_stats=True):
        results, errors = self.sock.dumps(CMD_GET_SERVICE, (b'',), (_SERVICE_DECODERS[bool(with_stats)],))
        if errors:
            err, ext_msg = errors[0]
            raise explain(err, 'get', 'virtual services', netlink_msg=ext_msg)
        return results[0]

    def service(self, key, with_stats=True):
        """The service named by key, or None."""
        reply = self.sock.run([Request(CMD_GET_SERVICE, service_key_nest(key),
                                       decode=_SERVICE_DECODERS[bool(with_stats)])])[0]
        if reply.error in (errno.ESRCH, errno.ENOENT):
            return None
        if reply.error:
            raise explain(reply.error, 'get', 'virtual service ' + service_text(key), netlink_msg=reply.ext_msg)
        return reply.messages[0] if reply.messages else None

    def servers_of(self, keys, with_stats=True):
        """Real servers of many services, {key: [Server]}: one dump each, back to
        back on one socket. A service deleted meanwhile (by keepalived, another
        run) is left out: the kernel answers its dump as empty, so the services
        that came back empty are asked for once more, all in one datagram."""
        keys = list(keys)
        out = {}
        for k, servers in zip(keys, self._servers_lists(keys, with_stats)):
            if servers is not None:
                out[k] = servers
        return out

    def _servers_lists(self, keys, with_stats):
        """servers_of() as a list in the order of keys: None for a service
        that does not exist (any more)."""
        with_stats = bool(with_stats)
        by_family = dict((family, _DEST_DECODERS[af, with_stats]) for family, af in FAMILIES.items())
        results, errors = self.sock.dumps(CMD_GET_DEST, [service_key_nest(k) for k in keys],
                                          [by_family[k[0]] for k in keys])
        if errors:
            for i, k in enumerate(keys):
                err, ext_msg = errors.get(i, (0, None))
                if err in (errno.ESRCH, errno.ENOENT):
                    results[i] = None
                elif err:
                    raise explain(err, 'get', 'real servers', service=service_text(k), netlink_msg=ext_msg)
        empty = {}
        for i, servers in enumerate(results):
            if servers is not None and not servers:
                empty.setdefault(keys[i], []).append(i)
        if empty:
            probes = [Request(CMD_GET_SERVICE, service_key_nest(k), decode=lambda b, s, e: True) for k in empty]
            for (k, where), reply in zip(empty.items(), self.sock.run(probes)):
                if reply.error in (errno.ESRCH, errno.ENOENT):
                    for i in where:
                        results[i] = None
                elif reply.error:
                    raise explain(reply.error, 'get', 'virtual service ' + service_text(k), netlink_msg=reply.ext_msg)
        return results

    def servers(self, key, with_stats=True):
        """Real servers of one service; None when the service does not exist."""
        return self.servers_of([key], with_stats).get(key)

    def table(self, with_stats=True):
        """[(Service, [Server])] for the whole namespace, in kernel order;
        services deleted while it is read are left out."""
        services = self.services(with_stats)
        keys = [s.key for s in services]
        dests = self.servers_of(keys, with_stats)
        return [(s, dests[k]) for s, k in zip(services, keys) if k in dests]

    def laddrs(self, key):
        if not self.supports_laddr:
            raise IpvsError(NO_LADDR)
        return self._one(Request(CMD_GET_LADDR, nested(CMD_ATTR_SERVICE, *encode_service_key(key)), dump=True,
                                 decode=make_laddr_decoder(key[0])),
                         subject='local addresses', service=service_text(key))

    def connections(self, path=None):
        """Rows of /proc/net/ip_vs_conn as seen from this client's namespace."""
        with entered(self.netns):
            try:
                return _ip_vs_conn.read(path)
            except _ip_vs_conn.ConnFormatError as e:
                raise IpvsError("%s has a format this collection does not know: %s" % (path or _ip_vs_conn.PROC_PATH, e))
            except (IOError, OSError) as e:
                raise IpvsError("cannot read %s: %s" % (path, e.strerror or e))

    def interface_mtu(self, name):
        """MTU of network interface `name` in this client's namespace; None if there is no such interface."""
        with entered(self.netns):
            probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            req = struct.pack('16si12x', name.encode('ascii', 'replace')[:15], 0)
            return struct.unpack_from('16si', fcntl.ioctl(probe.fileno(), SIOCGIFMTU, req))[1]
        except (IOError, OSError):
            return None
        finally:
            probe.close()

    # -- writes

    def apply(self, ops):
        """Run ops pipelined; return one IpvsError or None per op, in order."""
        if any(op.name in ('add-laddr', 'del-laddr') for op in ops) and not self.supports_laddr:
            raise IpvsError(NO_LADDR)
        try:
            replies = self.sock.run([op.request for op in ops])
        except IpvsError as e:
            # The exchange broke off: which of the changes the kernel carried out is unknown.
            self.uncertain = True
            e.message = ("%s; the kernel may have carried out some of the %d changes sent: read the table "
                         "(lvs.ipvs.ipvs_info) before trying again" % (e, len(ops)))
            raise
        errors = []
        for op, r in zip(ops, replies):
            if r.error:
                errors.append(explain(r.error, op.name, op.subject, service=op.service, scheduler=op.scheduler,
                                      pe=op.pe, netlink_msg=r.ext_msg))
            else:
                errors.append(None)
                self.applied.append(op)
        return errors

    def apply_or_raise(self, ops):
        """Run ops; raise ApplyError naming every failure and what was applied
        (ops after a failure still ran)."""
        errors = self.apply(ops)
        failed = [(op, e) for op, e in zip(ops, errors) if e is not None]
        if failed:
            raise ApplyError(failed, [op for op, e in zip(ops, errors) if e is None])

    def add_service(self, svc):
        self.apply_or_raise([op_add_service(svc)])

    def edit_service(self, svc, mask=F_USER_MASK):
        self.apply_or_raise([op_edit_service(svc, mask)])

    def delete_service(self, key):
        self.apply_or_raise([op_delete_service(key)])

    def add_server(self, key, srv):
        self.apply_or_raise([op_add_server(key, srv)])

    def edit_server(self, key, srv):
        self.apply_or_raise([op_edit_server(key, srv)])

    def delete_server(self, key, srv):
        self.apply_or_raise([op_delete_server(key, srv)])

    def set_timeouts(self, tcp=None, tcpfin=None, udp=None):
        self.apply_or_raise([op_set_timeouts(tcp, tcpfin, udp)])

    def start_daemon(self, daemon):
        self.apply_or_raise([op_start_daemon(daemon)])

    def stop_daemon(self, role):
        self.apply_or_raise([op_stop_daemon(role)])

    def zero(self, key=None):
        self.apply_or_raise([op_zero(key)])

    def flush(self):
        self.apply_or_raise([op_flush()])

    def add_laddr(self, key, address):
        self.apply_or_raise([op_add_laddr(key, address)])

    def delete_laddr(self, key, address):
        self.apply_or_raise([op_delete_laddr(key, address)])

    def add_table(self, table):
        """Create [(Service, [Server])] in one pipelined run; returns the errors."""
        ops = []
        for svc, servers in table:
            ops.append(op_add_service(svc))
            svc_nest = nested(CMD_ATTR_SERVICE, *encode_service_key(svc.key))
            for srv in servers:
                ops.append(op_add_server(svc.key, srv, svc_nest))
        return [e for e in self.apply(ops) if e is not None]


class UnloadedIpvs:
    """IPVS as it is right after 'modprobe ip_vs': empty, kernel-default
    timeouts, no daemons. Check mode reads this where loading the module would
    be a change to the host; it takes no writes."""

    netns = None
    supports_laddr = False
    sock = None
    uncertain = False

    def __init__(self, netns=None):
        self.netns = netns
        self.applied = []

    def close(self):
        pass

    def info(self):
        return Info(None, 4096)

    def timeouts(self):
        return Timeouts(900, 120, 300)

    def daemons(self):
        return []

    def services(self, with_stats=True):
        return []

    def service(self, key, with_stats=True):
        return None

    def servers_of(self, keys, with_stats=True):
        return {}

    def servers(self, key, with_stats=True):
        return None

    def table(self, with_stats=True):
        return []

    def laddrs(self, key):
        raise IpvsError(NO_LADDR)

    def connections(self, path=None):
        return []

    def interface_mtu(self, name):
        return IpvsClient.interface_mtu(self, name)

    def apply(self, ops):
        raise IpvsError("internal error: a write was attempted in check mode")

    apply_or_raise = apply
