# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fake IPVS kernel (tests/fake_kernel.py) behaves as specified, seen
through the real IpvsClient: listing order, errnos, privileges, the one-dump-
per-socket rule, receive-buffer overflow, hooks and counters. That it behaves
like the real kernel is tests/integration/test_fake_matches_kernel.py's job."""

import errno
import os
import struct
import sys

import pytest

from ansible_collections.lvs.ipvs.plugins.module_utils import _netlink
from ansible_collections.lvs.ipvs.plugins.module_utils._errors import IpvsError
from ansible_collections.lvs.ipvs.plugins.module_utils._ipvs import (
    CMD_GET_SERVICE, IpvsClient, op_add_server, op_add_service, op_delete_service, op_flush,
)
from ansible_collections.lvs.ipvs.plugins.module_utils._model import (
    F_ONEPACKET, F_PERSISTENT, F_SCHED1, Daemon, Rates, Stats, Timeouts, make_server, make_service,
)

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import fake_kernel  # noqa: E402 pylint: disable=wrong-import-position
from fake_kernel import FakeKernel  # noqa: E402 pylint: disable=wrong-import-position

WEB = make_service('ipv4', 'tcp', '192.0.2.10', 80, scheduler='wrr')
DNS = make_service('ipv4', 'udp', '192.0.2.10', 53, scheduler='rr')
FWM = make_service('ipv6', fwmark=3, scheduler='sh')


def srv(rip, **kw):
    kw.setdefault('forward', 'masq')
    return make_server(rip, kw.pop('rport', 80), **kw)


@pytest.fixture
def fake(monkeypatch):
    return FakeKernel().install(monkeypatch)


@pytest.fixture
def client(fake):
    c = IpvsClient(modprobe=fake.modprobe)
    yield c
    c.close()


def test_socket_level_install(fake):
    """_netlink gets a stand-in socket module: generic netlink is fake, the rest real."""
    mod = _netlink.socket
    assert mod.AF_NETLINK == 16 and mod.SOL_SOCKET and mod.timeout is __import__('socket').timeout
    s = mod.socket(mod.AF_NETLINK, mod.SOCK_RAW, 16)
    assert isinstance(s, fake_kernel.FakeSocket)
    s.close()
    real = mod.socket(mod.AF_INET, mod.SOCK_DGRAM)
    assert not isinstance(real, fake_kernel.FakeSocket)
    real.close()
    with pytest.raises(OSError):
        mod.socket(mod.AF_NETLINK, mod.SOCK_RAW, 0)


def test_buffers_are_doubled_and_force_needs_privilege(monkeypatch):
    fake = FakeKernel().install(monkeypatch)
    with IpvsClient(modprobe=fake.modprobe) as c:
        assert (c.sock.rcvbuf, c.sock.sndbuf) == (32 << 20, 4 << 20)
        assert fake.sockets[0].getsockopt(__import__('socket').SOL_SOCKET, __import__('socket').SO_RCVBUF) == 64 << 20
    weak = FakeKernel(privileged=False).install(monkeypatch)
    with IpvsClient(modprobe=fake.modprobe) as c:
        assert (c.sock.rcvbuf, c.sock.sndbuf) == (weak.rmem_max, weak.wmem_max)


def test_table_matches_the_clients_reading(client, fake):
    client.add_service(WEB)
    client.add_service(FWM)
    client.add_server(WEB.key, srv('10.0.0.1', weight=2))
    client.add_server(WEB.key, srv('10.0.0.2', forward='tun', tun_type='gue', tun_port=6080, tun_csum='csum'))
    client.add_server(FWM.key, make_server('2001:db8::7', 0, forward='dr'))
    assert fake.table() == client.table()
    assert [s.key for s, _servers in fake.table()] == [WEB.key, FWM.key]  # fwmark services come last


def test_servers_are_listed_newest_first(client, fake):
    client.add_service(WEB)
    for i in range(1, 5):
        client.add_server(WEB.key, srv('10.0.0.%d' % i))
    client.edit_server(WEB.key, srv('10.0.0.2', weight=9))      # an edit does not move it
    client.delete_server(WEB.key, srv('10.0.0.3'))
    client.add_server(WEB.key, srv('10.0.0.3'))                   # back at the head
    assert [s.rip for s in client.servers(WEB.key)] == ['10.0.0.3', '10.0.0.4', '10.0.0.2', '10.0.0.1']
    assert [s.rip for s in fake.servers(WEB.key)] == ['10.0.0.3', '10.0.0.4', '10.0.0.2', '10.0.0.1']


