# -*- coding: utf-8 -*-
# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This is a private module_util of lvs.ipvs: it may change without notice.
"""Generic netlink: attribute codec and a pipelining socket.

Only this module and _ipvs.py know netlink. Requests are written many per
sendmsg(); successful writes are not acknowledged one by one (that would cost a
datagram and a recv per object) but closed by one acknowledged barrier request:
the kernel handles a datagram's messages in order, so once the barrier's ACK
has arrived every earlier request has either succeeded silently or produced its
own error message.

Dumps cannot be pipelined that way: a socket holds one dump at a time, and the
kernel finishes a dump only when its first reply has been read (until then any
further dump request gets EBUSY). So each dump goes out on its own; dumps()
sends many dumps of one command that way with little Python around each.
"""

from __future__ import absolute_import, division, print_function

import contextlib
import errno
import gc
import os
import socket
import struct

from ansible_collections.lvs.ipvs.plugins.module_utils._errors import IpvsError

__metaclass__ = type

NETLINK_GENERIC = 16
SOL_NETLINK = 270
NETLINK_CAP_ACK = 10
NETLINK_EXT_ACK = 11
SO_SNDBUFFORCE = 32
SO_RCVBUFFORCE = 33

NLM_F_REQUEST = 0x1
NLM_F_MULTI = 0x2
NLM_F_ACK = 0x4
NLM_F_DUMP = 0x300
NLM_F_CAPPED = 0x100
NLM_F_ACK_TLVS = 0x200

NLMSG_NOOP = 1
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLMSG_OVERRUN = 4
NLMSGERR_ATTR_MSG = 1

NLA_F_NESTED = 0x8000
NLA_TYPE_MASK = 0x3fff

GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
CTRL_ATTR_VERSION = 3
CTRL_ATTR_OPS = 6
CTRL_ATTR_OP_ID = 1

NLMSGHDR = struct.Struct('=IHHII')      # len, type, flags, seq, pid
GENLHDR = struct.Struct('=BBH')         # cmd, version, reserved
MSGHDR = struct.Struct('=IHHIIBBH')     # both, packed in one call
NLAHDR = struct.Struct('=HH')
ATTR_U8 = struct.Struct('=HHB3x')
ATTR_U16 = struct.Struct('=HHH2x')
ATTR_U32 = struct.Struct('=HHI')
ATTR_U64 = struct.Struct('=HHQ')
ATTR_BE16 = struct.Struct('=HH2s2x')
_I32 = struct.Struct('=i')
_U16 = struct.Struct('=H')
_U32 = struct.Struct('=I')
_TIMEVAL = struct.Struct('@ll')          # struct timeval of SO_RCVTIMEO / SO_SNDTIMEO

RECV_SIZE = 1 << 20
# Receive-queue accounting is by skb truesize, not payload: an error reply to a
# write costs about 1 KiB of it, so a datagram carries at most budget/COST_WRITE.
COST_WRITE = 1 << 10
MIN_BUDGET = 1 << 16
MAX_BATCH_BYTES = 1 << 19
PAUSE_GC = True         # dumps() holds the cyclic garbage collector while it decodes


@contextlib.contextmanager
def gc_paused():
    """Hold the cyclic garbage collector (unless PAUSE_GC is off) while many
    small acyclic objects are made: it would run every few hundred of them and
    walk all older objects now and then, and find nothing."""
    paused = PAUSE_GC and gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


# ---------------------------------------------------------------- attributes

def attr(atype, payload):
    """One attribute with arbitrary payload, padded to 4 bytes."""
    n = 4 + len(payload)
    return NLAHDR.pack(n, atype) + payload + b'\0' * (-n & 3)


def attr_u8(atype, value):
    return ATTR_U8.pack(5, atype, value)


def attr_u16(atype, value):
    return ATTR_U16.pack(6, atype, value)


def attr_u32(atype, value):
    return ATTR_U32.pack(8, atype, value)


def attr_u64(atype, value):
    return ATTR_U64.pack(12, atype, value)


def attr_be16(atype, value):
    return ATTR_BE16.pack(6, atype, struct.pack('>H', value))


def attr_str(atype, value):
    return attr(atype, value.encode('ascii') + b'\0')


