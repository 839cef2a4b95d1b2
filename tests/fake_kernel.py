# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""An in-memory IPVS kernel behind a fake generic netlink socket.

The real IpvsClient runs against it unchanged, codec and GenlSocket included:
`FakeKernel.install(monkeypatch)` (or the `installed()` context manager) puts a
stand-in for the socket module into _netlink, whose `socket()` returns a
FakeSocket for AF_NETLINK/NETLINK_GENERIC and a real socket for anything else.

What it answers follows Linux 6.1's net/netfilter/ipvs/ip_vs_ctl.c (the test
VM's kernel) and the netlink core around it (genetlink.c, af_netlink.c):

- generic netlink: family lookup by name (ENOENT when IPVS is not loaded and
  cannot be), EOPNOTSUPP for commands the family lacks or a do/dump it does not
  offer, EPERM for every IPVS command without CAP_NET_ADMIN (CTRL still works);
- requests in a datagram are handled in order; a write without NLM_F_ACK is
  silent on success, every error (and every NLM_F_ACK) gets its own NLMSG_ERROR
  datagram, capped to the request header with NETLINK_CAP_ACK;
- one dump per socket: a dump request while another has not finished gets
  EBUSY; a dump answers at most one chunk (up to ~32 KiB, the size the reader's
  largest recv buffer earned) at once, the next one only when the reader has
  taken a datagram, NLMSG_DONE on its own at the end; each chunk is computed from
  the state of that moment, from the index the previous chunk stopped at, as
  the kernel's dump callbacks do;
- receive-queue accounting by skb truesize: a reply that does not fit is
  dropped, the socket reports ENOBUFS on its next recv and drops everything
  until its queue has been read empty;
- IPVS: services hashed into 256 buckets by (protocol, address, port) — or by
  fwmark, listed after all of those — in bucket order, newest first within a
  bucket (the real hash also mixes in the address of the namespace's IPVS state:
  `hash_salt` stands for its bits 8-15); real servers newest first, an edit
  leaves them in place; flags (old & ~mask) | (flags & mask) with HASHED set;
  a GET_DEST dump of a service that does not exist (any more) is an empty dump,
  not an error (ip_vs_genl_dump_dests() just returns); deleted real servers kept
  in a trash from which a re-add takes back its counters; sync daemons with the
  kernel's defaults, clamps and order of checks (a missing interface is ENODEV
  even when that daemon already runs); timeouts in jiffies (HZ=250) as the
  kernel keeps them; and the errnos in the kernel's order of checks, with the
  ext-ack a policy violation gets (text, offset, policy).

tests/integration/test_fake_matches_kernel.py runs one long script of client
operations on this fake and on the test VM's kernel and requires the same
results, errnos and received bytes (seq and port ids aside).

