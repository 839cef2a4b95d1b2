# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""tests/fake_kernel.py against the real kernel: one scripted sequence of client
operations runs on both, in a fresh network namespace and on a FakeKernel set up
like it, and every step must end the same way — the same result or the same
errno and message — with the same datagrams received, byte for byte once the
sequence numbers and port ids are blanked out (listings, their order and the
way dumps are cut into datagrams included).

The kernel orders services by a hash that mixes in the address of the
namespace's IPVS state; a first step reads that salt off a listing of 256
services (one per hash bucket) and gives it to the fake, which must then list
those 256 in the same order.
"""

import errno
import os
import pickle
import struct
import sys

import pytest

from ansible_collections.lvs.ipvs.plugins.module_utils import _ipvs
from ansible_collections.lvs.ipvs.plugins.module_utils._errors import IpvsError
from ansible_collections.lvs.ipvs.plugins.module_utils._ipvs import (
    CMD_GET_DEST, CMD_GET_INFO, CMD_GET_SERVICE, CMD_NEW_LADDR, CMD_ATTR_SERVICE, IpvsClient, encode_service_key,
    op_add_server, op_add_service, op_flush,
)
from ansible_collections.lvs.ipvs.plugins.module_utils._model import (
    F_ONEPACKET, F_PERSISTENT, F_SCHED1, F_SCHED2, Daemon, make_server as R, make_service as S,
)
from ansible_collections.lvs.ipvs.plugins.module_utils._netlink import Request, attr_str, attr_u32, nested
from ansible_collections.lvs.ipvs.plugins.module_utils._netns import _setns_func, netns_path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fake_kernel import FakeKernel  # noqa: E402 pylint: disable=wrong-import-position

_HDR = struct.Struct('=IHHII')


# ---------------------------------------------------------------- recording

class Recorder:
    """Wraps a client's socket and keeps every datagram it receives."""

    def __init__(self, sock):
        self.sock = sock
        self.got = []

    def __getattr__(self, name):
        return getattr(self.sock, name)

    def recv_into(self, buf, *args):
        n = self.sock.recv_into(buf, *args)
        self.got.append(bytes(buf[:n]))
        return n

    def take(self):
        out, self.got = [normalized(d) for d in self.got], []
        return out


def normalized(datagram):
    """The messages of a datagram with seq and port id (also those of an
    NLMSG_ERROR's copy of the request header) blanked out."""
    out = []
    pos = 0
    while pos + 16 <= len(datagram):
        mlen = _HDR.unpack_from(datagram, pos)[0]
        msg = bytearray(datagram[pos:pos + max(mlen, 16)])
        struct.pack_into('=II', msg, 8, 0, 0)
        if msg[4] == 2 and len(msg) >= 36:
            struct.pack_into('=II', msg, 28, 0, 0)
        out.append(bytes(msg))
        pos += (mlen + 3) & ~3 or 16
    return out


def recorded(client):
    rec = Recorder(client.sock.sock)
    client.sock.sock = rec
    return rec


def plain(value):
    """Results made comparable: an IpvsError (which compares by identity) as (errno, message)."""
    if isinstance(value, IpvsError):
        return ('IpvsError', value.errno, str(value))
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return dict((k, plain(v)) for k, v in value.items())
    return value


def outcome(fn):
    try:
        return ('ok', plain(fn()))
    except IpvsError as e:
        return ('error', e.errno, str(e))


# ---------------------------------------------------------------- the script

WEB = S('ipv4', 'tcp', '10.0.0.1', 80, scheduler='wrr')
DNS = S('ipv4', 'udp', '10.0.0.1', 53, scheduler='rr', pe='sip')
V6 = S('ipv6', 'tcp', '2001:db8::1', 443, scheduler='wlc', flags=F_PERSISTENT, timeout=300, netmask='64')
FWM = S('ipv4', fwmark=7, scheduler='sh', flags=F_SCHED1 | F_SCHED2)
FWM6 = S('ipv6', fwmark=7, scheduler='mh')
SCTP = S('ipv4', 'sctp', '10.0.0.2', 3868, scheduler='none')
MISSING = S('ipv4', 'tcp', '10.9.9.9', 9, scheduler='rr')
BIG = S('ipv4', 'tcp', '10.0.0.3', 80, scheduler='lc')