def test_services_follow_the_kernels_hash_order(monkeypatch):
    """Bucket (protocol ^ last octet ^ salt ^ port>>8 ^ port) & 255, newest first in a bucket."""
    for salt in (0, 0x5a):
        fake = FakeKernel(hash_salt=salt).install(monkeypatch)
        table = [(make_service('ipv4', 'tcp', '10.0.0.%d' % i, 80, scheduler='rr'), []) for i in range(256)]
        fake.load(table)
        first = fake.services()[0]
        assert (6 ^ int(first.vip.rsplit('.', 1)[1]) ^ salt ^ 80) & 0xff == 0
        with IpvsClient(modprobe=fake.modprobe) as c:
            assert c.services() == fake.services()
    fake = FakeKernel().install(monkeypatch)
    same_bucket = [make_service('ipv4', 'tcp', '10.0.0.1', 80), make_service('ipv4', 'tcp', '10.0.1.1', 80)]
    for s in same_bucket:
        fake.add_service(s)
    assert [s.vip for s in fake.services()] == ['10.0.1.1', '10.0.0.1']


def test_flags_follow_the_mask(client, fake):
    client.add_service(WEB._replace(flags=F_PERSISTENT, timeout=300))
    client.edit_service(WEB._replace(flags=F_ONEPACKET, timeout=300), mask=F_ONEPACKET)
    assert fake.services()[0].flags == F_PERSISTENT | F_ONEPACKET
    client.edit_service(WEB._replace(flags=0, timeout=300), mask=F_PERSISTENT)
    assert client.service(WEB.key).flags == F_ONEPACKET
    # HASHED (0x2) is set in what the kernel sends
    raw = client.sock.run([_netlink.Request(CMD_GET_SERVICE, _netlink.nested(1, *__import__(
        'ansible_collections.lvs.ipvs.plugins.module_utils._ipvs', fromlist=['x']).encode_service_key(WEB.key)))])
    payload = raw[0].messages[0]
    top = _netlink.parse_attrs(payload, 0, len(payload))
    off, n = top[1]
    inner = _netlink.parse_attrs(payload, off, off + n)
    assert struct.unpack_from('=II', payload, inner[7][0]) == (F_ONEPACKET | 0x2, 0xffffffff)


@pytest.mark.parametrize('change, err', [
    (lambda c: c.add_service(WEB), errno.EEXIST),
    (lambda c: c.add_service(DNS._replace(scheduler='twos')), errno.ENOENT),
    (lambda c: c.add_service(DNS._replace(pe='nope')), errno.ENOENT),
    (lambda c: c.edit_service(DNS), errno.ESRCH),
    (lambda c: c.delete_service(DNS.key), errno.ESRCH),
    (lambda c: c.zero(DNS.key), errno.ESRCH),
    (lambda c: c.add_server(DNS.key, srv('10.0.0.1')), errno.ESRCH),
    (lambda c: c.add_server(WEB.key, srv('10.0.0.1')), errno.EEXIST),
    (lambda c: c.add_server(WEB.key, srv('10.0.0.2', weight=-1)), errno.ERANGE),
    (lambda c: c.add_server(WEB.key, srv('10.0.0.2', u_threshold=5, l_threshold=6)), errno.ERANGE),
    (lambda c: c.add_server(WEB.key, srv('2001:db8::1', forward='dr')), errno.EINVAL),
    (lambda c: c.add_server(WEB.key, srv('224.0.0.1')), errno.EINVAL),
    (lambda c: c.edit_server(WEB.key, srv('10.0.0.9')), errno.ENOENT),
    (lambda c: c.delete_server(WEB.key, srv('10.0.0.9')), errno.ENOENT),
    (lambda c: c.start_daemon(Daemon('master', 'eth9', 1, None, None, None, None)), errno.ENODEV),
    (lambda c: c.stop_daemon('backup'), errno.ESRCH),
    (lambda c: c.set_timeouts(udp=10 ** 7), errno.EINVAL),
])
def test_errnos(client, fake, change, err):
    client.add_service(WEB)
    client.add_server(WEB.key, srv('10.0.0.1'))
    before = fake.table()
    with pytest.raises(IpvsError) as e:
        change(client)
    assert e.value.errno == err
    assert fake.table() == before


