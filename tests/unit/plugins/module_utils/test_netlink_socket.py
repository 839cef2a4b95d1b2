# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pipelining, barriers, dump retries and error paths of GenlSocket, against a
scripted stand-in for the kernel (the real one is exercised in the VM)."""

import errno
import socket
import struct

import pytest

from ansible_collections.lvs.ipvs.plugins.module_utils import _netlink as nl
from ansible_collections.lvs.ipvs.plugins.module_utils._errors import IpvsError

FAMILY_ID = 0x22
BARRIER = 15


def parse_sent(data):
    out = []
    pos = 0
    while pos < len(data):
        mlen, mtype, flags, seq, _pid = struct.unpack_from('=IHHII', data, pos)
        cmd = data[pos + 16]
        out.append((mtype, flags, seq, cmd, bytes(data[pos + 20:pos + mlen])))
        pos += (mlen + 3) & ~3
    return out


def msg(mtype, flags, seq, payload):
    return struct.pack('=IHHII', 16 + len(payload), mtype, flags, seq, 0) + payload


def ack(seq, err=0, text=None):
    payload = struct.pack('=i', -err) + struct.pack('=IHHII', 20, FAMILY_ID, 0, seq, 0)
    flags = nl.NLM_F_CAPPED
    if text:
        payload += nl.attr_str(nl.NLMSGERR_ATTR_MSG, text)
        flags |= nl.NLM_F_ACK_TLVS
    return msg(nl.NLMSG_ERROR, flags, seq, payload)


class FakeKernel:
    """Answers each datagram with scripted datagrams; `handler(cmd, body, seq,
    flags)` returns a list of datagrams (bytes) for one request."""

    def __init__(self, handler):
        self.handler = handler
        self.queue = []
        self.sent = []
        self.recv_error = None
        self.closed = False

    def close(self):
        self.closed = True

    def sendall(self, data):
        reqs = parse_sent(data)
        self.sent.append(reqs)
        for mtype, flags, seq, cmd, body in reqs:
            assert mtype == FAMILY_ID
            if cmd == BARRIER and not body:
                self.queue.append(msg(FAMILY_ID, 0, seq, b'\x0f\x01\x00\x00'))
                self.queue.append(ack(seq))
                continue
            self.queue.extend(self.handler(cmd, body, seq, flags))

    def recv_into(self, buf):
        if self.recv_error:
            raise self.recv_error
        if not self.queue:
            raise socket.timeout()
        data = self.queue.pop(0)
        buf[:len(data)] = data
        return len(data)


def make_socket(kernel, rcvbuf=1 << 20):
    s = object.__new__(nl.GenlSocket)
    s.sock = kernel
    s.family_name = 'IPVS'
    s.barrier_cmd = BARRIER
    s.timeout = 1.0
    s.rcvbuf = rcvbuf
    s.sndbuf = 4 << 20
    s.seq = 100
    s.buf = bytearray(nl.RECV_SIZE)
    s.family_id = FAMILY_ID
    s.version = 1
    s.ops = frozenset()
    return s


def test_writes_are_pipelined_and_only_errors_come_back():
    def handler(cmd, body, seq, flags):
        assert not flags & nl.NLM_F_ACK, 'writes must not ask for one ACK each'
        return [ack(seq, errno.EEXIST, 'already there')] if body == b'bad!' else []
    k = FakeKernel(handler)
    s = make_socket(k)
    replies = s.run([nl.Request(5, b'ok1!'), nl.Request(5, b'bad!'), nl.Request(5, b'ok2!')])
    assert [r.error for r in replies] == [0, errno.EEXIST, 0]
    assert replies[1].ext_msg == 'already there'
    assert len(k.sent) == 1 and len(k.sent[0]) == 4   # one datagram: three requests and the barrier
    assert k.sent[0][-1][3] == BARRIER and k.sent[0][-1][1] & nl.NLM_F_ACK


def test_dumps_go_one_at_a_time_collect_multipart_replies_and_busy_ones_are_retried():
    calls = []

    def handler(cmd, body, seq, flags):
        assert flags & nl.NLM_F_DUMP == nl.NLM_F_DUMP
        calls.append(body)
        if body == b'BBBB' and calls.count(b'BBBB') == 1:
            return [ack(seq, errno.EBUSY)]
        part = nl.attr_str(1, body.decode())
        return [msg(FAMILY_ID, nl.NLM_F_MULTI, seq, b'\x08\x01\x00\x00' + part) * 2
                + msg(nl.NLMSG_DONE, nl.NLM_F_MULTI, seq, b'\0\0\0\0')]
    k = FakeKernel(handler)
    s = make_socket(k)

    def decode(buf, start, end):
        return nl.get_str(buf, *nl.parse_attrs(buf, start, end)[1])
    replies = s.run([nl.Request(8, b'AAAA', dump=True, decode=decode),
                     nl.Request(8, b'BBBB', dump=True, decode=decode)], barrier=False)
    assert [r.messages for r in replies] == [['AAAA', 'AAAA'], ['BBBB', 'BBBB']]
    assert calls == [b'AAAA', b'BBBB', b'BBBB']
    # One dump per datagram: the kernel refuses a second dump while one is unread.
    assert [len(d) for d in k.sent] == [1, 1, 1]


def test_a_dump_that_stays_busy_ends_in_an_error_not_a_loop():
    k = FakeKernel(lambda cmd, body, seq, flags: [ack(seq, errno.EBUSY)])
    s = make_socket(k)
    with pytest.raises(IpvsError, match='busy'):
        s.run([nl.Request(8, b'AAAA', dump=True)], barrier=False)


def test_overflow_is_a_clear_error():
    k = FakeKernel(lambda *a: [])
    k.recv_error = OSError(errno.ENOBUFS, 'No buffer space available')
    with pytest.raises(IpvsError, match='overflowed'):
        make_socket(k).run([nl.Request(5, b'xxxx')])


def test_silence_is_a_timeout_error():
    k = FakeKernel(lambda *a: [])
    s = make_socket(k)
    with pytest.raises(IpvsError, match='did not answer'):
        s.run([nl.Request(5, b'xxxx')], barrier=False)


def test_large_batches_are_split_to_fit_the_receive_buffer():
    k = FakeKernel(lambda *a: [])
    s = make_socket(k, rcvbuf=64 << 10)
    replies = s.run([nl.Request(5, b'x' * 40)] * 200)
    assert all(r.error == 0 for r in replies)
    per_datagram = [len(d) - 1 for d in k.sent]
    assert sum(per_datagram) == 200 and max(per_datagram) <= nl.MIN_BUDGET // nl.COST_WRITE
    assert len(k.sent) > 1


def test_sequence_numbers_tie_replies_to_requests():
    def handler(cmd, body, seq, flags):
        return [msg(FAMILY_ID, 0, seq, b'\x04\x01\x00\x00' + body), ack(seq)]
    k = FakeKernel(handler)
    s = make_socket(k)
    replies = s.run([nl.Request(4, b'one!'), nl.Request(4, b'two!')], barrier=False)
    assert [r.messages for r in replies] == [[b'one!'], [b'two!']]
    seqs = [r[2] for r in k.sent[0]]
    assert len(set(seqs)) == 2