def r(rip, **kw):
    kw.setdefault('forward', 'masq')
    return R(rip, kw.pop('rport', 80), **kw)


def calibration_table():
    return [(S('ipv4', 'tcp', '10.255.0.%d' % i, 80, scheduler='rr'), []) for i in range(256)]


def salt_of(services):
    """The first listed of calibration_table() sits in bucket 0: 6 ^ octet ^ salt ^ 80 == 0."""
    return (6 ^ 80 ^ int(services[0].vip.rsplit('.', 1)[1])) & 0xff


def two_dumps_in_one_datagram(client):
    """Two GET_SERVICE dump requests in one datagram: the second meets the first
    still running. Returns what came back: (type, which request, errno) per message."""
    gs = client.sock
    seqs = [gs._next_seq(), gs._next_seq()]
    data = b''.join(struct.pack('=IHHIIBBH', 20, gs.family_id, 0x301, seq, 0, CMD_GET_SERVICE, 1, 0) for seq in seqs)
    gs.sock.sendall(data)
    seen = []
    done = 0
    buf = bytearray(1 << 20)
    while done < 1:
        n = gs.sock.recv_into(buf)
        pos = 0
        while pos < n:
            mlen, mtype, _flags, seq, _pid = _HDR.unpack_from(buf, pos)
            err = -struct.unpack_from('=i', buf, pos + 16)[0] if mtype in (2, 3) else None
            seen.append((mtype if mtype < 16 else 'ipvs', seqs.index(seq), err))
            if mtype == 3 or (mtype == 2 and seqs.index(seq) == 0):
                done += 1
            pos += (mlen + 3) & ~3
    return seen