def test_other_family_needs_tunnel_and_blocks_sync(client, fake):
    client.add_service(WEB)
    client.add_server(WEB.key, srv('2001:db8::1', forward='tun'))
    with pytest.raises(IpvsError) as e:
        client.start_daemon(Daemon('master', 'eth0', 1, None, None, None, None))
    assert e.value.errno == errno.EINVAL
    client.delete_server(WEB.key, srv('2001:db8::1', forward='tun'))
    client.start_daemon(Daemon('master', 'eth0', 1, None, None, None, None))
    with pytest.raises(IpvsError) as e:
        client.add_server(WEB.key, srv('2001:db8::1', forward='tun'))
    assert e.value.errno == errno.EINVAL


def test_daemons_timeouts_zero_flush(client, fake):
    client.start_daemon(Daemon('backup', 'lo', 4, 100, None, None, None))
    client.start_daemon(Daemon('master', 'eth0', 3, None, '239.1.1.1', 8850, 2))
    expected = [Daemon('master', 'eth0', 3, 1472, '239.1.1.1', 8850, 2), Daemon('backup', 'lo', 4, 1024, '224.0.0.81', 8848, 1)]
    assert client.daemons() == fake.daemons == expected
    with pytest.raises(IpvsError) as e:
        client.start_daemon(Daemon('master', 'eth0', 3, None, None, None, None))
    assert e.value.errno == errno.EEXIST
    client.set_timeouts(tcp=60)
    assert client.timeouts() == fake.timeouts == Timeouts(60, 120, 300)
    client.add_service(WEB)
    client.add_server(WEB.key, srv('10.0.0.1'))
    fake.add_traffic(WEB.key, ('10.0.0.1', 80), conns=3, inpkts=1 << 33, rates=(1, 2, 3, 4, 5), active=2)
    got = client.servers(WEB.key)[0]
    assert got.stats == Stats(3, 1 << 33, 0, 0, 0) and got.rates == Rates(1, 2, 3, 4, 5) and got.active_conns == 2
    client.zero()
    assert client.table()[0][0].stats == Stats(0, 0, 0, 0, 0) == client.servers(WEB.key)[0].stats
    client.flush()
    assert fake.table() == [] and fake.daemons  # flush leaves daemons alone


def test_deleted_server_takes_its_counters_back(client, fake):
    client.add_service(WEB)
    client.add_server(WEB.key, srv('10.0.0.1'))
    fake.add_traffic(WEB.key, ('10.0.0.1', 80), conns=5)
    client.delete_server(WEB.key, srv('10.0.0.1'))
    client.add_server(WEB.key, srv('10.0.0.1'))
    assert client.servers(WEB.key)[0].stats.conns == 5
    client.delete_server(WEB.key, srv('10.0.0.1'))
    fake.expire_trash()
    client.add_server(WEB.key, srv('10.0.0.1'))
    assert client.servers(WEB.key)[0].stats.conns == 0


def test_unprivileged_gets_eperm_for_every_ipvs_command(monkeypatch):
    fake = FakeKernel(privileged=False).install(monkeypatch)
    with IpvsClient(modprobe=fake.modprobe) as c:      # CTRL still answers: the family resolves
        assert c.sock.family_id == fake.family_id
        for read in (c.info, c.timeouts, c.services, c.daemons, lambda: c.servers(WEB.key), lambda: c.service(WEB.key)):
            with pytest.raises(IpvsError) as e:
                read()
            assert e.value.errno == errno.EPERM
        errors = c.apply([op_add_service(WEB), op_flush()])
        assert [e.errno for e in errors] == [errno.EPERM, errno.EPERM]
    assert all(r.error == errno.EPERM for r in fake.log if r.name != 'CTRL_GETFAMILY')
    assert fake.requests['CTRL_GETFAMILY'] == 1
    assert fake.table() == []


