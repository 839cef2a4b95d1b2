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
    assert calls == [b'AAAA', b'BBBB', b'BBBB'] and (s.requests, s.datagrams, s.busy) == (3, 3, 1)
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
    s.timeout = 0.5
    with pytest.raises(IpvsError, match=r'^the kernel did not answer within 0\.5 seconds$'):
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


# ---------------------------------------------------------------- dumps(): many dumps of one command

def _dump_handler(replies):
    """Answer each dump request with replies[body](seq): a list of datagrams."""
    def handler(cmd, body, seq, flags):
        assert cmd == 8 and flags & nl.NLM_F_DUMP == nl.NLM_F_DUMP and not flags & nl.NLM_F_ACK
        return replies[body](seq)
    return handler


def _texts(buf, start, end):
    return nl.get_str(buf, *nl.parse_attrs(buf, start, end)[1])


def _data(seq, *texts):
    return b''.join(msg(FAMILY_ID, nl.NLM_F_MULTI, seq, b'\x05\x01\x00\x00' + nl.attr_str(1, t)) for t in texts)


def _done(seq, err=0):
    return msg(nl.NLMSG_DONE, nl.NLM_F_MULTI, seq, struct.pack('=i', -err))


def test_dumps_one_per_datagram_back_to_back_with_multipart_replies():
    k = FakeKernel(_dump_handler({
        b'AAAA': lambda seq: [_data(seq, 'a1', 'a2'), _data(seq, 'a3'), _done(seq)],
        b'BBBB': lambda seq: [_done(seq)],
        b'CCCC': lambda seq: [_data(seq - 1, 'stale') + _data(seq, 'c1') + _done(seq)],   # all in one datagram
    }))
    s = make_socket(k)
    results, errors = s.dumps(8, [b'AAAA', b'BBBB', b'CCCC'], [_texts] * 3)
    assert results == [['a1', 'a2', 'a3'], [], ['c1']] and errors == {}
    assert [len(d) for d in k.sent] == [1, 1, 1]
    assert [d[0][4] for d in k.sent] == [b'AAAA', b'BBBB', b'CCCC']
    assert (s.requests, s.datagrams, s.busy) == (3, 3, 0) and s.sock is k and not k.closed


def test_dumps_report_errors_per_dump_and_go_on():
    k = FakeKernel(_dump_handler({
        b'AAAA': lambda seq: [ack(seq, errno.EPERM, 'not allowed')],
        b'BBBB': lambda seq: [_data(seq, 'b1'), _done(seq, errno.EINTR)],
        b'CCCC': lambda seq: [_data(seq, 'c1'), _done(seq)],
    }))
    s = make_socket(k)
    results, errors = s.dumps(8, [b'AAAA', b'BBBB', b'CCCC'], [_texts] * 3)
    assert errors == {0: (errno.EPERM, 'not allowed'), 1: (errno.EINTR, None)}
    assert results[2] == ['c1'] and s.sock is k


def test_dumps_send_a_busy_one_again_and_give_up_if_it_stays_busy():
    calls = []

    def busy_once(seq):
        calls.append(seq)
        return [ack(seq, errno.EBUSY)] if len(calls) == 1 else [_data(seq, 'x'), _done(seq)]
    k = FakeKernel(_dump_handler({b'AAAA': busy_once}))
    s = make_socket(k)
    assert s.dumps(8, [b'AAAA'], [_texts]) == ([['x']], {})
    assert len(calls) == 2 and calls[0] != calls[1] and (s.requests, s.datagrams, s.busy) == (2, 2, 1)
    k = FakeKernel(_dump_handler({b'AAAA': lambda seq: [ack(seq, errno.EBUSY)]}))
    s = make_socket(k)
    with pytest.raises(IpvsError, match='busy'):
        s.dumps(8, [b'AAAA'], [_texts])
    assert s.sock is None and k.closed