def script(new_client, salt_check=None):
    """Run the sequence; returns [(label, outcome, datagrams)] and the salt read off the listing."""
    c = new_client()
    other = new_client()
    rec = recorded(c)
    steps = []

    def step(label, fn):
        rec.take()
        steps.append((label, outcome(fn), rec.take()))

    step('resolve again', c.sock.resolve)
    step('family', lambda: (c.sock.version, sorted(c.sock.ops)))
    step('buffers', lambda: (c.sock.rcvbuf, c.sock.sndbuf))
    step('info', c.info)
    step('timeouts', c.timeouts)
    step('no daemons', c.daemons)
    step('empty table', c.table)

    # the hash order of 256 services, one per bucket
    step('calibration add', lambda: c.add_table(calibration_table()))
    listing = c.services()
    salt = salt_of(listing)
    if salt_check is not None:
        salt_check(salt)
    step('calibration listing', c.services)
    step('calibration flush', c.flush)

    for svc in (WEB, DNS, V6, FWM, FWM6, SCTP, BIG):
        step('add %s' % svc.text(), lambda svc=svc: c.add_service(svc))
    step('add existing', lambda: c.add_service(WEB))
    step('unknown scheduler', lambda: c.add_service(MISSING._replace(scheduler='nosuch')))
    step('twos', lambda: c.add_service(MISSING._replace(scheduler='twos')))
    step('16-char scheduler', lambda: c.add_service(MISSING._replace(scheduler='x' * 16)))
    step('unknown pe', lambda: c.add_service(MISSING._replace(pe='nope')))
    step('ipv6 prefix 0', lambda: c.add_service(V6._replace(vport=444, netmask='0')))
    step('ipv6 prefix 129', lambda: c.add_service(V6._replace(vport=444, netmask='129')))
    step('odd ipv4 netmask', lambda: c.add_service(MISSING._replace(netmask='255.0.255.0')))
    step('del odd', lambda: c.delete_service(MISSING.key))
    step('table after adds', c.table)

    step('edit onepacket by mask', lambda: c.edit_service(WEB._replace(flags=F_ONEPACKET | F_PERSISTENT, timeout=60),
                                                          mask=F_ONEPACKET))
    step('edit persistent by mask', lambda: c.edit_service(WEB._replace(flags=F_PERSISTENT, timeout=60),
                                                           mask=F_PERSISTENT))
    step('edit clear onepacket', lambda: c.edit_service(WEB._replace(flags=0, timeout=60), mask=F_ONEPACKET))
    step('edit huge timeout', lambda: c.edit_service(DNS._replace(timeout=20000000)))
    step('edit pe off, sched', lambda: c.edit_service(DNS._replace(pe=None, scheduler='wlc')))
    step('edit sched none->rr', lambda: c.edit_service(SCTP._replace(scheduler='rr')))
    step('edit unknown sched', lambda: c.edit_service(SCTP._replace(scheduler='nosuch')))
    step('edit missing', lambda: c.edit_service(MISSING))
    step('delete missing', lambda: c.delete_service(MISSING.key))
    step('zero missing', lambda: c.zero(MISSING.key))
    step('get missing', lambda: c.service(MISSING.key))
    step('get web', lambda: c.service(WEB.key))
    step('get fwm6', lambda: c.service(FWM6.key))

    k = WEB.key
    for rip, w in (('10.1.0.1', 1), ('10.1.0.2', 2), ('10.1.0.3', 3)):
        step('add %s' % rip, lambda rip=rip, w=w: c.add_server(k, r(rip, weight=w)))
    step('add existing server', lambda: c.add_server(k, r('10.1.0.1')))
    step('weight -1', lambda: c.add_server(k, r('10.1.0.4', weight=-1)))
    step('l > u', lambda: c.add_server(k, r('10.1.0.4', u_threshold=10, l_threshold=20)))
    step('u > INT_MAX', lambda: c.add_server(k, r('10.1.0.4', u_threshold=1 << 31)))
    step('gue without port', lambda: c.add_server(k, r('10.1.0.4', forward='tun', tun_type='gue')))
    step('gue', lambda: c.add_server(k, r('10.1.0.5', forward='tun', tun_type='gue', tun_port=6080, tun_csum='remcsum')))
    step('gre', lambda: c.add_server(k, r('10.1.0.6', forward='tun', tun_type='gre', tun_csum='csum')))
    step('ipip', lambda: c.add_server(k, r('10.1.0.7', forward='tun')))
    step('fnat on mainline', lambda: c.add_server(k, r('10.1.0.8', forward='fnat')))
    step('local', lambda: c.add_server(k, r('10.1.0.9', forward='local')))
    step('dr', lambda: c.add_server(k, r('10.1.0.10', forward='dr', u_threshold=100, l_threshold=50)))
    step('ipv6 in ipv4 dr', lambda: c.add_server(k, r('2001:db8::5', forward='dr')))
    step('ipv6 in ipv4 tun', lambda: c.add_server(k, r('2001:db8::5', forward='tun')))
    for rip in ('224.0.0.1', '0.0.0.0', '0.1.2.3', '255.255.255.255', '127.255.255.255'):
        step('bad dest %s' % rip, lambda rip=rip: c.add_server(k, r(rip)))
    step('loopback', lambda: c.add_server(k, r('127.0.0.1', rport=8080)))
    step('class E', lambda: c.add_server(k, r('240.0.0.1')))
    v6 = V6.key
    for rip in ('2001:db8::10', 'fe80::1', 'ff02::1', '::ffff:10.0.0.5', '::', '::1', '::10.0.0.5'):
        step('v6 dest %s' % rip, lambda rip=rip: c.add_server(v6, R(rip, 443, forward='dr')))
    step('ipv4 in ipv6 tun', lambda: c.add_server(v6, R('10.2.0.1', 443, forward='tun')))
    step('ipv4 in ipv6 masq', lambda: c.add_server(v6, R('10.2.0.2', 443, forward='masq')))
    step('fwm server', lambda: c.add_server(FWM.key, R('10.1.0.9', 0, forward='dr', weight=5)))
    step('edit weight', lambda: c.edit_server(k, r('10.1.0.2', weight=7)))
    step('edit to negative', lambda: c.edit_server(k, r('10.1.0.2', weight=-5)))
    step('edit missing server', lambda: c.edit_server(k, r('10.1.0.99')))
    step('edit mixed to dr', lambda: c.edit_server(k, r('2001:db8::5', forward='dr')))
    step('delete 10.1.0.1', lambda: c.delete_server(k, r('10.1.0.1')))
    step('delete it again', lambda: c.delete_server(k, r('10.1.0.1')))
    step('re-add 10.1.0.1', lambda: c.add_server(k, r('10.1.0.1', weight=9)))
    step('servers of web', lambda: c.servers(k))
    step('big service', lambda: c.apply([op_add_server(BIG.key, r('10.3.%d.%d' % (i // 200, i % 200 + 1), weight=i % 7))
                                         for i in range(300)]))
    step('table with servers', c.table)

    lo = 'lo'
    step('master on eth0 while mixed', lambda: c.start_daemon(Daemon('master', 'eth0', 5, None, None, None, None)))
    step('master while mixed', lambda: c.start_daemon(Daemon('master', lo, 5, None, None, None, None)))
    step('delete mixed v4', lambda: c.delete_server(k, r('2001:db8::5', forward='tun')))
    step('delete mixed v6', lambda: c.delete_server(v6, R('10.2.0.1', 443, forward='tun')))
    step('master on eth0', lambda: c.start_daemon(Daemon('master', 'eth0', 5, None, None, None, None)))
    step('master bad state', lambda: c.sock.run([Request(_ipvs.CMD_NEW_DAEMON, nested(
        _ipvs.CMD_ATTR_DAEMON, *[attr_u32(1, 3), attr_str(2, lo), attr_u32(3, 1)]))])[0].error)
    step('master', lambda: c.start_daemon(Daemon('master', lo, 5, None, None, None, None)))
    step('master again', lambda: c.start_daemon(Daemon('master', lo, 6, None, None, None, None)))
    step('master again on eth0', lambda: c.start_daemon(Daemon('master', 'eth0', 6, None, None, None, None)))
    step('bad group', lambda: c.start_daemon(Daemon('master', lo, 6, None, '10.0.0.1', None, None)))
    step('no interface', lambda: c.start_daemon(Daemon('backup', None, 6, None, None, None, None)))
    step('16-char interface', lambda: c.start_daemon(Daemon('backup', 'x' * 16, 6, None, None, None, None)))
    step('backup', lambda: c.start_daemon(Daemon('backup', lo, 7, 100, '224.0.0.82', 8849, 2)))
    step('daemons', c.daemons)
    step('mixed while syncing', lambda: c.add_server(k, r('2001:db8::6', forward='tun')))
    step('stop master', lambda: c.stop_daemon('master'))
    step('stop master again', lambda: c.stop_daemon('master'))
    step('stop backup', lambda: c.stop_daemon('backup'))
    step('master v6 group', lambda: c.start_daemon(Daemon('master', lo, 8, 9000, 'ff02::1:81', None, None)))
    step('daemons v6', c.daemons)
    step('stop master v6', lambda: c.stop_daemon('master'))
    step('backup v6 group', lambda: c.start_daemon(Daemon('backup', lo, 8, None, 'ff02::1:81', None, None)))
    step('daemons backup v6', c.daemons)
    step('stop backup v6', lambda: c.stop_daemon('backup'))
    step('master v4 group 239', lambda: c.start_daemon(Daemon('master', lo, 8, 60000, '239.1.2.3', 1, 255)))
    step('daemons master 239', c.daemons)
    step('stop master 239', lambda: c.stop_daemon('master'))
    step('backup default maxlen', lambda: c.start_daemon(Daemon('backup', lo, 9, None, None, None, None)))
    step('daemons backup', c.daemons)
    step('stop backup 2', lambda: c.stop_daemon('backup'))

    step('set tcp', lambda: c.set_timeouts(tcp=1000))
    step('set all', lambda: c.set_timeouts(10, 20, 30))
    step('set too big', lambda: c.set_timeouts(udp=8589935))
    step('set max', lambda: c.set_timeouts(udp=8589934))
    step('set negative', lambda: c.set_timeouts(tcp=1 << 31))
    step('timeouts after', c.timeouts)
    step('zero all', c.zero)
    step('zero web', lambda: c.zero(k))

    step('laddr on mainline', lambda: c.add_laddr(k, '10.0.0.100'))
    svc_nest = nested(CMD_ATTR_SERVICE, *encode_service_key(k))
    step('raw NEW_LADDR', lambda: [(x.error, x.messages) for x in c.sock.run([Request(CMD_NEW_LADDR, svc_nest)])])
    step('raw GET_INFO dump', lambda: [(x.error, x.messages) for x in c.sock.run([Request(CMD_GET_INFO, dump=True)])])
    step('raw GET_DEST doit', lambda: [(x.error, x.messages) for x in c.sock.run([Request(CMD_GET_DEST, svc_nest)])])
    step('two dumps in one datagram', lambda: two_dumps_in_one_datagram(c))

    def vanished():
        services = c.services()
        other.delete_service(DNS.key)
        return c.servers_of([s.key for s in services])
    step('service vanished between dumps', vanished)
    step('servers of a missing service', lambda: c.servers(MISSING.key))
    step('get vanished', lambda: c.service(DNS.key))
    step('writes to a vanished service', lambda: c.apply([op_add_server(DNS.key, r('10.1.0.1')), op_add_service(DNS)]))
    step('flush', c.flush)
    step('flush again', c.flush)
    step('table after flush', c.table)
    step('apply with flush', lambda: c.apply([op_add_service(WEB), op_flush(), op_add_service(WEB), op_add_service(WEB)]))
    step('final table', c.table)
    other.close()
    c.close()
    return steps, salt


def unprivileged_script(new_client):
    c = new_client()
    rec = recorded(c)
    steps = []

    def step(label, fn):
        rec.take()
        steps.append((label, outcome(fn), rec.take()))

    step('buffers', lambda: (c.sock.rcvbuf, c.sock.sndbuf))
    step('resolve', c.sock.resolve)
    step('info', c.info)
    step('timeouts', c.timeouts)
    step('services', c.services)
    step('servers', lambda: c.servers(WEB.key))
    step('daemons', c.daemons)
    step('get service', lambda: c.service(WEB.key))
    step('add service', lambda: c.add_service(WEB))
    step('apply', lambda: c.apply([op_add_service(WEB), op_flush()]))
    c.close()
    return steps


# ---------------------------------------------------------------- comparing

def compare(real, fake):
    assert [s[0] for s in real] == [s[0] for s in fake]
    problems = []
    for (label, out_r, dgrams_r), (_l, out_f, dgrams_f) in zip(real, fake):
        if out_r != out_f:
            problems.append('%s: kernel %s\n    fake   %s' % (label, _short(out_r), _short(out_f)))
        elif dgrams_r != dgrams_f:
            problems.append('%s: same result, other datagrams:\n    kernel %s\n    fake   %s'
                            % (label, _show(dgrams_r), _show(dgrams_f)))
    assert not problems, '\n'.join(problems)


def _short(out, limit=600):
    text = repr(out)
    return text if len(text) <= limit else text[:limit] + '... (%d chars)' % len(text)


def _show(dgrams):
    return [[m.hex() for m in d] if len(d) < 4 else ['%d messages, %d bytes' % (len(d), sum(map(len, d)))]
            for d in dgrams]


def in_child(netns, fn):
    """fn() in a forked child that entered netns and then dropped root; its pickled result."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            os.close(rfd)
            fd = os.open(netns_path(netns), os.O_RDONLY)
            _setns_func()(fd)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            data = pickle.dumps(('ok', fn()))
        except BaseException as e:  # pylint: disable=broad-except
            data = pickle.dumps(('crash', repr(e)))
            code = 1
        with os.fdopen(wfd, 'wb') as w:
            w.write(data)
        os._exit(code)
    os.close(wfd)
    with os.fdopen(rfd, 'rb') as rd:
        data = rd.read()
    os.waitpid(pid, 0)
    status, result = pickle.loads(data)
    assert status == 'ok', result
    return result


def test_fake_matches_kernel(netns):
    real, salt = script(lambda: IpvsClient(netns=netns.name))
    family_id = None

    def probe():
        with IpvsClient(netns=netns.name) as c:
            return c.sock.family_id
    family_id = probe()

    fake = FakeKernel(interfaces={'lo': 65536}, hash_salt=salt, family_id=family_id)

    def check_salt(s):
        assert s == salt, 'the fake listed the calibration services in another order'
    with fake.installed():
        faked, _salt = script(lambda: IpvsClient(modprobe=None), check_salt)
    compare(real, faked)


def test_fake_matches_kernel_unprivileged(netns):
    with IpvsClient(netns=netns.name) as c:
        family_id = c.sock.family_id
    real = in_child(netns.name, lambda: unprivileged_script(lambda: IpvsClient(modprobe=None)))
    fake = FakeKernel(privileged=False, interfaces={'lo': 65536}, family_id=family_id)
    with fake.installed():
        faked = unprivileged_script(lambda: IpvsClient(modprobe=None))
    compare(real, faked)
    assert any(out[0] == 'error' and out[1] == errno.EPERM for _l, out, _d in real)


if __name__ == '__main__':  # pragma: no cover
    pytest.main([__file__, '-q'])