def nested(atype, *parts):
    body = b''.join(parts)
    return NLAHDR.pack(4 + len(body), atype | NLA_F_NESTED) + body


def parse_attrs(buf, start, end):
    """Map attribute type -> (offset, length) of its payload in buf[start:end]."""
    out = {}
    unpack = NLAHDR.unpack_from
    pos = start
    while pos + 4 <= end:
        alen, atype = unpack(buf, pos)
        if alen < 4:
            break
        out[atype & NLA_TYPE_MASK] = (pos + 4, alen - 4)
        pos += (alen + 3) & ~3
    return out


def parse_list(buf, start, end):
    """Attributes in order, for nests whose entries repeat the same type."""
    out = []
    pos = start
    while pos + 4 <= end:
        alen, atype = NLAHDR.unpack_from(buf, pos)
        if alen < 4:
            break
        out.append((atype & NLA_TYPE_MASK, pos + 4, alen - 4))
        pos += (alen + 3) & ~3
    return out


def get_uint(buf, off, length):
    """u8/u16/u32/u64 in host order, chosen by the payload length."""
    if length == 4:
        return _U32.unpack_from(buf, off)[0]
    if length == 8:
        return struct.unpack_from('=Q', buf, off)[0]
    if length == 2:
        return _U16.unpack_from(buf, off)[0]
    if length == 1:
        return buf[off]
    raise ValueError("unexpected integer attribute length %d" % length)


def get_str(buf, off, length):
    raw = bytes(buf[off:off + length])
    return raw.split(b'\0', 1)[0].decode('ascii', 'replace')


# ---------------------------------------------------------------- results

class Reply:
    """What the kernel said to one request: an errno (0 = fine), the
    extended-ack text if any, and the decoded payload messages."""

    __slots__ = ('error', 'ext_msg', 'messages')

    def __init__(self):
        self.error = 0
        self.ext_msg = None
        self.messages = []


class Request:
    """One generic netlink request: command, attribute bytes, and whether it
    is a dump. `decode(buf, start, end)` turns each reply payload (the
    attributes after the genl header) into a Python object."""

    __slots__ = ('cmd', 'body', 'dump', 'decode')

    def __init__(self, cmd, body=b'', dump=False, decode=None):
        self.cmd = cmd
        self.body = body
        self.dump = dump
        self.decode = decode


# ---------------------------------------------------------------- socket