@pytest.mark.parametrize('fault, message', [
    ('silence', 'did not answer'),
    ('enobufs', 'overflowed'),
    ('malformed', 'malformed'),
    ('overrun', 'overrun'),
    ('decoder', 'boom'),
])
def test_dumps_close_the_socket_on_any_failure(fault, message):
    def reply(seq):
        if fault == 'silence':
            return []
        if fault == 'malformed':
            return [struct.pack('=IHHII', 400, FAMILY_ID, 0, seq, 0) + b'\0' * 20]
        if fault == 'overrun':
            return [msg(nl.NLMSG_OVERRUN, 0, seq, b'')]
        return [_data(seq, 'x'), _done(seq)]
    k = FakeKernel(_dump_handler({b'AAAA': reply}))
    if fault == 'enobufs':
        k.recv_error = OSError(errno.ENOBUFS, 'No buffer space available')
    s = make_socket(k)

    def decoder(buf, start, end):
        raise ValueError('boom')
    with pytest.raises((IpvsError, ValueError), match=message):
        s.dumps(8, [b'AAAA'], [decoder if fault == 'decoder' else _texts])
    assert s.sock is None and k.closed
    with pytest.raises(IpvsError, match='closed after an earlier error'):
        s.dumps(8, [b'AAAA'], [_texts])


def test_dumps_and_run_share_sequence_numbers():
    k = FakeKernel(_dump_handler({b'AAAA': lambda seq: [_data(seq, 'a'), _done(seq)]}))
    s = make_socket(k)
    s.dumps(8, [b'AAAA', b'AAAA'], [_texts] * 2)
    s.run([nl.Request(8, b'AAAA', dump=True, decode=_texts)], barrier=False)
    seqs = [d[0][2] for d in k.sent]
    assert seqs == [101, 102, 103]


def test_dumps_hold_the_garbage_collector_and_give_it_back(monkeypatch):
    import gc
    seen = []

    def decoder(buf, start, end):
        seen.append(gc.isenabled())
        return _texts(buf, start, end)
    k = FakeKernel(_dump_handler({b'AAAA': lambda seq: [_data(seq, 'a'), _done(seq)]}))
    assert gc.isenabled()
    make_socket(k).dumps(8, [b'AAAA'], [decoder])
    assert seen == [False] and gc.isenabled()
    with pytest.raises(ValueError):
        make_socket(k).dumps(8, [b'AAAA'], [lambda *a: int('x')])
    assert gc.isenabled()
    gc.disable()
    try:
        make_socket(k).dumps(8, [b'AAAA'], [decoder])
        assert not gc.isenabled(), 'a collector that was off is left off'
    finally:
        gc.enable()


def test_the_kernel_times_out_receives_so_that_no_poll_precedes_each_call():
    """A real generic netlink socket (no IPVS needed): Python's own timeout is
    off, SO_RCVTIMEO is set, and a receive that gets nothing ends as a timeout.
    A default timeout set for the whole process (socket.setdefaulttimeout,
    which new sockets start with) is switched off too."""
    import time
    saved = socket.getdefaulttimeout()
    socket.setdefaulttimeout(7.0)
    try:
        s = nl.GenlSocket('nlctrl', nl.CTRL_CMD_GETFAMILY, timeout=0.25)
    finally:
        socket.setdefaulttimeout(saved)
    try:
        assert s.sock.gettimeout() is None
        sec, usec = struct.unpack('@ll', s.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, 16))
        assert 0.2 <= sec + usec / 1e6 <= 0.3
        t0 = time.monotonic()
        with pytest.raises(OSError) as e:
            s.sock.recv_into(s.buf)
        assert 0.2 <= time.monotonic() - t0 < 5
        assert str(s._recv_error(e.value)) == 'the kernel did not answer within 0.25 seconds'
        assert s.resolve() and s.family_id == nl.GENL_ID_CTRL     # and requests still work
    finally:
        s.close()