Plain-Python reads and writes (`table()`, `timeouts`, `daemons`, `add_service()`,
`add_traffic()`, ...) set the scene and check the outcome of a test. Hooks and
counters (`before_request`, `before_dump_chunk`, `once()`, `reorder`,
`requests`, `log`, `sent_datagrams`, `writes`) let tests provoke races and
faults and say exactly what was sent.
"""

import collections
import contextlib
import errno
import os
import socket
import struct
import types

from ansible_collections.lvs.ipvs.plugins.module_utils import _model
from ansible_collections.lvs.ipvs.plugins.module_utils._model import (
    Daemon, LocalAddress, Rates, Server, Service, Stats, Timeouts,
)

AF_INET = socket.AF_INET
AF_INET6 = socket.AF_INET6
AF_NETLINK = getattr(socket, 'AF_NETLINK', 16)
NETLINK_GENERIC = 16
SOL_NETLINK = 270
NETLINK_NO_ENOBUFS = 5
NETLINK_CAP_ACK = 10
NETLINK_EXT_ACK = 11
SO_SNDBUFFORCE = 32
SO_RCVBUFFORCE = 33

NLM_F_REQUEST = 0x1
NLM_F_MULTI = 0x2
NLM_F_ACK = 0x4
NLM_F_ECHO = 0x8
NLM_F_DUMP = 0x300
NLM_F_CAPPED = 0x100
NLM_F_ACK_TLVS = 0x200
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLMSG_MIN_TYPE = 0x10
NLMSGERR_ATTR_MSG = 1
NLMSGERR_ATTR_OFFS = 2
NLMSGERR_ATTR_POLICY = 4
NL_POLICY_TYPE_ATTR_TYPE = 1
NL_POLICY_TYPE_ATTR_MAX_LENGTH = 7

GENL_ID_CTRL = 0x10
CTRL_CMD_NEWFAMILY = 1
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
CTRL_ATTR_VERSION = 3
CTRL_ATTR_HDRSIZE = 4
CTRL_ATTR_MAXATTR = 5
CTRL_ATTR_OPS = 6
CTRL_ATTR_OP_ID = 1
CTRL_ATTR_OP_FLAGS = 2
GENL_ADMIN_PERM = 0x01
GENL_CMD_CAP_DO = 0x02
GENL_CMD_CAP_DUMP = 0x04
GENL_CMD_CAP_HASPOL = 0x08

# include/uapi/linux/ip_vs.h
(CMD_NEW_SERVICE, CMD_SET_SERVICE, CMD_DEL_SERVICE, CMD_GET_SERVICE, CMD_NEW_DEST, CMD_SET_DEST, CMD_DEL_DEST,
 CMD_GET_DEST, CMD_NEW_DAEMON, CMD_DEL_DAEMON, CMD_GET_DAEMON, CMD_SET_CONFIG, CMD_GET_CONFIG, CMD_SET_INFO,
 CMD_GET_INFO, CMD_ZERO, CMD_FLUSH, CMD_NEW_LADDR, CMD_DEL_LADDR, CMD_GET_LADDR) = range(1, 21)
CMD_NAMES = {
    1: 'NEW_SERVICE', 2: 'SET_SERVICE', 3: 'DEL_SERVICE', 4: 'GET_SERVICE', 5: 'NEW_DEST', 6: 'SET_DEST',
    7: 'DEL_DEST', 8: 'GET_DEST', 9: 'NEW_DAEMON', 10: 'DEL_DAEMON', 11: 'GET_DAEMON', 12: 'SET_CONFIG',
    13: 'GET_CONFIG', 14: 'SET_INFO', 15: 'GET_INFO', 16: 'ZERO', 17: 'FLUSH', 18: 'NEW_LADDR', 19: 'DEL_LADDR',
    20: 'GET_LADDR',
}
WRITE_CMDS = frozenset((CMD_NEW_SERVICE, CMD_SET_SERVICE, CMD_DEL_SERVICE, CMD_NEW_DEST, CMD_SET_DEST, CMD_DEL_DEST,
                        CMD_NEW_DAEMON, CMD_DEL_DAEMON, CMD_SET_CONFIG, CMD_ZERO, CMD_FLUSH, CMD_NEW_LADDR,
                        CMD_DEL_LADDR))

CMD_ATTR_SERVICE, CMD_ATTR_DEST, CMD_ATTR_DAEMON, CMD_ATTR_TIMEOUT_TCP, CMD_ATTR_TIMEOUT_TCP_FIN, \
    CMD_ATTR_TIMEOUT_UDP, CMD_ATTR_LADDR = range(1, 8)
SVC_ATTR_AF, SVC_ATTR_PROTOCOL, SVC_ATTR_ADDR, SVC_ATTR_PORT, SVC_ATTR_FWMARK, SVC_ATTR_SCHED_NAME, SVC_ATTR_FLAGS, \
    SVC_ATTR_TIMEOUT, SVC_ATTR_NETMASK, SVC_ATTR_STATS, SVC_ATTR_PE_NAME, SVC_ATTR_STATS64 = range(1, 13)
DEST_ATTR_ADDR, DEST_ATTR_PORT, DEST_ATTR_FWD_METHOD, DEST_ATTR_WEIGHT, DEST_ATTR_U_THRESH, DEST_ATTR_L_THRESH, \
    DEST_ATTR_ACTIVE_CONNS, DEST_ATTR_INACT_CONNS, DEST_ATTR_PERSIST_CONNS, DEST_ATTR_STATS, DEST_ATTR_ADDR_FAMILY, \
    DEST_ATTR_STATS64, DEST_ATTR_TUN_TYPE, DEST_ATTR_TUN_PORT, DEST_ATTR_TUN_FLAGS = range(1, 16)
DAEMON_ATTR_STATE, DAEMON_ATTR_MCAST_IFN, DAEMON_ATTR_SYNC_ID, DAEMON_ATTR_SYNC_MAXLEN, DAEMON_ATTR_MCAST_GROUP, \
    DAEMON_ATTR_MCAST_GROUP6, DAEMON_ATTR_MCAST_PORT, DAEMON_ATTR_MCAST_TTL = range(1, 9)
INFO_ATTR_VERSION = 1
INFO_ATTR_CONN_TAB_SIZE = 2
LADDR_ATTR_ADDR, LADDR_ATTR_PORT_CONFLICT, LADDR_ATTR_CONN_COUNTS = 1, 2, 3

F_HASHED = 0x2
CONN_F_FWD_MASK = 0x7
CONN_F_TUNNEL = 2
TUN_TYPE_GUE = 1
STATE_MASTER = 1
STATE_BACKUP = 2
SYNC_GROUP = b'\xe0\x00\x00\x51'    # 224.0.0.81
SYNC_PORT = 8848
INT_MAX = 0x7fffffff

MAINLINE_SCHEDULERS = ('rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'fo', 'ovf', 'mh')
DEFAULT_PES = ('sip',)

# Netlink buffer arithmetic of a 64-bit kernel with 4 KiB pages.
SKB_SHINFO = 320                         # SKB_DATA_ALIGN(sizeof(struct skb_shared_info))
SKB_STRUCT = 256                         # SKB_DATA_ALIGN(sizeof(struct sk_buff))
NLMSG_GOODSIZE = 4096 - SKB_SHINFO       # SKB_WITH_OVERHEAD(PAGE_SIZE)
MAX_RECVMSG_LEN = 32768 - SKB_SHINFO     # netlink_recvmsg() caps what it remembers here
SOCK_MIN_RCVBUF = 2048 + SKB_STRUCT
SOCK_MIN_SNDBUF = 2 * SOCK_MIN_RCVBUF

_NLMSGHDR = struct.Struct('=IHHII')
_MSGHDR = struct.Struct('=IHHIIBBH')
_NLAHDR = struct.Struct('=HH')
_U16 = struct.Struct('=H')
_U32 = struct.Struct('=I')
_U64 = struct.Struct('=Q')
_BE16 = struct.Struct('>H')
_I32 = struct.Struct('=i')
_ERRHDR = struct.Struct('=IHHIIi')


def skb_truesize(size):
    """truesize of alloc_skb(size): kmalloc rounds data + shared info up to a power of two."""
    n = ((size + 63) & ~63) + SKB_SHINFO
    return (512 if n <= 512 else 1 << (n - 1).bit_length()) + SKB_STRUCT


# ---------------------------------------------------------------- attribute helpers

def _attr(atype, payload):
    n = 4 + len(payload)
    return _NLAHDR.pack(n, atype) + payload + b'\0' * (-n & 3)


def _u8(atype, v):
    return struct.pack('=HHB3x', 5, atype, v)


def _u16(atype, v):
    return struct.pack('=HHH2x', 6, atype, v)


def _be16(atype, v):
    return struct.pack('=HH', 6, atype) + _BE16.pack(v) + b'\0\0'


def _u32(atype, v):
    return struct.pack('=HHI', 8, atype, v & 0xffffffff)


def _u64(atype, v):
    return struct.pack('=HHQ', 12, atype, v & 0xffffffffffffffff)


def _str(atype, text):
    return _attr(atype, text.encode() + b'\0')


def _nest(atype, parts):
    # nla_nest_start_noflag(): IPVS and the controller send nests without NLA_F_NESTED
    body = b''.join(parts)
    return _NLAHDR.pack(4 + len(body), atype) + body


class _PolicyError(Exception):
    def __init__(self, offset, kind=None, err=errno.ERANGE):
        Exception.__init__(self, offset)
        self.offset = offset
        self.kind = kind
        self.err = err

    def ext(self):
        """The ext-ack a policy violation gets: text, offset of the attribute, and
        (for strings and binaries) the policy itself, as netlink_policy_dump_write_attr() puts it."""
        policy = None
        if isinstance(self.kind, tuple) and self.kind[0] in ('nul', 'binary'):
            nl_type = 12 if self.kind[0] == 'nul' else 10      # NL_ATTR_TYPE_NUL_STRING / _BINARY
            body = _u32(NL_POLICY_TYPE_ATTR_MAX_LENGTH, self.kind[1]) + _u32(NL_POLICY_TYPE_ATTR_TYPE, nl_type)
            policy = _NLAHDR.pack(4 + len(body), NLMSGERR_ATTR_POLICY | 0x8000) + body
        return ('Attribute failed policy validation', self.offset, policy)


# Policy kinds: integer size for NLA_U8..U64, 'nested', ('binary', maxlen), ('nul', maxlen), ('unspec', minlen).
CMD_POLICY = {CMD_ATTR_SERVICE: 'nested', CMD_ATTR_DEST: 'nested', CMD_ATTR_DAEMON: 'nested',
              CMD_ATTR_TIMEOUT_TCP: 4, CMD_ATTR_TIMEOUT_TCP_FIN: 4, CMD_ATTR_TIMEOUT_UDP: 4}
SVC_POLICY = {SVC_ATTR_AF: 2, SVC_ATTR_PROTOCOL: 2, SVC_ATTR_ADDR: ('binary', 16), SVC_ATTR_PORT: 2,
              SVC_ATTR_FWMARK: 4, SVC_ATTR_SCHED_NAME: ('nul', 15), SVC_ATTR_PE_NAME: ('nul', 16),
              SVC_ATTR_FLAGS: ('binary', 8), SVC_ATTR_TIMEOUT: 4, SVC_ATTR_NETMASK: 4, SVC_ATTR_STATS: 'nested'}
DEST_POLICY = {DEST_ATTR_ADDR: ('binary', 16), DEST_ATTR_PORT: 2, DEST_ATTR_FWD_METHOD: 4, DEST_ATTR_WEIGHT: 4,
               DEST_ATTR_U_THRESH: 4, DEST_ATTR_L_THRESH: 4, DEST_ATTR_ACTIVE_CONNS: 4, DEST_ATTR_INACT_CONNS: 4,
               DEST_ATTR_PERSIST_CONNS: 4, DEST_ATTR_STATS: 'nested', DEST_ATTR_ADDR_FAMILY: 2, DEST_ATTR_TUN_TYPE: 1,
               DEST_ATTR_TUN_PORT: 2, DEST_ATTR_TUN_FLAGS: 2}
# Fixed layouts of dest attributes, for _parse_dest()'s fast path: (type, nla_len) -> (struct code, field).
# Ports are be16: read in host order, their bytes are swapped after.
_DEST_LAYOUT = {
    (DEST_ATTR_ADDR, 20): ('16s', 'addr'), (DEST_ATTR_PORT, 6): ('H', 'port'),
    (DEST_ATTR_ADDR_FAMILY, 6): ('H', 'af'), (DEST_ATTR_FWD_METHOD, 8): ('I', 'fwd'),
    (DEST_ATTR_WEIGHT, 8): ('I', 'weight'), (DEST_ATTR_U_THRESH, 8): ('I', 'u_thresh'),
    (DEST_ATTR_L_THRESH, 8): ('I', 'l_thresh'), (DEST_ATTR_TUN_TYPE, 5): ('B', 'tun_type'),
    (DEST_ATTR_TUN_PORT, 6): ('H', 'tun_port'), (DEST_ATTR_TUN_FLAGS, 6): ('H', 'tun_flags'),
}
_DEST_DEFAULTS = dict(port=0, af=0, fwd=0, weight=0, u_thresh=0, l_thresh=0, tun_type=0, tun_port=0, tun_flags=0)
DAEMON_POLICY = {DAEMON_ATTR_STATE: 4, DAEMON_ATTR_MCAST_IFN: ('nul', 15), DAEMON_ATTR_SYNC_ID: 4,
                 DAEMON_ATTR_SYNC_MAXLEN: 2, DAEMON_ATTR_MCAST_GROUP: 4, DAEMON_ATTR_MCAST_GROUP6: ('unspec', 16),
                 DAEMON_ATTR_MCAST_PORT: 2, DAEMON_ATTR_MCAST_TTL: 1}
LADDR_CMD_POLICY = {**CMD_POLICY, CMD_ATTR_LADDR: 'nested'}
LADDR_POLICY = {LADDR_ATTR_ADDR: ('binary', 16), LADDR_ATTR_PORT_CONFLICT: 8, LADDR_ATTR_CONN_COUNTS: 4}
CTRL_POLICY = {CTRL_ATTR_FAMILY_ID: 2, CTRL_ATTR_FAMILY_NAME: ('nul', 15)}


def _parse(buf, start, end, policy):
    """nla_parse_deprecated(): {type: (offset, length)}; attributes outside the
    policy are ignored, a policy violation raises _PolicyError."""
    out = {}
    pos = start
    while pos + 4 <= end:
        alen, atype = _NLAHDR.unpack_from(buf, pos)
        if alen < 4 or pos + alen > end:
            break
        atype &= 0x3fff
        n = alen - 4
        kind = policy.get(atype)
        if kind is not None:
            off = pos + 4
            if kind.__class__ is int:
                if n < kind:
                    raise _PolicyError(pos, kind)
            elif kind == 'nested':
                if 0 < n < 4:
                    raise _PolicyError(pos, kind)
            else:
                what, limit = kind
                if what == 'binary':
                    if n > limit:
                        raise _PolicyError(pos, kind)
                elif what == 'unspec':
                    if n < limit:
                        raise _PolicyError(pos, kind)
                else:  # NLA_NUL_STRING
                    data = buf[off:off + n]
                    if not n or b'\0' not in data[:min(n, limit + 1)]:
                        raise _PolicyError(pos, kind, errno.EINVAL)
                    if (n - 1 if data[-1:] == b'\0' else n) > limit:
                        raise _PolicyError(pos, kind)
            out[atype] = (off, n)
        pos += (alen + 3) & ~3
    return out


def _get_u(buf, a, atype, size=4):
    off, _n = a[atype]
    if size == 4:
        return _U32.unpack_from(buf, off)[0]
    if size == 2:
        return _U16.unpack_from(buf, off)[0]
    if size == 1:
        return buf[off]
    return _U64.unpack_from(buf, off)[0]


def _memcpy(buf, a, atype, size):
    """nla_memcpy(): at most size bytes, zero-filled."""
    off, n = a[atype]
    data = bytes(buf[off:off + min(n, size)])
    return data + b'\0' * (size - len(data))


def _cstr(buf, a, atype):
    off, n = a[atype]
    return bytes(buf[off:off + n]).split(b'\0', 1)[0].decode('ascii', 'replace')


def _norm_addr(af, addr16):
    """ip_vs_addr_copy(): an IPv4 address keeps only its first four bytes."""
    return addr16[:4] + b'\0' * 12 if af == AF_INET else addr16


def _addr16(af, text):
    raw = socket.inet_pton(af, text)
    return raw + b'\0' * (16 - len(raw))


def _addr_text(af, raw):
    return socket.inet_ntop(af, raw[:16] if af == AF_INET6 else raw[:4])


# ---------------------------------------------------------------- kernel objects

_STATS_NAMES = ('conns', 'inpkts', 'outpkts', 'inbytes', 'outbytes', 'cps', 'inpps', 'outpps', 'inbps', 'outbps')


def _stats_nests(stats, attr32, attr64):
    s = stats
    m32 = 0xffffffff
    n32 = struct.pack('=HHIHHIHHIHHQHHQHHIHHIHHIHHIHHI',
                      8, 1, s[0] & m32, 8, 2, s[1] & m32, 8, 3, s[2] & m32, 12, 4, s[3], 12, 5, s[4],
                      8, 6, s[5] & m32, 8, 7, s[6] & m32, 8, 8, s[7] & m32, 8, 9, s[8] & m32, 8, 10, s[9] & m32)
    n64 = struct.pack('=' + 'HHQ' * 10, *[x for i, v in enumerate(s) for x in (12, i + 1, v)])
    return _NLAHDR.pack(4 + len(n32), attr32) + n32 + _NLAHDR.pack(4 + len(n64), attr64) + n64


class _Service:
    __slots__ = ('af', 'protocol', 'addr', 'port', 'fwmark', 'sched', 'pe', 'flags', 'timeout', 'netmask', 'stats',
                 'dests', 'dest_index', 'trash', 'laddrs', 'payload', 'bucket')

    def __init__(self, af, protocol, addr, port, fwmark):
        self.af = af
        self.protocol = protocol
        self.addr = addr
        self.port = port
        self.fwmark = fwmark
        self.stats = [0] * 10
        self.dests = []             # newest first, as list_add() leaves them
        self.dest_index = {}
        self.trash = {}
        self.laddrs = []
        self.payload = None

    @property
    def ident(self):
        return ('fwm', self.af, self.fwmark) if self.fwmark else (self.af, self.protocol, self.addr, self.port)

    def encode(self, hz):
        p = self.payload
        if p is None:
            parts = [_u16(SVC_ATTR_AF, self.af)]
            if self.fwmark:
                parts.append(_u32(SVC_ATTR_FWMARK, self.fwmark))
            else:
                parts += [_u16(SVC_ATTR_PROTOCOL, self.protocol), _attr(SVC_ATTR_ADDR, self.addr),
                          _be16(SVC_ATTR_PORT, self.port)]
            parts.append(_str(SVC_ATTR_SCHED_NAME, self.sched or 'none'))
            if self.pe:
                parts.append(_str(SVC_ATTR_PE_NAME, self.pe))
            parts += [_attr(SVC_ATTR_FLAGS, struct.pack('=II', self.flags, 0xffffffff)),
                      _u32(SVC_ATTR_TIMEOUT, self.timeout // hz), _attr(SVC_ATTR_NETMASK, self.netmask),
                      _stats_nests(self.stats, SVC_ATTR_STATS, SVC_ATTR_STATS64)]
            p = self.payload = _nest(CMD_ATTR_SERVICE, parts)
        return p


class _Dest:
    __slots__ = ('af', 'addr', 'port', 'fwd', 'weight', 'u_thresh', 'l_thresh', 'tun_type', 'tun_port', 'tun_flags',
                 'activeconns', 'inactconns', 'persistconns', 'stats', 'payload', 'svc')

    def __init__(self, af, addr, port):
        self.af = af
        self.addr = addr
        self.port = port
        self.fwd = 0
        self.weight = 0
        self.u_thresh = self.l_thresh = 0
        self.tun_type = self.tun_port = self.tun_flags = 0
        self.activeconns = self.inactconns = self.persistconns = 0
        self.stats = [0] * 10
        self.payload = None
        self.svc = None

    def encode(self):
        p = self.payload
        if p is None:
            body = (_attr(DEST_ATTR_ADDR, self.addr) + _be16(DEST_ATTR_PORT, self.port)
                    + struct.pack('=HHIHHI', 8, DEST_ATTR_FWD_METHOD, self.fwd, 8, DEST_ATTR_WEIGHT,
                                  self.weight & 0xffffffff)
                    + _u8(DEST_ATTR_TUN_TYPE, self.tun_type) + _be16(DEST_ATTR_TUN_PORT, self.tun_port)
                    + _u16(DEST_ATTR_TUN_FLAGS, self.tun_flags)
                    + struct.pack('=HHIHHIHHIHHIHHI', 8, DEST_ATTR_U_THRESH, self.u_thresh, 8, DEST_ATTR_L_THRESH,
                                  self.l_thresh, 8, DEST_ATTR_ACTIVE_CONNS, self.activeconns, 8,
                                  DEST_ATTR_INACT_CONNS, self.inactconns, 8, DEST_ATTR_PERSIST_CONNS,
                                  self.persistconns)
                    + _u16(DEST_ATTR_ADDR_FAMILY, self.af)
                    + _stats_nests(self.stats, DEST_ATTR_STATS, DEST_ATTR_STATS64))
            p = self.payload = _NLAHDR.pack(4 + len(body), CMD_ATTR_DEST) + body
        return p


class _DaemonCfg:
    __slots__ = ('ifn', 'syncid', 'maxlen', 'mcast_af', 'group', 'port', 'ttl')


# ---------------------------------------------------------------- requests, dumps

class Request:
    """One netlink message the fake received: `name` is the command's name
    ('GET_SERVICE', 'NEW_DEST', 'CTRL_GETFAMILY', ...), `error` the errno it
    was answered with (0: success, or a dump started), None until handled."""

    __slots__ = ('sock', 'type', 'cmd', 'name', 'flags', 'seq', 'dump', 'body', 'error')

    def __init__(self, sock, mtype, cmd, name, flags, seq, body):
        self.sock = sock
        self.type = mtype
        self.cmd = cmd
        self.name = name
        self.flags = flags
        self.seq = seq
        self.dump = (flags & NLM_F_DUMP) == NLM_F_DUMP
        self.body = body
        self.error = None

    @property
    def write(self):
        return self.type != GENL_ID_CTRL and self.cmd in WRITE_CMDS

    def __repr__(self):
        return 'Request(%s%s seq=%d error=%s)' % (self.name, ' dump' if self.dump else '', self.seq, self.error)


class _Dump:
    __slots__ = ('request', 'kind', 'args', 'portid')

    def __init__(self, request, kind, portid):
        self.request = request
        self.kind = kind
        self.args = [0, 0]
        self.portid = portid


_DUMP_STARTED = object()


# ---------------------------------------------------------------- the socket

class FakeSocket:
    """What GenlSocket uses of a netlink socket, backed by a FakeKernel."""

    def __init__(self, kernel):
        self.kernel = kernel
        self.portid = 0
        self.closed = False
        self.rcvbuf = kernel.rmem_default
        self.sndbuf = kernel.wmem_default
        self.cap_ack = False
        self.ext_ack = False
        self.no_enobufs = False
        self.timeout = None
        self.queue = collections.deque()
        self.rmem = 0
        self.err = 0
        self.congested = False
        self.dump = None
        self.max_recvmsg_len = 0

    def _check(self):
        if self.closed:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))

    # -- options
    def setsockopt(self, level, opt, value, *_rest):
        self._check()
        if isinstance(value, (bytes, bytearray)):
            value = _I32.unpack(bytes(value[:4]).ljust(4, b'\0'))[0]
        if level == socket.SOL_SOCKET:
            if opt in (SO_RCVBUFFORCE, SO_SNDBUFFORCE) and not self.kernel.privileged:
                raise PermissionError(errno.EPERM, os.strerror(errno.EPERM))
            if opt == socket.SO_RCVBUF:
                self.rcvbuf = max(min(value, self.kernel.rmem_max, INT_MAX // 2) * 2, SOCK_MIN_RCVBUF)
            elif opt == SO_RCVBUFFORCE:
                self.rcvbuf = max(min(max(value, 0), INT_MAX // 2) * 2, SOCK_MIN_RCVBUF)
            elif opt == socket.SO_SNDBUF:
                self.sndbuf = max(min(value, self.kernel.wmem_max, INT_MAX // 2) * 2, SOCK_MIN_SNDBUF)
            elif opt == SO_SNDBUFFORCE:
                self.sndbuf = max(min(max(value, 0), INT_MAX // 2) * 2, SOCK_MIN_SNDBUF)
        elif level == SOL_NETLINK:
            if opt == NETLINK_CAP_ACK:
                self.cap_ack = bool(value)
            elif opt == NETLINK_EXT_ACK:
                self.ext_ack = bool(value)
            elif opt == NETLINK_NO_ENOBUFS:
                self.no_enobufs = bool(value)

    def getsockopt(self, level, opt, *_rest):
        self._check()
        if level == socket.SOL_SOCKET and opt == socket.SO_RCVBUF:
            return self.rcvbuf
        if level == socket.SOL_SOCKET and opt == socket.SO_SNDBUF:
            return self.sndbuf
        return 0

    def bind(self, address):
        self._check()
        pid = address[0]
        self.portid = self.kernel._bind(self, pid)

    def getsockname(self):
        self._check()
        return (self.portid, 0)

    def settimeout(self, timeout):
        self.timeout = timeout

    def gettimeout(self):
        return self.timeout

    def fileno(self):
        return -1

    def close(self):
        if not self.closed:
            self.closed = True
            self.dump = None
            self.queue.clear()
            self.kernel._unbind(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- data
    def sendall(self, data, flags=0):
        self.send(data, flags)

    def send(self, data, flags=0):
        self._check()
        data = bytes(data)
        if len(data) > self.sndbuf - 32:
            raise OSError(errno.EMSGSIZE, os.strerror(errno.EMSGSIZE))
        if not self.portid:
            self.portid = self.kernel._bind(self, 0)
        self.kernel._receive(self, data)
        return len(data)

    def recv_into(self, buf, nbytes=0, flags=0):
        self._check()
        if self.err:
            err, self.err = self.err, 0
            raise OSError(err, os.strerror(err))
        if not self.queue:
            if self.timeout == 0:
                raise BlockingIOError(errno.EAGAIN, os.strerror(errno.EAGAIN))
            # Nothing can arrive later: the fake answers synchronously.
            raise socket.timeout('timed out')
        data, truesize = self.queue.popleft()
        self.rmem -= truesize
        size = nbytes or len(buf)
        self.max_recvmsg_len = min(max(self.max_recvmsg_len, size), MAX_RECVMSG_LEN)
        n = min(size, len(data))
        buf[:n] = data[:n]
        self.kernel.recv_datagrams += 1
        if self.dump is not None and self.rmem <= self._limit() // 2:
            err = self.kernel._dump_chunk(self, False)
            if err:
                self.err = err
        if not self.queue:
            self.congested = False
        return n

    def recv(self, bufsize, flags=0):
        buf = bytearray(bufsize)
        n = self.recv_into(buf, bufsize, flags)
        return bytes(buf[:n])

    # -- kernel side
    def _limit(self):
        return self.kernel.rcvbuf_limit or self.rcvbuf

    def _deliver(self, data, truesize):
        """netlink_attachskb() for the kernel's unicast: never waits."""
        rmem = self.rmem + truesize
        if (rmem == truesize or rmem <= self._limit()) and not self.congested:
            self.queue.append((data, truesize))
            self.rmem = rmem
            return True
        if not self.no_enobufs and not self.congested:
            self.congested = True
            self.err = errno.ENOBUFS
        self.kernel.dropped_datagrams += 1
        return False