class GenlSocket:
    """A generic netlink socket speaking to one family."""

    requests = 0  # requests sent so far, barriers not counted
    datagrams = 0  # datagrams sent so far
    busy = 0      # dump requests the kernel refused with EBUSY (and that were sent again)

    def __init__(self, family_name, barrier_cmd, timeout=10.0, rcvbuf=32 << 20, sndbuf=4 << 20):
        self.family_name = family_name
        self.barrier_cmd = barrier_cmd  # a cheap non-dump command of the family
        self.timeout = timeout
        self.sock = None
        try:
            self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
            self._size_buffers(rcvbuf, sndbuf)
            for opt in (NETLINK_CAP_ACK, NETLINK_EXT_ACK):
                try:
                    self.sock.setsockopt(SOL_NETLINK, opt, 1)
                except OSError:
                    pass  # old kernels: errors then carry the whole request, still parsed fine
            self.sock.bind((0, 0))
            self._set_timeout(timeout)
            self.port_id = self.sock.getsockname()[0]
        except OSError as e:
            self.close()
            raise IpvsError("cannot open a generic netlink socket: %s" % (e.strerror or e), errno=e.errno)
        self.seq = int.from_bytes(os.urandom(3), 'little') + 1
        self.buf = bytearray(RECV_SIZE)
        self.family_id = None
        self.version = 1
        self.ops = frozenset()

    def _size_buffers(self, rcvbuf, sndbuf):
        for force, plain, size in ((SO_RCVBUFFORCE, socket.SO_RCVBUF, rcvbuf),
                                   (SO_SNDBUFFORCE, socket.SO_SNDBUF, sndbuf)):
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, force, size)
            except OSError:
                self.sock.setsockopt(socket.SOL_SOCKET, plain, size)
        # The kernel reports double the usable size.
        self.rcvbuf = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) // 2
        self.sndbuf = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) // 2

    def _set_timeout(self, timeout):
        """Time out sends and receives in the kernel (SO_SNDTIMEO, SO_RCVTIMEO) on
        a blocking socket: Python's own timeout would poll() before every send
        and every recv, doubling the system calls of a dump. Where the kernel's
        timeouts cannot be set, Python's."""
        if timeout is not None and timeout > 0:
            tv = _TIMEVAL.pack(int(timeout), int(timeout % 1 * 1000000))
            try:
                for opt in (socket.SO_SNDTIMEO, socket.SO_RCVTIMEO):
                    self.sock.setsockopt(socket.SOL_SOCKET, opt, tv)
                got = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, len(tv))
                if isinstance(got, bytes) and len(got) == len(tv) and any(_TIMEVAL.unpack(got)):
                    self.sock.settimeout(None)
                    return
            except (AttributeError, OSError, TypeError, ValueError, struct.error):
                pass
        self.sock.settimeout(timeout)

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    # -- family resolution

    def resolve(self):
        """Look up the family id, version and the commands it offers.

        Returns False when the family is not registered (module not loaded).
        """
        req = Request(CTRL_CMD_GETFAMILY, attr_str(CTRL_ATTR_FAMILY_NAME, self.family_name),
                      decode=self._decode_family)
        reply = self.run([req], msg_type=GENL_ID_CTRL, barrier=False)[0]
        if reply.error == errno.ENOENT:
            return False
        if reply.error:
            raise IpvsError("cannot resolve generic netlink family %s: %s"
                            % (self.family_name, os.strerror(reply.error)), errno=reply.error)
        self.family_id, self.version, self.ops = reply.messages[0]
        return True

    @staticmethod
    def _decode_family(buf, start, end):
        a = parse_attrs(buf, start, end)
        fid = get_uint(buf, *a[CTRL_ATTR_FAMILY_ID])
        version = get_uint(buf, *a[CTRL_ATTR_VERSION]) if CTRL_ATTR_VERSION in a else 1
        ops = set()
        if CTRL_ATTR_OPS in a:
            off, length = a[CTRL_ATTR_OPS]
            for _t, o, n in parse_list(buf, off, off + length):
                op = parse_attrs(buf, o, o + n)
                if CTRL_ATTR_OP_ID in op:
                    ops.add(get_uint(buf, *op[CTRL_ATTR_OP_ID]))
        return fid, version, frozenset(ops)

    # -- requests

    def run(self, requests, msg_type=None, barrier=True):
        """Send `requests`, many per datagram, and return one Reply each.

        Writes get no ACK of their own; `barrier` closes each datagram with an
        acknowledged request so their silence can be read as success. Dumps
        are sent one per datagram; one the kernel still refuses with EBUSY is
        sent again in a next round.
        """
        if self.sock is None:
            raise IpvsError("the netlink socket was closed after an earlier error")
        if msg_type is None:
            msg_type = self.family_id
        replies = [Reply() for _request in requests]
        todo = list(range(len(requests)))
        rounds = 0
        try:
            while todo:
                rounds += 1
                if rounds > len(requests) + 2:
                    raise IpvsError("the kernel kept refusing netlink dump requests as busy")
                retry = []
                for chunk in self._chunks(requests, todo):
                    retry.extend(self._run_chunk(requests, chunk, replies, msg_type, barrier))
                todo = retry
        except BaseException:
            # Unread replies or a dump still running would be read as answers to
            # the next requests: a socket that failed mid-exchange is not reused.
            self.close()
            raise
        return replies

    def _chunks(self, requests, todo):
        budget = max(self.rcvbuf // 2, MIN_BUDGET)
        chunk, cost, size = [], 0, 0
        for i in todo:
            r = requests[i]
            if r.dump:
                if chunk:
                    yield chunk
                    chunk, cost, size = [], 0, 0
                yield [i]
                continue
            n = len(r.body) + 20
            if chunk and (cost + COST_WRITE > budget or size + n > min(MAX_BATCH_BYTES, self.sndbuf - 4096)):
                yield chunk
                chunk, cost, size = [], 0, 0
            chunk.append(i)
            cost += COST_WRITE
            size += n
        if chunk:
            yield chunk

    def _next_seq(self):
        self.seq = (self.seq + 1) & 0xffffffff or 1
        return self.seq

    def _run_chunk(self, requests, chunk, replies, msg_type, barrier):
        parts = []
        pending = {}
        dumps = {}
        pack = MSGHDR.pack
        for i in chunk:
            r = requests[i]
            seq = self._next_seq()
            pending[seq] = i
            if r.dump:
                flags = NLM_F_REQUEST | NLM_F_DUMP
                dumps[seq] = i
            elif barrier:
                flags = NLM_F_REQUEST
            else:
                flags = NLM_F_REQUEST | NLM_F_ACK
            parts.append(pack(20 + len(r.body), msg_type, flags, seq, 0, r.cmd, self.version, 0))
            parts.append(r.body)
        last_seq = None
        if barrier and not dumps:
            last_seq = self._next_seq()
            parts.append(pack(20, msg_type, NLM_F_REQUEST | NLM_F_ACK, last_seq, 0,
                              self.barrier_cmd, self.version, 0))
        self.requests += len(chunk)
        self.datagrams += 1
        try:
            self.sock.sendall(b''.join(parts))
        except OSError as e:
            raise IpvsError("sending to the kernel failed: %s" % e.strerror, errno=e.errno)
        return self._collect(requests, pending, dumps, replies, last_seq)

    def _recv_error(self, e):
        """The IpvsError for an OSError of recv(): a timeout is EAGAIN with the
        kernel's timeout, socket.timeout with Python's."""
        if isinstance(e, socket.timeout) or e.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
            return IpvsError("the kernel did not answer within %g seconds" % self.timeout)
        if e.errno == errno.ENOBUFS:
            return IpvsError("the kernel's replies overflowed the socket's receive buffer "
                             "(%d bytes); some results were lost" % self.rcvbuf, errno=e.errno)
        return IpvsError("receiving from the kernel failed: %s" % e.strerror, errno=e.errno)

    def dumps(self, cmd, bodies, decoders):
        """One dump of `cmd` per body, back to back: what run() does for a list
        of dump requests, without its per-request objects.

        `decoders[i]` decodes the messages of dump i. One that has a `many`
        attribute, many(buf, n, seq, family_id, out), is first handed each
        datagram of n bytes: it appends what it makes of the messages of dump
        `seq` at its start to `out`, and returns where it stopped; the rest of
        the datagram is read message by message. Returns (results, errors):
        results[i] is the list of decoded messages of dump i, errors maps i to
        (errno, extended-ack text) for the dumps the kernel refused. A dump
        refused with EBUSY is sent again. Each dump costs one send and two
        receives (the kernel puts NLMSG_DONE in a datagram of its own).
        """
        sock = self.sock
        if sock is None:
            raise IpvsError("the netlink socket was closed after an earlier error")
        buf = self.buf
        recv_into = sock.recv_into
        sendall = sock.sendall
        unpack_hdr = NLMSGHDR.unpack_from
        head = MSGHDR.pack
        fam = self.family_id
        version = self.version
        flags = NLM_F_REQUEST | NLM_F_DUMP
        ebusy = errno.EBUSY
        seq = self.seq
        sent = 0
        results = []
        errors = {}
        # What is decoded here is many small acyclic objects: the cyclic garbage
        # collector, which would run every few hundred of them and walk all
        # older objects now and then, has nothing to find among them.
        paused = PAUSE_GC and gc.isenabled()
        if paused:
            gc.disable()
        try:
            for i, (body, decode) in enumerate(zip(bodies, decoders)):
                many = getattr(decode, 'many', None)
                refused = 0
                while True:
                    seq = (seq + 1) & 0xffffffff or 1
                    sent += 1
                    try:
                        sendall(head(20 + len(body), fam, flags, seq, 0, cmd, version, 0) + body)
                    except OSError as e:
                        raise IpvsError("sending to the kernel failed: %s" % e.strerror, errno=e.errno)
                    msgs = []
                    err = None      # None: the dump is still running
                    while err is None:
                        try:
                            n = recv_into(buf)
                        except OSError as e:
                            raise self._recv_error(e)
                        pos = many(buf, n, seq, fam, msgs) if many is not None else 0
                        while pos + 16 <= n:
                            mlen, mtype, mflags, mseq, _pid = unpack_hdr(buf, pos)
                            if mlen < 16 or pos + mlen > n:
                                raise IpvsError("malformed netlink message from the kernel")
                            if mseq == seq and err is None:
                                if mtype == fam:
                                    msgs.append(decode(buf, pos + 20, pos + mlen))
                                elif mtype == NLMSG_DONE:
                                    err = -_I32.unpack_from(buf, pos + 16)[0] if mlen >= 20 else 0
                                    if err:
                                        errors[i] = (err, None)
                                elif mtype == NLMSG_ERROR:
                                    err = -_I32.unpack_from(buf, pos + 16)[0]
                                    if err and err != ebusy:
                                        errors[i] = (err, _ext_ack_msg(buf, pos, mflags, pos + mlen))
                                elif mtype == NLMSG_OVERRUN:
                                    raise IpvsError("netlink reported a data overrun")
                                elif mtype != NLMSG_NOOP:
                                    msgs.append(decode(buf, pos + 20, pos + mlen))
                            pos += (mlen + 3) & ~3
                    if err != ebusy:
                        break
                    self.busy += 1
                    refused += 1
                    if refused > 2:
                        raise IpvsError("the kernel kept refusing netlink dump requests as busy")
                results.append(msgs)
        except BaseException:
            self.close()   # as in run(): a socket that failed mid-exchange is not reused
            raise
        finally:
            self.seq = seq
            self.requests += sent
            self.datagrams += sent
            if paused:
                gc.enable()
        return results, errors

    def _collect(self, requests, pending, dumps, replies, last_seq):
        """Read until every request of the datagram is answered."""
        busy = []
        open_writes = set(seq for seq in pending if seq not in dumps)
        open_dumps = set(dumps)
        waiting_barrier = last_seq is not None
        buf = self.buf
        unpack_hdr = NLMSGHDR.unpack_from
        while open_dumps or waiting_barrier or (open_writes and last_seq is None):
            try:
                n = self.sock.recv_into(buf)
            except OSError as e:
                raise self._recv_error(e)
            pos = 0
            while pos + 16 <= n:
                mlen, mtype, mflags, seq, _pid = unpack_hdr(buf, pos)
                if mlen < 16 or pos + mlen > n:
                    raise IpvsError("malformed netlink message from the kernel")
                end = pos + mlen
                if seq == last_seq:
                    # The barrier's own answer does not matter, only that it came:
                    # every request before it has answered by then. (Refused, as
                    # without CAP_NET_ADMIN, each request has its own error too.)
                    if mtype == NLMSG_ERROR:
                        waiting_barrier = False
                elif seq in pending:
                    i = pending[seq]
                    reply = replies[i]
                    if mtype == NLMSG_ERROR:
                        err = -_I32.unpack_from(buf, pos + 16)[0]
                        if err == errno.EBUSY and seq in open_dumps:
                            busy.append(i)
                            self.busy += 1
                        elif err:
                            reply.error = err
                            reply.ext_msg = _ext_ack_msg(buf, pos, mflags, end)
                        open_writes.discard(seq)
                        open_dumps.discard(seq)
                    elif mtype == NLMSG_DONE:
                        open_dumps.discard(seq)
                        if mlen >= 20:
                            err = -_I32.unpack_from(buf, pos + 16)[0]
                            if err:
                                reply.error = err
                    elif mtype == NLMSG_OVERRUN:
                        raise IpvsError("netlink reported a data overrun")
                    elif mtype != NLMSG_NOOP:
                        decode = requests[i].decode
                        reply.messages.append(decode(buf, pos + 20, end) if decode else bytes(buf[pos + 20:end]))
                pos += (mlen + 3) & ~3
        return busy


def _ext_ack_msg(buf, pos, flags, end):
    """The kernel's extended-ack text of an error message, if it sent one."""
    if not flags & NLM_F_ACK_TLVS:
        return None
    orig_len = NLMSGHDR.unpack_from(buf, pos + 20)[0]
    tlv = pos + 20 + (16 if flags & NLM_F_CAPPED else ((orig_len + 3) & ~3))
    a = parse_attrs(buf, tlv, end)
    if NLMSGERR_ATTR_MSG in a:
        return get_str(buf, *a[NLMSGERR_ATTR_MSG])
    return None