def test_family_missing_then_loaded(monkeypatch):
    fake = FakeKernel(loaded=False, loadable=False).install(monkeypatch)
    with pytest.raises(IpvsError) as e:
        IpvsClient(modprobe=fake.modprobe)
    assert 'no IPVS' in str(e.value)
    assert fake.modprobes == ['ip_vs'] and fake.requests['CTRL_GETFAMILY'] == 1
    fake = FakeKernel(loaded=False).install(monkeypatch)
    with IpvsClient(modprobe=fake.modprobe) as c:      # the family lookup autoloads the module
        assert c.info().version == '1.2.1'
    assert fake.modprobes == []
    fake = FakeKernel(laddr=True).install(monkeypatch)
    with IpvsClient(modprobe=fake.modprobe) as c:
        assert c.supports_laddr
        c.add_service(WEB)
        c.add_laddr(WEB.key, '10.9.0.1')
        c.add_laddr(WEB.key, '10.9.0.2')
        with pytest.raises(IpvsError) as e:
            c.add_laddr(WEB.key, '10.9.0.1')
        assert e.value.errno == errno.EEXIST
        assert [la.address for la in c.laddrs(WEB.key)] == ['10.9.0.1', '10.9.0.2'] == \
            [la.address for la in fake.laddrs(WEB.key)]


def _dump_request(gs, seq):
    return struct.pack('=IHHIIBBH', 20, gs.family_id, 0x301, seq, 0, CMD_GET_SERVICE, 1, 0)


def _read_all(sock):
    out = []
    buf = bytearray(1 << 20)
    while True:
        try:
            n = sock.recv_into(buf)
        except OSError as e:
            if isinstance(e, __import__('socket').timeout):
                return out
            out.append(('oserror', e.errno))
            continue
        pos = 0
        while pos < n:
            mlen, mtype, flags, seq, _pid = struct.unpack_from('=IHHII', buf, pos)
            err = -struct.unpack_from('=i', buf, pos + 16)[0] if mtype in (2, 3) else None
            out.append((mtype, seq, err, n))
            pos += (mlen + 3) & ~3