# ---------------------------------------------------------------- the kernel

class FakeKernel:
    """One network namespace's IPVS, reached through FakeSockets.

    privileged: the caller has CAP_NET_ADMIN (without it every IPVS command is EPERM).
    loaded / loadable: the ip_vs module is in / can be brought in by the family
        lookup's request_module() (or modprobe); neither: the family is unknown.
    schedulers, pes: the names that exist (others are ENOENT).
    laddr: the family has the FULLNAT local-address commands 18-20.
    interfaces: names of the namespace's network interfaces; a dict gives each an MTU, or
        (MTU, multicast): 'lo' has no IFF_MULTICAST, others have unless told.
    timeouts: (tcp, tcpfin, udp) in seconds.
    hash_salt: bits 8-15 of the address of the kernel's per-namespace IPVS state,
        which the service hash mixes in; it decides the order of listed services.
    local_routes: the namespace has its local routing table (lo was ever up);
        without it the kernel takes every IPv4 real server for a broadcast address.
    rcvbuf_limit: a fault: sockets hold at most this many bytes of replies,
        whatever their SO_RCVBUF says.
    autoload: the family lookup itself loads a loadable ip_vs (request_module(): kernels
        since 5.16, whose ip_vs declares MODULE_ALIAS_GENL_FAMILY); False: only modprobe does,
        as on older kernels.
    """

    def __init__(self, privileged=True, loaded=True, loadable=True, schedulers=MAINLINE_SCHEDULERS,
                 pes=DEFAULT_PES, laddr=False, interfaces=('lo', 'eth0'), timeouts=(900, 120, 300),
                 family_id=0x22, hash_salt=0, ipv6=True, local_routes=True, hz=250, version_code=0x010201,
                 conn_tab_size=4096, rmem_default=212992, rmem_max=212992, wmem_default=212992,
                 wmem_max=212992, rcvbuf_limit=None, autoload=True):
        self.privileged = privileged
        self.loaded = loaded
        self.loadable = loadable
        self.autoload = autoload
        self.schedulers = set(schedulers)
        self.pes = set(pes)
        self.laddr = laddr
        if not isinstance(interfaces, dict):
            interfaces = dict((name, 65536 if name == 'lo' else 1500) for name in interfaces)
        self.interfaces = dict((name, v if isinstance(v, tuple) else (v, name != 'lo')) for name, v in interfaces.items())
        self.family_id = family_id
        self.hash_salt = hash_salt & 0xff
        self.ipv6 = ipv6
        self.local_routes = local_routes
        self.hz = hz
        self.version_code = version_code
        self.conn_tab_size = conn_tab_size
        self.rmem_default = rmem_default
        self.rmem_max = rmem_max
        self.wmem_default = wmem_default
        self.wmem_max = wmem_max
        self.rcvbuf_limit = rcvbuf_limit
        self.socket_errno = None        # a fault: socket() fails with this errno

        self._tcp, self._tcpfin, self._udp = [t * hz for t in timeouts]
        self._svcs = {}
        self._buckets = [[] for _i in range(256)]
        self._fwm_buckets = [[] for _i in range(256)]
        self._order = None
        self._sync = {}                 # state -> _DaemonCfg of a running daemon
        self._mixed_dests = 0
        self._ports = {}
        self._next_port = -4096
        self._svc_parse_cache = {}
        self._dest_layouts = {}
        self._ops_cache = None
        self.sockets = []

        self.before_request = []        # fn(fake, request) -> None, or an errno to fail it with
        self.before_dump_chunk = []     # fn(fake, request) before each chunk after a dump's first
        self.reorder = None             # None, 'reverse' or fn([error reply bytes]) -> same, permuted
        self.modprobes = []
        self.reset_counters()

    # ------------------------------------------------------------ counters

    def reset_counters(self):
        self.sent_datagrams = 0
        self.sent_bytes = 0
        self.recv_datagrams = 0
        self.dropped_datagrams = 0
        self.requests = collections.Counter()
        self.log = []

    @property
    def writes(self):
        """How many write requests (NEW/SET/DEL, ZERO, FLUSH, ...) were sent."""
        return sum(1 for r in self.log if r.write)

    def sent(self, dumps=None):
        """Names of the requests sent, in order (dumps=True/False filters)."""
        return [r.name for r in self.log if dumps is None or r.dump == dumps]

    # ------------------------------------------------------------ hooks

    def once(self, name, fn):
        """Run fn(fake, request) before the next request named `name` only."""
        def hook(fake, request):
            if request.name == name:
                self.before_request.remove(hook)
                return fn(fake, request)
            return None
        self.before_request.append(hook)
        return hook

    # ------------------------------------------------------------ installing

    def socket_factory(self, family=-1, type=-1, proto=-1, fileno=None):  # pylint: disable=redefined-builtin
        """Stands in for socket.socket: generic netlink sockets are fake, others real."""
        if family == AF_NETLINK and fileno is None:
            if self.socket_errno:
                raise OSError(self.socket_errno, os.strerror(self.socket_errno))
            if proto != NETLINK_GENERIC:
                raise OSError(errno.EPROTONOSUPPORT, os.strerror(errno.EPROTONOSUPPORT))
            s = FakeSocket(self)
            self.sockets.append(s)
            return s
        args = [a for a in (family, type, proto) if a != -1]
        return socket.socket(*args, fileno=fileno)

    def socket_module(self):
        """A copy of the socket module whose socket() is socket_factory."""
        shim = types.ModuleType('socket')
        shim.__dict__.update(socket.__dict__)
        shim.socket = self.socket_factory
        return shim

    def _targets(self):
        from ansible_collections.lvs.ipvs.plugins.module_utils import _ipvs, _netlink
        out = [(_netlink, 'socket', self.socket_module())]
        if hasattr(_ipvs, '_modprobe'):
            out.append((_ipvs, '_modprobe', self.modprobe))
        return out

    def install(self, monkeypatch):
        """Route _netlink's sockets (and _ipvs's modprobe) to this kernel for one test."""
        for obj, name, value in self._targets():
            monkeypatch.setattr(obj, name, value)
        return self

    @contextlib.contextmanager
    def installed(self):
        """install() without pytest: restores the originals on exit."""
        saved = [(obj, name, getattr(obj, name)) for obj, name, _v in self._targets()]
        try:
            for obj, name, value in self._targets():
                setattr(obj, name, value)
            yield self
        finally:
            for obj, name, value in saved:
                setattr(obj, name, value)

    def interface_mtu(self, name):
        """What IpvsClient.interface_mtu() finds here: the interface's MTU, None when there is none."""
        entry = self.interfaces.get(name)
        return entry[0] if entry is not None else None

    def modprobe(self, name):
        """What `modprobe -q name` would do here."""
        self.modprobes.append(name)
        if name == 'ip_vs' and self.loadable:
            self.loaded = True
        return self.loaded if name == 'ip_vs' else False

    # ------------------------------------------------------------ port ids

    def _bind(self, sock, pid):
        if sock.portid:
            if pid and pid != sock.portid:
                raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
            return sock.portid
        if pid:
            if pid in self._ports:
                raise OSError(errno.EADDRINUSE, os.strerror(errno.EADDRINUSE))
        else:
            pid = os.getpid()
            while pid in self._ports:
                pid = self._next_port & 0xffffffff
                self._next_port -= 1
        self._ports[pid] = sock
        return pid

    def _unbind(self, sock):
        self._ports.pop(sock.portid, None)
        if sock in self.sockets:
            self.sockets.remove(sock)

    # ------------------------------------------------------------ netlink core

    def _receive(self, sock, data):
        """netlink_rcv_skb(): every message of a datagram, in order."""
        self.sent_datagrams += 1
        self.sent_bytes += len(data)
        held = [] if self.reorder else None
        pos = 0
        end = len(data)
        while end - pos >= 16:
            mlen, mtype, flags, seq, _pid = _NLMSGHDR.unpack_from(data, pos)
            if mlen < 16 or end - pos < mlen:
                break
            msg = data[pos:pos + mlen]
            err = 0
            ext = None
            if flags & NLM_F_REQUEST and mtype >= NLMSG_MIN_TYPE:
                err, ext = self._rcv_msg(sock, msg, mtype, flags, seq)
            if err is not _DUMP_STARTED and (flags & NLM_F_ACK or err):
                reply = self._ack(sock, msg, err, ext)
                if held is not None:
                    held.append(reply)
                else:
                    sock._deliver(*reply)
            pos += (mlen + 3) & ~3
        if held:
            for reply in self._reordered(held):
                sock._deliver(*reply)

    def _reordered(self, replies):
        """The error replies of one datagram permuted among the places they
        held; ACKs (a barrier's included) and data replies stay where they were."""
        slots = [i for i, (data, _t) in enumerate(replies)
                 if _NLMSGHDR.unpack_from(data)[1] == NLMSG_ERROR and _I32.unpack_from(data, 16)[0]]
        errors = [replies[i] for i in slots]
        if self.reorder == 'reverse':
            errors.reverse()
        else:
            errors = [(data, skb_truesize(len(data))) for data in self.reorder([d for d, _t in errors])]
            assert len(errors) == len(slots), 'reorder must return as many replies as it got'
        out = list(replies)
        for i, reply in zip(slots, errors):
            out[i] = reply
        return out

    def _ack(self, sock, msg, err, ext):
        """netlink_ack(): NLMSG_ERROR with the request's header (all of it
        unless capped) and, with NETLINK_EXT_ACK, the ext-ack text."""
        flags = 0
        if err and not sock.cap_ack:
            orig = msg
        else:
            orig = msg[:16]
            flags |= NLM_F_CAPPED
        tlv = b''
        if ext and sock.ext_ack:
            text, offset, policy = ext
            if text:
                tlv += _str(NLMSGERR_ATTR_MSG, text)
            if offset is not None and err:
                tlv += _u32(NLMSGERR_ATTR_OFFS, offset)
                if policy:
                    tlv += policy
            if tlv:
                flags |= NLM_F_ACK_TLVS
        body = orig + b'\0' * (-len(orig) & 3) + tlv
        out = _ERRHDR.pack(20 + len(body), NLMSG_ERROR, flags, _NLMSGHDR.unpack_from(msg)[3], sock.portid,
                           -err) + body
        return out, skb_truesize(len(out))

    def _rcv_msg(self, sock, msg, mtype, flags, seq):
        """genl_rcv_msg(): (errno or _DUMP_STARTED, ext-ack (text, offset) or None)."""
        ctrl = mtype == GENL_ID_CTRL
        cmd = msg[16] if len(msg) > 16 else 0
        if ctrl:
            name = 'CTRL_GETFAMILY' if cmd == CTRL_CMD_GETFAMILY else 'CTRL_%d' % cmd
        else:
            name = CMD_NAMES.get(cmd, 'CMD_%d' % cmd) if mtype == self.family_id else 'TYPE_%d' % mtype
        req = Request(sock, mtype, cmd, name, flags, seq, msg[20:])
        self.requests[name] += 1
        self.log.append(req)
        err, ext = self._handle(sock, req, msg)
        req.error = 0 if err is _DUMP_STARTED else err
        return err, ext

    def _handle(self, sock, req, msg):
        if self.before_request:
            for hook in list(self.before_request):
                injected = hook(self, req)
                if injected:
                    return injected, None
        ctrl = req.type == GENL_ID_CTRL
        if not ctrl and (req.type != self.family_id or not self.loaded):
            return errno.ENOENT, None
        if len(msg) < 20:
            return errno.EINVAL, None
        cmd = req.cmd
        if not ctrl and cmd >= 18 and not self.laddr:
            # genl_header_check() for commands past resv_start_op
            if _U16.unpack_from(msg, 18)[0]:
                return errno.EINVAL, ('genlmsghdr.reserved field is not 0', None, None)
            f = req.flags & ~NLM_F_DUMP if req.dump else req.flags
            if f & ~(NLM_F_REQUEST | NLM_F_ACK | NLM_F_ECHO):
                return errno.EINVAL, ('ambiguous or reserved bits set in nlmsg_flags', None, None)
        ops = self._ctrl_ops() if ctrl else self._ipvs_ops()
        if cmd not in ops:
            return errno.EOPNOTSUPP, None
        doit, dumpit = ops[cmd]
        if not ctrl and not self.privileged:
            return errno.EPERM, None
        if req.dump:
            if dumpit is None:
                return errno.EOPNOTSUPP, None
            if sock.dump is not None:
                return errno.EBUSY, None
            sock.dump = _Dump(req, dumpit, sock.portid)
            err = self._dump_chunk(sock, True)
            return (err, None) if err else (_DUMP_STARTED, None)
        if doit is None:
            return errno.EOPNOTSUPP, None
        try:
            top = _parse(msg, 20, len(msg), CTRL_POLICY if ctrl else self._cmd_policy())
        except _PolicyError as e:
            return e.err, e.ext()
        result = doit(sock, req, msg, top)
        if isinstance(result, tuple):
            return result
        return result, None

    def _reply(self, sock, req, cmd, attrs, version=1):
        """genlmsg_reply() of a doit: one datagram with one message."""
        out = _MSGHDR.pack(20 + len(attrs), req.type, 0, req.seq, sock.portid, cmd, version, 0) + attrs
        sock._deliver(out, skb_truesize(NLMSG_GOODSIZE))

    def _dump_chunk(self, sock, first):
        """netlink_dump(): one datagram of the dump in progress; 0 or an errno."""
        d = sock.dump
        if not first:
            for hook in list(self.before_dump_chunk):
                hook(self, d.request)
        alloc = max(NLMSG_GOODSIZE, sock.max_recvmsg_len)
        truesize = skb_truesize(alloc)
        rmem = sock.rmem + truesize
        if rmem != truesize and rmem >= sock._limit():
            return errno.ENOBUFS
        msgs = d.kind(d, alloc)
        if msgs:
            sock.queue.append((b''.join(msgs), truesize))
        else:
            sock.queue.append((_ERRHDR.pack(20, NLMSG_DONE, NLM_F_MULTI, d.request.seq, d.portid, 0), truesize))
            sock.dump = None
        sock.rmem = rmem
        return 0

    def _fill(self, d, alloc, items, start, cmd, encode):
        """Messages for items[start:] that fit into alloc bytes; advances args[0]."""
        out = []
        used = 0
        seq = d.request.seq
        fam = self.family_id
        pid = d.portid
        pack = _MSGHDR.pack
        i = start
        n = len(items)
        while i < n:
            payload = encode(items[i])
            size = 20 + len(payload)
            if used + size > alloc:
                break
            out.append(pack(size, fam, NLM_F_MULTI, seq, pid, cmd, 1, 0) + payload)
            used += size
            i += 1
        d.args[0] = i
        return out

    # ------------------------------------------------------------ family, ops

    def _ipvs_ops(self):
        cached = self._ops_cache
        if cached is not None and cached[0] == self.laddr:
            return cached[1]
        ops = {
            CMD_NEW_SERVICE: (self._set_cmd, None), CMD_SET_SERVICE: (self._set_cmd, None),
            CMD_DEL_SERVICE: (self._set_cmd, None), CMD_GET_SERVICE: (self._get_cmd, self._dump_services),
            CMD_NEW_DEST: (self._set_cmd, None), CMD_SET_DEST: (self._set_cmd, None), CMD_DEL_DEST: (self._set_cmd, None),
            CMD_GET_DEST: (None, self._dump_dests), CMD_NEW_DAEMON: (self._set_daemon, None),
            CMD_DEL_DAEMON: (self._set_daemon, None), CMD_GET_DAEMON: (None, self._dump_daemons),
            CMD_SET_CONFIG: (self._set_cmd, None), CMD_GET_CONFIG: (self._get_cmd, None),
            CMD_GET_INFO: (self._get_cmd, None), CMD_ZERO: (self._set_cmd, None), CMD_FLUSH: (self._set_cmd, None),
        }
        if self.laddr:
            ops[CMD_NEW_LADDR] = (self._set_laddr, None)
            ops[CMD_DEL_LADDR] = (self._set_laddr, None)
            ops[CMD_GET_LADDR] = (None, self._dump_laddrs)
        self._ops_cache = (self.laddr, ops)
        return ops

    def _cmd_policy(self):
        return LADDR_CMD_POLICY if self.laddr else CMD_POLICY

    def _ctrl_ops(self):
        return {CTRL_CMD_GETFAMILY: (self._ctrl_getfamily, self._dump_families)}

    def _family_attrs(self):
        ops = self._ipvs_ops()
        entries = []
        for i, cmd in enumerate(sorted(ops)):
            doit, dumpit = ops[cmd]
            flags = GENL_ADMIN_PERM | GENL_CMD_CAP_HASPOL
            if doit:
                flags |= GENL_CMD_CAP_DO
            if dumpit:
                flags |= GENL_CMD_CAP_DUMP
            entries.append(_nest(i + 1, [_u32(CTRL_ATTR_OP_ID, cmd), _u32(CTRL_ATTR_OP_FLAGS, flags)]))
        return (_str(CTRL_ATTR_FAMILY_NAME, 'IPVS') + _u16(CTRL_ATTR_FAMILY_ID, self.family_id)
                + _u32(CTRL_ATTR_VERSION, 1) + _u32(CTRL_ATTR_HDRSIZE, 0)
                + _u32(CTRL_ATTR_MAXATTR, CMD_ATTR_LADDR if self.laddr else CMD_ATTR_TIMEOUT_UDP)
                + _nest(CTRL_ATTR_OPS, entries))

    def _ctrl_getfamily(self, sock, req, msg, a):
        err = errno.EINVAL
        found = False
        if CTRL_ATTR_FAMILY_ID in a:
            found = _get_u(msg, a, CTRL_ATTR_FAMILY_ID, 2) == self.family_id
            err = errno.ENOENT
        if CTRL_ATTR_FAMILY_NAME in a:
            found = _cstr(msg, a, CTRL_ATTR_FAMILY_NAME) == 'IPVS'
            err = errno.ENOENT
        if found and not self.loaded and self.loadable and self.autoload:
            self.loaded = True          # request_module("net-pf-16-proto-16-family-IPVS")
        if not found or not self.loaded:
            return err
        self._reply(sock, req, CTRL_CMD_NEWFAMILY, self._family_attrs(), version=2)
        return 0

    def _dump_families(self, d, alloc):
        if d.args[0] or not self.loaded:
            return []
        d.args[0] = 1
        attrs = self._family_attrs()
        return [_MSGHDR.pack(20 + len(attrs), GENL_ID_CTRL, NLM_F_MULTI, d.request.seq, d.portid,
                             CTRL_CMD_NEWFAMILY, 2, 0) + attrs]

    # ------------------------------------------------------------ IPVS: parsing

    def _af_valid(self, af):
        return af == AF_INET or (af == AF_INET6 and self.ipv6)

    def _parse_service(self, buf, top, full):
        """ip_vs_genl_parse_service(): (errno, usvc dict or None, existing _Service or None)."""
        if CMD_ATTR_SERVICE not in top:
            return errno.EINVAL, None, None
        off, n = top[CMD_ATTR_SERVICE]
        ck = (bytes(buf[off:off + n]), full, self.ipv6)
        cached = self._svc_parse_cache.get(ck)
        if cached is None:
            cached = self._parse_service_raw(ck[0], full)
            if len(self._svc_parse_cache) > 4096:
                self._svc_parse_cache.clear()
            self._svc_parse_cache[ck] = cached
        err, u = cached
        if err:
            return err, None, None
        svc = self._svcs.get(u['ident'])
        if full:
            u = dict(u)
            old = svc.flags if svc is not None else 0
            u['flags'] = (old & ~u['mask']) | (u['uflags'] & u['mask'])
        return 0, u, svc

    def _parse_service_raw(self, raw, full):
        try:
            a = _parse(raw, 0, len(raw), SVC_POLICY)
        except _PolicyError:
            return errno.EINVAL, None
        if SVC_ATTR_AF not in a or not (SVC_ATTR_FWMARK in a or (SVC_ATTR_PORT in a and SVC_ATTR_PROTOCOL in a
                                                                 and SVC_ATTR_ADDR in a)):
            return errno.EINVAL, None
        af = _get_u(raw, a, SVC_ATTR_AF, 2)
        if not self._af_valid(af):
            return errno.EAFNOSUPPORT, None
        if SVC_ATTR_FWMARK in a:
            u = dict(af=af, protocol=socket.IPPROTO_TCP, addr=b'\0' * 16, port=0,
                     fwmark=_get_u(raw, a, SVC_ATTR_FWMARK))
        else:
            u = dict(af=af, protocol=_get_u(raw, a, SVC_ATTR_PROTOCOL, 2),
                     addr=_norm_addr(af, _memcpy(raw, a, SVC_ATTR_ADDR, 16)),
                     port=_BE16.unpack_from(raw, a[SVC_ATTR_PORT][0])[0], fwmark=0)
        u['ident'] = ('fwm', af, u['fwmark']) if u['fwmark'] else (af, u['protocol'], u['addr'], u['port'])
        if full:
            if not all(k in a for k in (SVC_ATTR_SCHED_NAME, SVC_ATTR_FLAGS, SVC_ATTR_TIMEOUT, SVC_ATTR_NETMASK)):
                return errno.EINVAL, None
            u['uflags'], u['mask'] = struct.unpack('=II', _memcpy(raw, a, SVC_ATTR_FLAGS, 8))
            u['sched'] = _cstr(raw, a, SVC_ATTR_SCHED_NAME)
            u['pe'] = _cstr(raw, a, SVC_ATTR_PE_NAME) if SVC_ATTR_PE_NAME in a else None
            u['timeout'] = _get_u(raw, a, SVC_ATTR_TIMEOUT)
            u['netmask'] = _memcpy(raw, a, SVC_ATTR_NETMASK, 4)
        return 0, u

    def _parse_dest(self, buf, top, full):
        """ip_vs_genl_parse_dest(): (errno, udest dict). It runs for every real server, so a nest laid
        out like one seen before (same attributes, sizes and order) is read with one struct call."""
        if CMD_ATTR_DEST not in top:
            return errno.EINVAL, None
        off, n = top[CMD_ATTR_DEST]
        for hdrs, expected, values, fields in self._dest_layouts.get((n, full), ()):
            if hdrs.unpack_from(buf, off) == expected:
                u = dict(_DEST_DEFAULTS)
                u.update(zip(fields, values.unpack_from(buf, off)))
                for k in ('port', 'tun_port'):
                    v = u[k]
                    u[k] = ((v & 0xff) << 8) | (v >> 8)
                if full:
                    u['fwd'] &= CONN_F_FWD_MASK
                    if u['weight'] & 0x80000000:
                        u['weight'] -= 1 << 32
                return 0, u
        err, u = self._parse_dest_slow(buf, off, n, full)
        if not err:
            self._learn_dest_layout(buf, off, n, full)
        return err, u

    def _learn_dest_layout(self, buf, off, n, full):
        hfmt, vfmt, expected, fields = ['='], ['='], [], []
        pos, end = off, off + n
        seen = set()
        while pos + 4 <= end:
            alen, atype = _NLAHDR.unpack_from(buf, pos)
            layout = _DEST_LAYOUT.get((atype, alen))
            if layout is None or atype in seen or (not full and layout[1] not in ('addr', 'port', 'af')):
                return
            seen.add(atype)
            size = (alen + 3) & ~3
            hfmt.append('HH%dx' % (size - 4))
            vfmt.append('4x' + layout[0] + '%dx' % (size - alen))
            expected += [alen, atype]
            fields.append(layout[1])
            pos += size
        if pos != end or not {'addr', 'port'} <= set(fields):
            return
        layouts = self._dest_layouts.setdefault((n, full), [])
        if len(layouts) < 8:
            layouts.append((struct.Struct(''.join(hfmt)), tuple(expected), struct.Struct(''.join(vfmt)), fields))

    @staticmethod
    def _parse_dest_slow(buf, off, n, full):
        end = off + n
        pos = off
        unpack = _NLAHDR.unpack_from
        u32 = _U32.unpack_from
        addr = port = fwd = weight = u_thresh = l_thresh = None
        af = tun_type = tun_port = tun_flags = 0
        while pos + 4 <= end:
            alen, atype = unpack(buf, pos)
            if alen < 4 or pos + alen > end:
                break
            atype &= 0x3fff
            ln = alen - 4
            p = pos + 4
            kind = DEST_POLICY.get(atype)
            if kind is not None:
                if atype == DEST_ATTR_ADDR:
                    if ln > 16:
                        return errno.EINVAL, None
                    addr = bytes(buf[p:p + ln]).ljust(16, b'\0')
                elif kind.__class__ is int and ln < kind or kind == 'nested' and 0 < ln < 4:
                    return errno.EINVAL, None
                elif atype == DEST_ATTR_PORT:
                    port = _BE16.unpack_from(buf, p)[0]
                elif atype == DEST_ATTR_FWD_METHOD:
                    fwd = u32(buf, p)[0] & CONN_F_FWD_MASK
                elif atype == DEST_ATTR_WEIGHT:
                    weight = u32(buf, p)[0]
                elif atype == DEST_ATTR_U_THRESH:
                    u_thresh = u32(buf, p)[0]
                elif atype == DEST_ATTR_L_THRESH:
                    l_thresh = u32(buf, p)[0]
                elif atype == DEST_ATTR_ADDR_FAMILY:
                    af = _U16.unpack_from(buf, p)[0]
                elif atype == DEST_ATTR_TUN_TYPE:
                    tun_type = buf[p]
                elif atype == DEST_ATTR_TUN_PORT:
                    tun_port = _BE16.unpack_from(buf, p)[0]
                elif atype == DEST_ATTR_TUN_FLAGS:
                    tun_flags = _U16.unpack_from(buf, p)[0]
            pos += (alen + 3) & ~3
        if addr is None or port is None:
            return errno.EINVAL, None
        if not full:
            return 0, dict(addr=addr, port=port, af=af, fwd=0, weight=0, u_thresh=0, l_thresh=0, tun_type=0,
                           tun_port=0, tun_flags=0)
        if fwd is None or weight is None or u_thresh is None or l_thresh is None:
            return errno.EINVAL, None
        if weight & 0x80000000:
            weight -= 1 << 32
        return 0, dict(addr=addr, port=port, af=af, fwd=fwd, weight=weight, u_thresh=u_thresh, l_thresh=l_thresh,
                       tun_type=tun_type, tun_port=tun_port, tun_flags=tun_flags)

    # ------------------------------------------------------------ IPVS: commands

    def _set_cmd(self, sock, req, buf, top):
        """ip_vs_genl_set_cmd()."""
        cmd = req.cmd
        if cmd == CMD_FLUSH:
            return self._flush()
        if cmd == CMD_SET_CONFIG:
            return self._set_config(*[_get_u(buf, top, k) if k in top else None
                                      for k in (CMD_ATTR_TIMEOUT_TCP, CMD_ATTR_TIMEOUT_TCP_FIN, CMD_ATTR_TIMEOUT_UDP)])
        if cmd == CMD_ZERO and CMD_ATTR_SERVICE not in top:
            return self._zero_all()
        err, usvc, svc = self._parse_service(buf, top, cmd in (CMD_NEW_SERVICE, CMD_SET_SERVICE))
        if err:
            return err
        if cmd != CMD_NEW_SERVICE and svc is None:
            return errno.ESRCH
        if cmd in (CMD_NEW_DEST, CMD_SET_DEST, CMD_DEL_DEST):
            err, udest = self._parse_dest(buf, top, cmd != CMD_DEL_DEST)
            if err:
                return err
            err = self._check_dest_af(svc, udest, cmd == CMD_DEL_DEST)
            if err:
                return err
        if cmd == CMD_NEW_SERVICE:
            return errno.EEXIST if svc is not None else self._add_service(usvc)
        if cmd == CMD_SET_SERVICE:
            return self._edit_service(svc, usvc)
        if cmd == CMD_DEL_SERVICE:
            return self._del_service(svc)
        if cmd == CMD_NEW_DEST:
            return self._add_dest(svc, udest)
        if cmd == CMD_SET_DEST:
            return self._edit_dest(svc, udest)
        if cmd == CMD_DEL_DEST:
            return self._del_dest(svc, udest)
        if cmd == CMD_ZERO:
            return self._zero_service(svc)
        return errno.EINVAL

    def _check_dest_af(self, svc, udest, delete):
        if udest['af'] == 0:
            udest['af'] = svc.af
        if not self._af_valid(udest['af']):
            return errno.EAFNOSUPPORT
        udest['addr'] = _norm_addr(udest['af'], udest['addr'])
        if udest['af'] != svc.af and not delete:
            if self._sync:
                return errno.EINVAL     # the sync protocol cannot carry mixed families
            if udest['fwd'] != CONN_F_TUNNEL:
                return errno.EINVAL
        return 0

    def _get_cmd(self, sock, req, buf, top):
        """ip_vs_genl_get_cmd(): GET_SERVICE (one), GET_CONFIG, GET_INFO."""
        if req.cmd == CMD_GET_SERVICE:
            err, _usvc, svc = self._parse_service(buf, top, False)
            if err:
                return err
            if svc is None:
                return errno.ESRCH
            self._reply(sock, req, CMD_NEW_SERVICE, svc.encode(self.hz))
        elif req.cmd == CMD_GET_CONFIG:
            hz = self.hz
            self._reply(sock, req, CMD_SET_CONFIG,
                        _u32(CMD_ATTR_TIMEOUT_TCP, self._tcp // hz) + _u32(CMD_ATTR_TIMEOUT_TCP_FIN, self._tcpfin // hz)
                        + _u32(CMD_ATTR_TIMEOUT_UDP, self._udp // hz))
        else:
            self._reply(sock, req, CMD_SET_INFO, _u32(INFO_ATTR_VERSION, self.version_code)
                        + _u32(INFO_ATTR_CONN_TAB_SIZE, self.conn_tab_size))
        return 0

    def _set_daemon(self, sock, req, buf, top):
        """ip_vs_genl_set_daemon()."""
        if CMD_ATTR_DAEMON not in top:
            return errno.EINVAL
        off, n = top[CMD_ATTR_DAEMON]
        try:
            a = _parse(buf, off, off + n, DAEMON_POLICY)
        except _PolicyError as e:
            return errno.EINVAL, e.ext()
        if req.cmd == CMD_DEL_DAEMON:
            if DAEMON_ATTR_STATE not in a:
                return errno.EINVAL
            return self._stop_daemon(_get_u(buf, a, DAEMON_ATTR_STATE))
        if not all(k in a for k in (DAEMON_ATTR_STATE, DAEMON_ATTR_MCAST_IFN, DAEMON_ATTR_SYNC_ID)):
            return errno.EINVAL
        c = _DaemonCfg()
        c.ifn = _cstr(buf, a, DAEMON_ATTR_MCAST_IFN)
        c.syncid = _get_u(buf, a, DAEMON_ATTR_SYNC_ID)
        c.maxlen = _get_u(buf, a, DAEMON_ATTR_SYNC_MAXLEN, 2) if DAEMON_ATTR_SYNC_MAXLEN in a else 0
        c.mcast_af = 0
        c.group = None
        if DAEMON_ATTR_MCAST_GROUP in a:
            c.mcast_af = AF_INET
            c.group = _memcpy(buf, a, DAEMON_ATTR_MCAST_GROUP, 4)
            if c.group[0] & 0xf0 != 0xe0:
                return errno.EINVAL
        elif DAEMON_ATTR_MCAST_GROUP6 in a:
            if not self.ipv6:
                return errno.EAFNOSUPPORT
            c.mcast_af = AF_INET6
            c.group = _memcpy(buf, a, DAEMON_ATTR_MCAST_GROUP6, 16)
            if c.group[0] != 0xff:
                return errno.EINVAL
        c.port = _get_u(buf, a, DAEMON_ATTR_MCAST_PORT, 2) if DAEMON_ATTR_MCAST_PORT in a else 0
        c.ttl = _get_u(buf, a, DAEMON_ATTR_MCAST_TTL, 1) if DAEMON_ATTR_MCAST_TTL in a else 0
        if self._mixed_dests > 0:
            return errno.EINVAL
        return self._start_daemon(c, _get_u(buf, a, DAEMON_ATTR_STATE))

    def _set_laddr(self, sock, req, buf, top):
        """FULLNAT kernels: NEW/DEL_LADDR."""
        err, _usvc, svc = self._parse_service(buf, top, False)
        if err:
            return err
        if svc is None:
            return errno.ESRCH
        if CMD_ATTR_LADDR not in top:
            return errno.EINVAL
        off, n = top[CMD_ATTR_LADDR]
        try:
            a = _parse(buf, off, off + n, LADDR_POLICY)
        except _PolicyError:
            return errno.EINVAL
        if LADDR_ATTR_ADDR not in a:
            return errno.EINVAL
        addr = _norm_addr(svc.af, _memcpy(buf, a, LADDR_ATTR_ADDR, 16))
        if req.cmd == CMD_NEW_LADDR:
            return self._add_laddr(svc, addr)
        return self._del_laddr(svc, addr)

    # ------------------------------------------------------------ IPVS: dumps

    def _service_order(self):
        order = self._order
        if order is None:
            order = [s for b in self._buckets for s in b] + [s for b in self._fwm_buckets for s in b]
            self._order = order
        return order

    def _dump_services(self, d, alloc):
        hz = self.hz
        return self._fill(d, alloc, self._service_order(), d.args[0], CMD_NEW_SERVICE, lambda s: s.encode(hz))

    def _dump_dests(self, d, alloc):
        body = d.request.body
        try:
            top = _parse(body, 0, len(body), self._cmd_policy())
        except _PolicyError:
            return []
        err, _u, svc = self._parse_service(body, top, False)
        if err or svc is None:
            return []               # ip_vs_genl_dump_dests(): goto out_err, an empty dump
        return self._fill(d, alloc, svc.dests, d.args[0], CMD_NEW_DEST, _Dest.encode)

    def _dump_daemons(self, d, alloc):
        out = []
        used = 0
        for i, state in ((0, STATE_MASTER), (1, STATE_BACKUP)):
            c = self._sync.get(state)
            if c is None or d.args[i]:
                continue
            payload = self._daemon_payload(state, c)
            size = 20 + len(payload)
            if used + size > alloc:
                break
            out.append(_MSGHDR.pack(size, self.family_id, NLM_F_MULTI, d.request.seq, d.portid, CMD_NEW_DAEMON, 1, 0)
                       + payload)
            used += size
            d.args[i] = 1
        return out

    @staticmethod
    def _daemon_payload(state, c):
        parts = [_u32(DAEMON_ATTR_STATE, state), _str(DAEMON_ATTR_MCAST_IFN, c.ifn), _u32(DAEMON_ATTR_SYNC_ID, c.syncid),
                 _u16(DAEMON_ATTR_SYNC_MAXLEN, c.maxlen), _u16(DAEMON_ATTR_MCAST_PORT, c.port),
                 _u8(DAEMON_ATTR_MCAST_TTL, c.ttl)]
        if c.mcast_af == AF_INET6:
            parts.append(_attr(DAEMON_ATTR_MCAST_GROUP6, c.group))
        else:
            parts.append(_attr(DAEMON_ATTR_MCAST_GROUP, c.group))
        return _nest(CMD_ATTR_DAEMON, parts)

    def _dump_laddrs(self, d, alloc):
        body = d.request.body
        try:
            top = _parse(body, 0, len(body), self._cmd_policy())
        except _PolicyError:
            return []
        err, _u, svc = self._parse_service(body, top, False)
        if err or svc is None:
            return []
        return self._fill(d, alloc, svc.laddrs, d.args[0], CMD_NEW_LADDR,
                          lambda la: _nest(CMD_ATTR_LADDR, [_attr(LADDR_ATTR_ADDR, la[0]),
                                                            _u64(LADDR_ATTR_PORT_CONFLICT, la[1]),
                                                            _u32(LADDR_ATTR_CONN_COUNTS, la[2])]))

    # ------------------------------------------------------------ IPVS: the state machine

    def _bucket(self, svc):
        salt = self.hash_salt
        if svc.fwmark:
            return self._fwm_buckets[(salt ^ svc.fwmark) & 0xff]
        a = svc.addr
        if svc.af == AF_INET6:
            w = struct.unpack('>IIII', a)
            ahash = w[0] ^ w[1] ^ w[2] ^ w[3]
        else:
            ahash = int.from_bytes(a[:4], 'big')
        port = svc.port
        return self._buckets[(svc.protocol ^ ahash ^ salt ^ (port >> 8) ^ port) & 0xff]

    def _add_service(self, u):
        """ip_vs_add_service()."""
        sched = u['sched']
        if sched != 'none' and sched not in self.schedulers:
            return errno.ENOENT
        pe = u['pe'] or None
        if pe and pe not in self.pes:
            return errno.ENOENT
        if u['af'] == AF_INET6:
            plen = _U32.unpack(u['netmask'])[0]
            if plen < 1 or plen > 128:
                return errno.EINVAL
        svc = _Service(u['af'], u['protocol'], u['addr'], u['port'], u['fwmark'])
        svc.sched = None if sched == 'none' else sched
        svc.pe = pe
        svc.flags = (u['flags'] & ~F_HASHED) | F_HASHED
        svc.timeout = (u['timeout'] * self.hz) & 0xffffffff
        svc.netmask = u['netmask']
        svc.bucket = self._bucket(svc)
        svc.bucket.insert(0, svc)       # hlist_add_head_rcu()
        self._svcs[svc.ident] = svc
        self._order = None
        return 0

    def _edit_service(self, svc, u):
        """ip_vs_edit_service(): stays where it is in its bucket."""
        sched = u['sched']
        if sched != 'none' and sched not in self.schedulers:
            return errno.ENOENT
        pe = u['pe'] or None
        if pe and pe not in self.pes:
            return errno.ENOENT
        if u['af'] == AF_INET6:
            plen = _U32.unpack(u['netmask'])[0]
            if plen < 1 or plen > 128:
                return errno.EINVAL
        svc.sched = None if sched == 'none' else sched
        svc.flags = u['flags'] | F_HASHED
        svc.timeout = (u['timeout'] * self.hz) & 0xffffffff
        svc.netmask = u['netmask']
        svc.pe = pe
        svc.payload = None
        return 0

    def _unlink_service(self, svc):
        svc.bucket.remove(svc)
        del self._svcs[svc.ident]
        for dest in svc.dests:
            if dest.af != svc.af:
                self._mixed_dests -= 1
        svc.dests = []
        svc.dest_index = {}
        svc.trash = {}
        self._order = None

    def _del_service(self, svc):
        self._unlink_service(svc)
        return 0

    def _flush(self):
        for svc in list(self._service_order()):
            self._unlink_service(svc)
        return 0

    def _valid_dest_addr(self, svc, u):
        """ip_vs_new_dest(): what inet_addr_type() / ipv6_addr_type() accept."""
        addr = u['addr']
        if u['af'] == AF_INET6:
            if addr == b'\0' * 15 + b'\x01':
                return True                                     # ::1 is local
            if addr[0] == 0xff or addr == b'\0' * 16:            # multicast, unspecified
                return False
            if addr[:10] == b'\0' * 10 and addr[10:12] == b'\xff\xff':
                return False                                    # v4-mapped is not unicast
            if addr[0] == 0xfe and addr[1] & 0xc0 == 0x80:
                return False                                    # link-local
            return True
        if not self.local_routes:
            return False
        a = addr[:4]
        if a == b'\0\0\0\0' or a == b'\xff\xff\xff\xff' or a[0] & 0xf0 == 0xe0:
            return False                                        # ipv4_is_zeronet() is 0.0.0.0 only
        if a == b'\x7f\xff\xff\xff' and 'lo' in self.interfaces:
            return False                                        # the broadcast route of lo
        return True

    def _add_dest(self, svc, u):
        """ip_vs_add_dest()."""
        if u['weight'] < 0:
            return errno.ERANGE
        if u['l_thresh'] > u['u_thresh']:
            return errno.ERANGE
        if u['u_thresh'] > INT_MAX:
            return errno.EINVAL
        if u['tun_type'] == TUN_TYPE_GUE and u['tun_port'] == 0:
            return errno.EINVAL
        key = (u['af'], u['addr'], u['port'])
        if key in svc.dest_index:
            return errno.EEXIST
        dest = svc.trash.pop(key, None)
        if dest is None:
            if not self._valid_dest_addr(svc, u):
                return errno.EINVAL
            dest = _Dest(u['af'], u['addr'], u['port'])
        self._update_dest(svc, dest, u, True)
        return 0

    def _update_dest(self, svc, dest, u, add):
        if add and u['af'] != svc.af:
            self._mixed_dests += 1
        dest.weight = u['weight']
        dest.fwd = u['fwd']
        dest.tun_type = u['tun_type']
        dest.tun_port = u['tun_port']
        dest.tun_flags = u['tun_flags']
        dest.u_thresh = u['u_thresh']
        dest.l_thresh = u['l_thresh']
        dest.payload = None
        if add:
            dest.svc = svc
            svc.dests.insert(0, dest)   # list_add_rcu(): at the head
            svc.dest_index[(dest.af, dest.addr, dest.port)] = dest

    def _edit_dest(self, svc, u):
        """ip_vs_edit_dest()."""
        if u['weight'] < 0:
            return errno.ERANGE
        if u['l_thresh'] > u['u_thresh']:
            return errno.ERANGE
        if u['u_thresh'] > INT_MAX:
            return errno.EINVAL
        if u['tun_type'] == TUN_TYPE_GUE and u['tun_port'] == 0:
            return errno.EINVAL
        dest = svc.dest_index.get((u['af'], u['addr'], u['port']))
        if dest is None:
            return errno.ENOENT
        self._update_dest(svc, dest, u, False)
        return 0

    def _del_dest(self, svc, u):
        """ip_vs_del_dest(): the server goes to the trash, counters and all."""
        key = (u['af'], u['addr'], u['port'])
        dest = svc.dest_index.pop(key, None)
        if dest is None:
            return errno.ENOENT
        svc.dests.remove(dest)
        if dest.af != svc.af:
            self._mixed_dests -= 1
        svc.trash[key] = dest
        return 0

    def expire_trash(self):
        """What the trash timer does to idle deleted real servers after a while."""
        for svc in self._svcs.values():
            svc.trash = {}

    def _zero_service(self, svc):
        for dest in svc.dests:
            dest.stats = [0] * 10
            dest.payload = None
        svc.stats = [0] * 10
        svc.payload = None
        return 0

    def _zero_all(self):
        for svc in self._svcs.values():
            self._zero_service(svc)
        return 0

    def _set_config(self, tcp, tcpfin, udp):
        """ip_vs_set_timeout(): 0 keeps a value; more than INT_MAX/HZ is EINVAL."""
        vals = []
        for v in (tcp, tcpfin, udp):
            if v is not None and v & 0x80000000:
                v -= 1 << 32
            vals.append(v)
        limit = INT_MAX // self.hz
        for v in vals:
            if v is not None and (v < 0 or v > limit):
                return errno.EINVAL
        tcp, tcpfin, udp = vals
        if tcp:
            self._tcp = tcp * self.hz
        if tcpfin:
            self._tcpfin = tcpfin * self.hz
        if udp:
            self._udp = udp * self.hz
        return 0

    def _start_daemon(self, c, state):
        """start_sync_thread(): the interface is looked up before the state is checked."""
        if c.mcast_af == 0:
            c.mcast_af = AF_INET
            c.group = SYNC_GROUP
        if not c.port:
            c.port = SYNC_PORT
        if not c.ttl:
            c.ttl = 1
        if c.ifn not in self.interfaces:
            return errno.ENODEV
        hlen = 48 if c.mcast_af == AF_INET6 else 28
        dev_mtu, dev_multicast = self.interfaces[c.ifn]
        if state == STATE_BACKUP:
            mtu = min(max(dev_mtu, 1500), 65535)
            min_mtu = 1024
        else:
            mtu = 1500
            min_mtu = 1
        if c.maxlen:
            c.maxlen = min(max(c.maxlen, min_mtu), 65535 - hlen)
        else:
            c.maxlen = mtu - hlen
        if state not in (STATE_MASTER, STATE_BACKUP):
            return errno.EINVAL
        if state in self._sync:
            return errno.EEXIST
        if state == STATE_MASTER and c.mcast_af == AF_INET6 and not dev_multicast:
            # make_send_sock(): connecting to an IPv6 group through a device without
            # IFF_MULTICAST (lo) finds no route; the daemon does not start.
            return errno.ENETUNREACH
        self._sync[state] = c
        return 0

    def _stop_daemon(self, state):
        if state not in (STATE_MASTER, STATE_BACKUP):
            return errno.EINVAL
        if state not in self._sync:
            return errno.ESRCH
        del self._sync[state]
        return 0

    @staticmethod
    def _add_laddr(svc, addr):
        if addr == b'\0' * 16:
            return errno.EINVAL
        if any(la[0] == addr for la in svc.laddrs):
            return errno.EEXIST
        svc.laddrs.append([addr, 0, 0])   # list_add_tail()
        return 0

    @staticmethod
    def _del_laddr(svc, addr):
        for la in svc.laddrs:
            if la[0] == addr:
                svc.laddrs.remove(la)
                return 0
        return errno.ENOENT

    # ------------------------------------------------------------ plain-Python writes

    @staticmethod
    def _raise(err):
        if err:
            raise OSError(err, os.strerror(err))

    @staticmethod
    def _ident(key):
        family, protocol, vip, vport, fwmark = key
        af = _model.FAMILIES[family]
        if fwmark:
            return ('fwm', af, fwmark)
        return (af, _model.PROTOCOLS[protocol], _addr16(af, vip), vport)

    def _svc(self, key):
        svc = self._svcs.get(self._ident(key))
        if svc is None:
            raise OSError(errno.ESRCH, 'no virtual service %s' % (key,))
        return svc

    def _usvc(self, svc, mask=0xffffffff, old_flags=0):
        af = _model.FAMILIES[svc.family]
        ident = self._ident(svc.key)
        if svc.family == 'ipv6':
            netmask = _U32.pack(int(svc.netmask))
        else:
            netmask = socket.inet_aton(_model.normalize_netmask(svc.netmask, 'ipv4'))
        u = dict(af=af, ident=ident, fwmark=svc.fwmark or 0, sched=svc.scheduler, pe=svc.pe, timeout=svc.timeout,
                 netmask=netmask, flags=(old_flags & ~mask) | (svc.flags & mask))
        if svc.fwmark:
            u.update(protocol=socket.IPPROTO_TCP, addr=b'\0' * 16, port=0)
        else:
            u.update(protocol=ident[1], addr=ident[2], port=ident[3])
        return u

    @staticmethod
    def _udest(srv):
        af = _model.FAMILIES[srv.family]
        tun = srv.forward == 'tun'
        return dict(af=af, addr=_addr16(af, srv.rip), port=srv.rport, fwd=_model.FORWARD[srv.forward],
                    weight=srv.weight, u_thresh=srv.u_threshold or 0, l_thresh=srv.l_threshold or 0,
                    tun_type=_model.TUN_TYPES[srv.tun_type or 'ipip'] if tun else 0,
                    tun_port=(srv.tun_port or 0) if tun else 0,
                    tun_flags=_model.TUN_CSUM[srv.tun_csum or 'nocsum'] if tun else 0)

    def add_service(self, svc):
        """Create a model Service as NEW_SERVICE would (OSError(errno) if the kernel would refuse)."""
        if self._ident(svc.key) in self._svcs:
            self._raise(errno.EEXIST)
        self._raise(self._add_service(self._usvc(svc)))

    def edit_service(self, svc, mask=_model.F_USER_MASK):
        old = self._svc(svc.key)
        self._raise(self._edit_service(old, self._usvc(svc, mask, old.flags)))

    def delete_service(self, key):
        self._del_service(self._svc(key))

    def _dest_args(self, key, srv):
        svc = self._svc(key)
        u = self._udest(srv)
        self._raise(self._check_dest_af(svc, u, False))
        return svc, u

    def add_server(self, key, srv):
        self._raise(self._add_dest(*self._dest_args(key, srv)))

    def edit_server(self, key, srv):
        self._raise(self._edit_dest(*self._dest_args(key, srv)))

    def delete_server(self, key, srv):
        svc = self._svc(key)
        u = self._udest(srv)
        self._raise(self._check_dest_af(svc, u, True))
        self._raise(self._del_dest(svc, u))

    def load(self, table):
        """Add [(Service, [Server])] (servers listed in the order given: the last is listed first).
        Their reply bytes are built now, not at the first dump."""
        for svc, servers in table:
            self.add_service(svc)
            for srv in servers:
                self.add_server(svc.key, srv)
        for svc in self._service_order():
            svc.encode(self.hz)
            for dest in svc.dests:
                dest.encode()

    def flush(self):
        self._flush()

    def zero(self, key=None):
        if key is None:
            self._zero_all()
        else:
            self._zero_service(self._svc(key))

    def set_timeouts(self, tcp=None, tcpfin=None, udp=None):
        self._raise(self._set_config(tcp, tcpfin, udp))

    def start_daemon(self, daemon):
        c = _DaemonCfg()
        c.ifn = daemon.mcast_interface
        c.syncid = daemon.syncid or 0
        c.maxlen = daemon.sync_maxlen or 0
        c.mcast_af = 0
        c.group = None
        if daemon.mcast_group:
            c.mcast_af = AF_INET6 if ':' in daemon.mcast_group else AF_INET
            c.group = socket.inet_pton(c.mcast_af, daemon.mcast_group)
        c.port = daemon.mcast_port or 0
        c.ttl = daemon.mcast_ttl or 0
        self._raise(errno.EINVAL if self._mixed_dests > 0 else 0)
        self._raise(self._start_daemon(c, _model.DAEMON_ROLES[daemon.role]))

    def stop_daemon(self, role):
        self._raise(self._stop_daemon(_model.DAEMON_ROLES[role]))

    def add_laddr(self, key, address):
        svc = self._svc(key)
        self._raise(self._add_laddr(svc, _addr16(svc.af, address)))

    def delete_laddr(self, key, address):
        svc = self._svc(key)
        self._raise(self._del_laddr(svc, _addr16(svc.af, address)))

    def add_traffic(self, key, server=None, conns=0, inpkts=0, outpkts=0, inbytes=0, outbytes=0, rates=None,
                    active=None, inactive=None, persist=None):
        """Count traffic on a service (and on one of its servers, given as a
        Server or (rip, rport)): counters add up; `rates` (cps, inpps, outpps,
        inbps, outbps) and the connection gauges are set."""
        svc = self._svc(key)
        objs = [svc]
        if server is not None:
            rip, rport = (server.rip, server.rport) if isinstance(server, Server) else server
            af = AF_INET6 if ':' in rip else AF_INET
            dest = svc.dest_index.get((af, _addr16(af, rip), rport))
            if dest is None:
                raise OSError(errno.ENOENT, 'no real server %s:%d' % (rip, rport))
            objs.append(dest)
            if active is not None:
                dest.activeconns = active
            if inactive is not None:
                dest.inactconns = inactive
            if persist is not None:
                dest.persistconns = persist
        for obj in objs:
            for i, v in enumerate((conns, inpkts, outpkts, inbytes, outbytes)):
                obj.stats[i] = (obj.stats[i] + v) & 0xffffffffffffffff
            if rates is not None:
                obj.stats[5:] = list(rates)
            obj.payload = None

    # ------------------------------------------------------------ plain-Python reads

    def _service_model(self, s):
        af = s.af
        family = _model.FAMILY_NAMES.get(af, str(af))
        if s.fwmark:
            protocol = vip = vport = None
        else:
            protocol = _model.PROTOCOL_NAMES.get(s.protocol, str(s.protocol))
            vip = _addr_text(af, s.addr)
            vport = s.port
        if af == AF_INET6:
            netmask = str(_U32.unpack(s.netmask)[0])
        else:
            netmask = socket.inet_ntoa(s.netmask)
        return Service(family, protocol, vip, vport, s.fwmark or None, s.sched or 'none', s.flags & _model.F_USER_MASK,
                       s.timeout // self.hz, netmask, s.pe or None, Stats(*s.stats[:5]), Rates(*s.stats[5:]))

    @staticmethod
    def _server_model(d):
        forward = _model.FORWARD_NAMES.get(d.fwd, str(d.fwd))
        tun_type = tun_port = tun_csum = None
        if forward == 'tun':
            tun_type = _model.TUN_TYPE_NAMES.get(d.tun_type)
            if tun_type == 'gue':
                tun_port = d.tun_port
            if tun_type in ('gue', 'gre'):
                tun_csum = _model.TUN_CSUM_NAMES.get(d.tun_flags, 'nocsum')
        return Server(_addr_text(d.af, d.addr), d.port, _model.FAMILY_NAMES.get(d.af, str(d.af)), forward, d.weight,
                      d.u_thresh, d.l_thresh, tun_type, tun_port, tun_csum, d.activeconns, d.inactconns,
                      d.persistconns, Stats(*d.stats[:5]), Rates(*d.stats[5:]))

    def services(self):
        """The services in the order a dump lists them, as the client decodes them."""
        return [self._service_model(s) for s in self._service_order()]

    def servers(self, key):
        return [self._server_model(d) for d in self._svc(key).dests]

    def table(self):
        """[(Service, [Server])] as IpvsClient.table() would return it."""
        return [(self._service_model(s), [self._server_model(d) for d in s.dests]) for s in self._service_order()]

    def has_service(self, key):
        return self._ident(key) in self._svcs

    @property
    def timeouts(self):
        return Timeouts(self._tcp // self.hz, self._tcpfin // self.hz, self._udp // self.hz)

    @property
    def daemons(self):
        out = []
        for state, role in ((STATE_MASTER, 'master'), (STATE_BACKUP, 'backup')):
            c = self._sync.get(state)
            if c is not None:
                out.append(Daemon(role, c.ifn, c.syncid, c.maxlen, socket.inet_ntop(c.mcast_af, c.group), c.port,
                                  c.ttl))
        return out

    def laddrs(self, key):
        svc = self._svc(key)
        family = _model.FAMILY_NAMES[svc.af]
        return [LocalAddress(_addr_text(svc.af, la[0]), family, la[1], la[2]) for la in svc.laddrs]