def test_one_dump_per_socket(client, fake):
    """A second dump on a socket whose dump is unfinished gets EBUSY; another
    socket may dump meanwhile; an empty dump finishes at once."""
    gs = client.sock
    gs.sock.sendall(_dump_request(gs, 1) + _dump_request(gs, 2))   # empty table: no EBUSY
    got = _read_all(gs.sock)
    assert [(t, s, e) for t, s, e, _n in got] == [(3, 1, 0), (3, 2, 0)]
    fake.load([(make_service('ipv4', 'tcp', '10.0.%d.%d' % (i // 250, i % 250), 80), []) for i in range(400)])
    gs.sock.sendall(_dump_request(gs, 3) + _dump_request(gs, 4))
    with IpvsClient(modprobe=fake.modprobe) as other:
        assert len(other.services()) == 400
    got = _read_all(gs.sock)
    assert (2, 4, errno.EBUSY, 36) in got
    data = [g for g in got if g[0] == fake.family_id]
    assert len(data) == 400 and all(s == 3 for _t, s, _e, _n in data)
    sizes = sorted(set(n for _t, _s, _e, n in data))
    assert max(sizes) <= 32768 - 320 and len(sizes) > 1    # chunks of at most ~32 KiB
    assert got[-1][:3] == (3, 3, 0) and got[-1][3] == 20   # NLMSG_DONE alone at the end
    gs.sock.sendall(_dump_request(gs, 5))                  # once read, the socket may dump again
    assert [g[:3] for g in _read_all(gs.sock) if g[0] != fake.family_id] == [(3, 5, 0)]
    assert fake.requests['GET_SERVICE'] == 6


def test_dump_is_cut_as_the_reader_reads(client, fake):
    """Each further chunk is made when a datagram is taken, from the state of that moment."""
    fake.load([(make_service('ipv4', 'tcp', '10.1.%d.%d' % (i // 250, i % 250), 80), []) for i in range(300)])
    order = [s.key for s in fake.services()]
    removed = []

    def drop_one(f, request):
        if not removed:
            removed.append(order[-1])
            f.delete_service(order[-1])
    fake.before_dump_chunk.append(drop_one)
    listed = [s.key for s in client.services()]
    assert listed == order[:-1] and removed


def test_receive_buffer_overflow_is_enobufs(monkeypatch):
    """Error replies that do not fit the receive queue are dropped and the next
    recv fails with ENOBUFS."""
    fake = FakeKernel(rcvbuf_limit=8192).install(monkeypatch)
    with IpvsClient(modprobe=fake.modprobe) as c:
        with pytest.raises(IpvsError) as e:
            c.apply([op_delete_service(make_service('ipv4', 'tcp', '10.0.0.%d' % i, 80).key) for i in range(50)])
        assert e.value.errno == errno.ENOBUFS
    assert fake.dropped_datagrams > 0


def test_vanished_service_dumps_empty(client, fake):
    """Between the services dump and the servers dumps a service disappears:
    the kernel answers its GET_DEST dump as an empty dump, not an error."""
    client.add_service(WEB)
    client.add_service(DNS)
    client.add_server(DNS.key, srv('10.0.0.1'))
    client.add_server(WEB.key, srv('10.0.0.2'))
    fake.once('GET_DEST', lambda f, r: f.delete_service(DNS.key))
    fake.reset_counters()
    table = client.table()
    assert [s.key for s, _servers in table] == [WEB.key]
    get_dest = [r for r in fake.log if r.name == 'GET_DEST']
    assert len(get_dest) == 2 and all(r.error == 0 for r in get_dest)


def test_hooks_can_fail_a_request(client, fake):
    fake.before_request.append(lambda f, r: errno.ENOMEM if r.name == 'NEW_DEST' else None)
    client.add_service(WEB)
    with pytest.raises(IpvsError) as e:
        client.add_server(WEB.key, srv('10.0.0.1'))
    assert e.value.errno == errno.ENOMEM
    assert fake.servers(WEB.key) == []


def test_reordered_error_replies_still_match_their_requests(client, fake):
    fake.reorder = 'reverse'
    client.add_service(WEB)
    ops = [op_add_service(WEB), op_add_server(WEB.key, srv('10.0.0.1')), op_add_server(DNS.key, srv('10.0.0.1')),
           op_add_server(WEB.key, srv('10.0.0.2', weight=-1))]
    errors = client.apply(ops)
    assert [e and e.errno for e in errors] == [errno.EEXIST, None, errno.ESRCH, errno.ERANGE]
    seen = []

    def rotate(replies):
        seen.append([struct.unpack_from('=I', r, 8)[0] for r in replies])
        return replies[1:] + replies[:1]
    fake.reorder = rotate
    errors = client.apply([op_add_service(WEB), op_add_service(DNS), op_add_service(WEB)])
    assert [e and e.errno for e in errors] == [errno.EEXIST, None, errno.EEXIST]
    assert len(seen) == 1 and len(seen[0]) == 2 and seen[0][0] < seen[0][1]   # the two errors, in request order


def test_counters(client, fake):
    client.add_service(WEB)
    fake.reset_counters()
    client.services()
    client.timeouts()     # GET_CONFIG, then GET_INFO as the acknowledged barrier, in one datagram
    assert fake.writes == 0
    assert fake.sent() == ['GET_SERVICE', 'GET_CONFIG', 'GET_INFO']
    assert fake.sent(dumps=True) == ['GET_SERVICE']
    assert fake.requests == {'GET_SERVICE': 1, 'GET_CONFIG': 1, 'GET_INFO': 1}
    assert fake.sent_datagrams == 2
    client.apply([op_add_server(WEB.key, srv('10.0.0.%d' % i)) for i in range(1, 4)])
    assert fake.writes == 3 and fake.requests['NEW_DEST'] == 3 and fake.sent_datagrams == 3


def test_plain_python_state(fake):
    fake.add_service(WEB._replace(flags=F_PERSISTENT | F_SCHED1, timeout=100))
    fake.add_server(WEB.key, srv('10.0.0.1', weight=4))
    fake.set_timeouts(udp=30)
    fake.start_daemon(Daemon('master', 'eth0', 9, None, None, None, None))
    with pytest.raises(OSError) as e:
        fake.add_service(WEB)
    assert e.value.errno == errno.EEXIST
    svc, servers = fake.table()[0]
    assert (svc.flags, svc.timeout, servers[0].weight) == (F_PERSISTENT | F_SCHED1, 100, 4)
    assert fake.timeouts == Timeouts(900, 120, 30)
    assert fake.daemons == [Daemon('master', 'eth0', 9, 1472, '224.0.0.81', 8848, 1)]
    with IpvsClient(modprobe=fake.modprobe) as c:
        assert c.table() == fake.table()
        assert c.daemons() == fake.daemons
