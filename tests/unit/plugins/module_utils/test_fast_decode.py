# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fixed-layout decoders return exactly what the generic ones return.

Messages are the bytes tests/fake_kernel.py puts on the wire (cross-checked
byte for byte against the VM's kernel), read off the socket the client reads,
for a table that uses every option; then the same messages changed the ways
other kernels write them (PAD attributes before 64-bit counters, no tunnel or
address-family attributes, no STATS64, another order, an attribute the decoder
does not know, the nest flag), with an attribute twice (after the fixed part,
after STATS64), the counters inside the stats nests in other orders, a zero
FWMARK and attribute headers shorter than themselves, and with random bytes
changed. The fast decoder must agree with the generic one on every one, or
raise the same exception.
"""

import os
import random
import socket
import struct
import sys

import pytest

from ansible_collections.lvs.ipvs.plugins.module_utils import _ipvs as ipvs
from ansible_collections.lvs.ipvs.plugins.module_utils import _netlink as nl
from ansible_collections.lvs.ipvs.plugins.module_utils._model import (
    F_ONEPACKET, F_PERSISTENT, F_SCHED1, F_SCHED2, Rates, Server, Service, Stats, make_server, make_service,
    service_text,
)

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
from fake_kernel import FakeKernel  # noqa: E402 pylint: disable=wrong-import-position

AF4, AF6 = socket.AF_INET, socket.AF_INET6
STATS_PAD = 11      # IPVS_STATS_ATTR_PAD


# ---------------------------------------------------------------- a table that uses everything

def rich_table(rng, services=60):
    """Services of every kind, each with real servers of every kind (the fake
    accepts what the kernel accepts: tunnels for other-family servers)."""
    table = []
    schedulers = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'fo', 'ovf', 'mh']
    for i in range(services):
        kind = i % 5
        sched = schedulers[i % len(schedulers)]
        flags = rng.choice([0, F_PERSISTENT, F_ONEPACKET, F_PERSISTENT | F_SCHED1, F_SCHED1 | F_SCHED2])
        timeout = rng.choice([0, 1, 360, 86400]) if flags & F_PERSISTENT else 0
        pe = 'sip' if (kind == 1 and flags & F_PERSISTENT) else None
        if kind == 0:
            svc = make_service('ipv4', 'tcp', '10.%d.%d.%d' % (i, rng.randrange(256), rng.randrange(1, 255)),
                               rng.randrange(0, 65536), scheduler=sched, flags=flags, timeout=timeout,
                               netmask=rng.choice(['255.255.255.255', '255.255.255.0', '255.0.0.0']))
        elif kind == 1:
            svc = make_service('ipv4', 'udp', '192.0.2.%d' % (i % 250 + 1), 53 + i, scheduler=sched, flags=flags,
                               timeout=timeout, pe=pe if flags & F_PERSISTENT else None)
        elif kind == 2:
            svc = make_service('ipv6', rng.choice(['tcp', 'sctp']), '2001:db8:%x::%x' % (i, rng.randrange(1, 65536)),
                               443, scheduler=sched, flags=flags, timeout=timeout,
                               netmask=str(rng.choice([128, 64, 1])))
        elif kind == 3:
            svc = make_service('ipv4', fwmark=rng.randrange(1, 1 << 32), scheduler=sched, flags=flags, timeout=timeout)
        else:
            svc = make_service('ipv6', fwmark=1000 + i, scheduler=sched, flags=flags, timeout=timeout,
                               netmask=str(rng.choice([128, 96])))
        servers = []
        for j in range(rng.randrange(0, 6)):
            same = svc.family
            other = 'ipv6' if same == 'ipv4' else 'ipv4'
            family = other if j == 4 else same
            rip = '172.16.%d.%d' % (i, j + 1) if family == 'ipv4' else '2001:db8:ffff:%x::%x' % (i, j + 1)
            if family != same:
                forward = 'tun'        # another family only through a tunnel
            else:
                forward = rng.choice(['masq', 'dr', 'tun', 'local', 'bypass'])
                if forward in ('local', 'bypass'):
                    forward = 'dr'
            tun_type = rng.choice(['ipip', 'gue', 'gre']) if forward == 'tun' else None
            u_threshold = rng.choice([0, 10, 70000])
            servers.append(make_server(
                rip, 0 if svc.fwmark else rng.randrange(0, 65536), family=family, forward=forward,
                weight=rng.choice([0, 1, 3, 65535, 0x7fffffff]), u_threshold=u_threshold,
                l_threshold=rng.choice([0, 5]) if u_threshold else 0, tun_type=tun_type,
                tun_port=rng.randrange(1, 65536) if tun_type == 'gue' else None,
                tun_csum=rng.choice(['nocsum', 'csum', 'remcsum']) if tun_type in ('gue', 'gre') else None))
        table.append((svc, servers))
    return table


def loaded_fake(rng, services=60):
    fake = FakeKernel()
    table = rich_table(rng, services)
    fake.load(table)
    for svc, servers in table:
        big = rng.choice([0, 1, 1 << 32, (1 << 64) - 1])
        fake.add_traffic(svc.key, conns=rng.randrange(0, 1 << 33), inpkts=big, outpkts=rng.randrange(1 << 20),
                         inbytes=rng.randrange(1 << 50), outbytes=big, rates=(1, 2, 3, 4, 5))
        for srv in servers:
            fake.add_traffic(svc.key, srv, conns=rng.randrange(1 << 34), inbytes=big, rates=(5, 4, 3, 2, 1),
                             active=rng.randrange(1 << 31), inactive=rng.randrange(100), persist=rng.randrange(3))
    return fake


def wire_messages(fake, monkeypatch):
    """(cmd, payload bytes) of every message the client received while reading the table."""
    fake.install(monkeypatch)
    client = ipvs.IpvsClient(modprobe=fake.modprobe)
    received = []
    real = client.sock.sock
    recv = real.recv_into

    def recording(buf, nbytes=0, flags=0):
        n = recv(buf, nbytes, flags)
        received.append(bytes(buf[:n]))
        return n
    real.recv_into = recording
    client.table()
    client.close()
    out = []
    for data in received:
        pos = 0
        while pos + 16 <= len(data):
            mlen, mtype = struct.unpack_from('=IH', data, pos)
            if mtype == fake.family_id and data[pos + 16] in (ipvs.CMD_NEW_SERVICE, ipvs.CMD_NEW_DEST):
                out.append((data[pos + 16], data[pos + 20:pos + mlen]))
            pos += (mlen + 3) & ~3
    return out


# ---------------------------------------------------------------- attribute surgery

def attrs_of(raw):
    return [(t, bytes(raw[o:o + n])) for t, o, n in nl.parse_list(raw, 0, len(raw))]


def build(parts):
    return b''.join(nl.attr(t, p) for t, p in parts)


def split_message(payload):
    """(outer type with flags, [(type, payload)]) of a message's one nest."""
    n, t = struct.unpack_from('=HH', payload)
    return t, attrs_of(payload[4:n])


def join_message(outer_type, inner):
    body = build(inner)
    return struct.pack('=HH', 4 + len(body), outer_type) + body


def with_pads(stats_payload, start_misaligned):
    """The stats nest as nla_put_u64_64bit writes it on an architecture that
    needs 64-bit alignment: a PAD attribute before each u64 that would not be
    8-byte aligned."""
    out = []
    pos = 4 if start_misaligned else 0
    for t, p in attrs_of(stats_payload):
        if len(p) == 8 and (pos + 4) % 8:
            out.append((STATS_PAD, b''))
            pos += 4
        out.append((t, p))
        pos += 4 + len(p) + (-len(p) & 3)
    return build(out)


def variants(payload, rng, more=True):
    """The message as other kernels (or a future one) could write it; with
    `more`, also with attributes twice, counters in other orders and odd
    service attributes."""
    outer, inner = split_message(payload)
    stats_types = (10, 12)
    yield 'as sent', payload
    yield 'pads in stats', join_message(outer, [(t, with_pads(p, True) if t in stats_types else p) for t, p in inner])
    yield 'pads in stats, aligned start', join_message(
        outer, [(t, with_pads(p, False) if t in stats_types else p) for t, p in inner])
    yield 'no STATS64', join_message(outer, [(t, p) for t, p in inner if t != 12])
    yield 'no stats at all', join_message(outer, [(t, p) for t, p in inner if t not in stats_types])
    yield 'STATS64 first', join_message(outer, [a for a in inner if a[0] == 12] + [a for a in inner if a[0] != 12])
    yield 'nest flag', join_message(outer | nl.NLA_F_NESTED, inner)
    yield 'unknown attribute at the end', join_message(outer, inner + [(30, b'\1\2\3\4')])
    yield 'unknown attribute inside', join_message(outer, inner[:2] + [(30, b'\1\2\3\4')] + inner[2:])
    yield 'another top-level attribute', payload + nl.attr_u32(9, 7)
    if outer == ipvs.CMD_ATTR_DEST:
        yield 'kernel before 5.2 (no tunnel attributes)', join_message(outer, [a for a in inner if a[0] < 13])
        yield 'kernel before 3.18 (no family, no STATS64)', join_message(
            outer, [a for a in inner if a[0] not in (11, 12, 13, 14, 15)])
        yield 'weight -1', join_message(outer, [(t, struct.pack('=I', 0xffffffff) if t == 4 else p) for t, p in inner])
        yield 'forward 5..7', join_message(outer, [(t, struct.pack('=I', 5 + rng.randrange(3)) if t == 3 else p)
                                                   for t, p in inner])
        yield 'unknown tunnel type', join_message(outer, [(t, b'\7' if t == 13 else p) for t, p in inner])
        yield 'address family 0', join_message(outer, [(t, struct.pack('=H', 0) if t == 11 else p) for t, p in inner])
    else:
        yield 'unknown protocol', join_message(outer, [(t, struct.pack('=H', 99) if t == 2 else p) for t, p in inner])
        yield 'family 0', join_message(outer, [(t, struct.pack('=H', 0) if t == 1 else p) for t, p in inner])
        yield 'PE name added', join_message(outer, [a for a in inner if a[0] <= 6] + [(11, b'sip\0')]
                                            + [a for a in inner if a[0] > 6 and a[0] != 11])
        yield 'empty PE name', join_message(outer, [a for a in inner if a[0] <= 6] + [(11, b'\0')]
                                            + [a for a in inner if a[0] > 6 and a[0] != 11])
        yield 'long scheduler name', join_message(outer, [(t, b'weighted-least\0' if t == 6 else p) for t, p in inner])
        yield 'scheduler name without NUL', join_message(outer, [(t, b'wrr' if t == 6 else p) for t, p in inner])
    shuffled = list(inner)
    rng.shuffle(shuffled)
    yield 'shuffled', join_message(outer, shuffled)
    if not more:
        return
    for what, variant in stats_permutations(outer, inner, rng):
        yield what, variant
    for what, variant in duplicates(outer, inner):
        yield what, variant
    if outer == ipvs.CMD_ATTR_SERVICE:
        for what, variant in service_oddities(outer, inner):
            yield what, variant


STATS_TYPES = (ipvs.SVC_ATTR_STATS, ipvs.SVC_ATTR_STATS64)      # the same numbers for real servers
# What the decoders read, and a payload for each type a message may lack.
SERVICE_READ = {ipvs.SVC_ATTR_AF: struct.pack('=H', AF4), ipvs.SVC_ATTR_PROTOCOL: struct.pack('=H', 17),
                ipvs.SVC_ATTR_ADDR: socket.inet_pton(AF6, '2001:db8::99'), ipvs.SVC_ATTR_PORT: b'\x1f\x90',
                ipvs.SVC_ATTR_FWMARK: struct.pack('=I', 5), ipvs.SVC_ATTR_SCHED_NAME: b'sh\0',
                ipvs.SVC_ATTR_FLAGS: struct.pack('=II', F_PERSISTENT, 0xffffffff),
                ipvs.SVC_ATTR_TIMEOUT: struct.pack('=I', 77), ipvs.SVC_ATTR_NETMASK: b'\xff\xff\x00\x00',
                ipvs.SVC_ATTR_PE_NAME: b'sip\0'}
DEST_READ = {ipvs.DEST_ATTR_ADDR: socket.inet_pton(AF6, '2001:db8::98'), ipvs.DEST_ATTR_PORT: b'\x1f\x91',
             ipvs.DEST_ATTR_FWD_METHOD: struct.pack('=I', 2), ipvs.DEST_ATTR_WEIGHT: struct.pack('=I', 9),
             ipvs.DEST_ATTR_U_THRESH: struct.pack('=I', 11), ipvs.DEST_ATTR_L_THRESH: struct.pack('=I', 3),
             ipvs.DEST_ATTR_ACTIVE_CONNS: struct.pack('=I', 12), ipvs.DEST_ATTR_INACT_CONNS: struct.pack('=I', 13),
             ipvs.DEST_ATTR_PERSIST_CONNS: struct.pack('=I', 14), ipvs.DEST_ATTR_ADDR_FAMILY: struct.pack('=H', AF6),
             ipvs.DEST_ATTR_TUN_TYPE: b'\1', ipvs.DEST_ATTR_TUN_PORT: b'\x17\xc1',
             ipvs.DEST_ATTR_TUN_FLAGS: struct.pack('=H', 1)}
FAMILY_TYPES = {ipvs.CMD_ATTR_SERVICE: ipvs.SVC_ATTR_AF, ipvs.CMD_ATTR_DEST: ipvs.DEST_ATTR_ADDR_FAMILY}
STRING_TYPES = {ipvs.CMD_ATTR_SERVICE: (ipvs.SVC_ATTR_SCHED_NAME, ipvs.SVC_ATTR_PE_NAME), ipvs.CMD_ATTR_DEST: ()}


def other_value(outer, atype, payload):
    """Another value of the same type (and size, where it has one)."""
    if atype == FAMILY_TYPES[outer] and len(payload) == 2:
        return struct.pack('=H', AF6 if struct.unpack('=H', payload)[0] == AF4 else AF4)
    if atype in STRING_TYPES[outer]:
        return b'dup\0' if payload != b'dup\0' else b'rr\0'
    if atype in STATS_TYPES:
        changed = [(t, bytes(b ^ 0x21 for b in p)) for t, p in attrs_of(payload)]
        return build(changed[::-1])
    if not payload:
        return b'\1'
    return bytes([payload[0] ^ 1]) + payload[1:]


def duplicates(outer, inner):
    """A second attribute of each type the decoders read (and of the stats
    nests), with another value: right after the fixed part (before the stats)
    and at the very end (after STATS64). The generic decoder takes the last of
    a type."""
    read = SERVICE_READ if outer == ipvs.CMD_ATTR_SERVICE else DEST_READ
    present = dict(inner)
    fixed = [a for a in inner if a[0] not in STATS_TYPES]
    stats = [a for a in inner if a[0] in STATS_TYPES]
    if inner[len(fixed):] != stats:
        return          # not the kernel's layout (stats last): nothing to insert between
    for atype in sorted(set(read) | set(STATS_TYPES)):
        if atype in present:
            extra = (atype, other_value(outer, atype, present[atype]))
        elif atype in read:
            extra = (atype, read[atype])
        else:
            continue
        name = 'type %d %s' % (atype, 'twice' if atype in present else 'added')
        yield name + ' after the fixed part', join_message(outer, fixed + [extra] + stats)
        yield name + ' after STATS64', join_message(outer, inner + [extra])


def stats_permutations(outer, inner, rng):
    """The counters inside STATS and STATS64 in other orders (each nest keeps
    its size: a STATS64 of 124 bytes is not necessarily in the kernel's order)."""
    for label, order in (('reversed', lambda a: a[::-1]), ('shuffled', lambda a: rng.sample(a, len(a)))):
        for which in STATS_TYPES:
            if which not in dict(inner):
                continue
            yield 'stats %d %s' % (which, label), join_message(
                outer, [(t, build(order(attrs_of(p))) if t == which else p) for t, p in inner])
        yield 'both stats nests %s' % label, join_message(
            outer, [(t, build(order(attrs_of(p))) if t in STATS_TYPES else p) for t, p in inner])


def service_oddities(outer, inner):
    types = [t for t, _p in inner]
    if ipvs.SVC_ATTR_FWMARK in types:
        yield 'FWMARK 0', join_message(outer, [(t, struct.pack('=I', 0) if t == ipvs.SVC_ATTR_FWMARK else p)
                                               for t, p in inner])
    else:
        yield 'FWMARK 0 before PROTOCOL', join_message(outer, inner[:1] + [(ipvs.SVC_ATTR_FWMARK, struct.pack('=I', 0))]
                                                       + inner[1:])
        yield 'FWMARK 0 instead of PROTOCOL ADDR PORT', join_message(
            outer, [(t, p) for t, p in inner if t not in (2, 3, 4)][:1] + [(ipvs.SVC_ATTR_FWMARK, struct.pack('=I', 0))]
            + [(t, p) for t, p in inner if t not in (1, 2, 3, 4)])
    if ipvs.SVC_ATTR_SCHED_NAME in types:
        after = types.index(ipvs.SVC_ATTR_SCHED_NAME) + 1
        rest = [a for a in inner[after:] if a[0] != ipvs.SVC_ATTR_PE_NAME]
        for alen in range(4):
            # An attribute header whose length is below the header's own 4
            # bytes: the generic parser stops there.
            body = build(inner[:after]) + struct.pack('=HH', alen, ipvs.SVC_ATTR_PE_NAME) + build(rest)
            yield 'PE_NAME of length %d' % alen, struct.pack('=HH', 4 + len(body), outer) + body
        yield 'PE_NAME of length 4 (empty)', join_message(outer, inner[:after] + [(ipvs.SVC_ATTR_PE_NAME, b'')] + rest)
        for alen in range(4):
            body = build(inner[:after - 1]) + struct.pack('=HH', alen, ipvs.SVC_ATTR_SCHED_NAME) + build(inner[after:])
            yield 'SCHED_NAME of length %d' % alen, struct.pack('=HH', 4 + len(body), outer) + body


def outcome(decode, buf, start, end):
    try:
        got = decode(buf, start, end)
    except Exception as e:  # pylint: disable=broad-except
        return 'raises', type(e)
    return got, type(got), type(got.stats), type(got.rates)


def decoders(cmd, service_af, with_stats):
    if cmd == ipvs.CMD_NEW_SERVICE:
        return (ipvs.make_fast_service_decoder(with_stats),
                lambda b, s, e: ipvs.decode_service(b, s, e, with_stats))
    return ipvs.make_fast_dest_decoder(service_af, with_stats), ipvs.make_dest_decoder(service_af, with_stats)


def random_bytes(rng, n):
    return rng.getrandbits(8 * n).to_bytes(n, 'little') if n else b''


def placed(payload, rng):
    """The payload inside a larger buffer, with other bytes around it (the
    receive buffer holds other messages and stale data)."""
    before, after = (random_bytes(rng, rng.choice(sizes)) for sizes in ((0, 4, 20, 36), (0, 8, 400)))
    buf = bytearray(before + payload + after)
    return buf, len(before), len(before) + len(payload)


# ---------------------------------------------------------------- the tests

@pytest.fixture(scope='module')
def messages():
    mp = pytest.MonkeyPatch()
    try:
        return wire_messages(loaded_fake(random.Random(6)), mp)
    finally:
        mp.undo()


def test_the_table_uses_every_kind_of_message(messages):
    services = [ipvs.decode_service(p, 0, len(p)) for c, p in messages if c == ipvs.CMD_NEW_SERVICE]
    servers = [ipvs.make_dest_decoder(AF4)(p, 0, len(p)) for c, p in messages if c == ipvs.CMD_NEW_DEST]
    assert set(s.family for s in services) == {'ipv4', 'ipv6'}
    assert any(s.fwmark for s in services) and any(s.pe for s in services)
    assert set(s.protocol for s in services) == {None, 'tcp', 'udp', 'sctp'}
    assert set(s.forward for s in servers) == {'masq', 'dr', 'tun'}
    assert set(s.tun_type for s in servers) == {None, 'ipip', 'gue', 'gre'}
    assert set(s.tun_csum for s in servers) == {None, 'nocsum', 'csum', 'remcsum'}
    assert any(s.family == 'ipv6' for s in servers) and any(s.u_threshold for s in servers)
    assert any(s.stats.inbytes >= 1 << 32 for s in servers)


@pytest.mark.parametrize('with_stats', [True, False])
def test_fast_decoders_agree_with_the_generic_ones(messages, with_stats):
    rng = random.Random(1)
    fast_hits = 0
    checked = 0
    for cmd, payload in messages:
        for service_af in ((AF4, AF6) if cmd == ipvs.CMD_NEW_DEST else (AF4,)):
            fast, slow = decoders(cmd, service_af, with_stats)
            # The service's family matters only where ADDR_FAMILY is missing: the
            # variants `more` adds (attributes twice, reordered counters, odd
            # service attributes) once per message.
            for what, variant in variants(payload, rng, more=service_af == AF4):
                buf, start, end = placed(variant, rng)
                want = outcome(slow, bytes(variant), 0, len(variant))
                assert outcome(fast, buf, start, end) == want, what
                assert outcome(slow, buf, start, end) == want, what
                checked += 1
                if what == 'as sent':
                    fast_hits += 1
    assert checked > 1000 and fast_hits == sum(2 if cmd == ipvs.CMD_NEW_DEST else 1 for cmd, _p in messages)


def test_the_fast_path_is_taken_for_what_the_kernel_sends(messages, monkeypatch):
    """No message of the VM's kernel's layout falls back to the generic decoders."""
    def forbidden(*args, **kwargs):
        raise AssertionError('fell back to the generic decoder')
    monkeypatch.setattr(ipvs, 'decode_service', forbidden)
    monkeypatch.setattr(ipvs, 'make_dest_decoder', lambda *a: forbidden)
    monkeypatch.setattr(ipvs, 'parse_attrs', forbidden)
    for with_stats in (True, False):
        service = ipvs.make_fast_service_decoder(with_stats)
        dest = ipvs.make_fast_dest_decoder(AF4, with_stats)
        for cmd, payload in messages:
            got = (service if cmd == ipvs.CMD_NEW_SERVICE else dest)(payload, 0, len(payload))
            assert type(got) in (Service, Server)
            assert (got.stats is not None) == with_stats and isinstance(got.rates, Rates) == with_stats


def test_pads_in_stats64_are_decoded_as_without(messages):
    cmd, payload = next(m for m in messages if m[0] == ipvs.CMD_NEW_DEST)
    outer, inner = split_message(payload)
    padded = join_message(outer, [(t, with_pads(p, True) if t in (10, 12) else p) for t, p in inner])
    assert len(padded) > len(payload)
    fast = ipvs.make_fast_dest_decoder(AF4)
    assert fast(padded, 0, len(padded)) == fast(payload, 0, len(payload))


@pytest.mark.parametrize('with_stats', [True, False])
def test_random_byte_changes_decode_alike(messages, with_stats):
    rng = random.Random(2)
    compared = 0
    for _round in range(6):
        for cmd, payload in messages:
            fast, slow = decoders(cmd, AF4, with_stats)
            raw = bytearray(payload)
            for _i in range(rng.choice([1, 1, 2, 3])):
                pos = rng.randrange(len(raw))
                raw[pos] = rng.choice([0, 1, 2, 3, 4, 5, 6, 8, 10, 11, 12, 20, 0x80, 0xff, rng.randrange(256)])
            buf, start, end = placed(bytes(raw), rng)
            assert outcome(fast, buf, start, end) == outcome(slow, buf, start, end), (cmd, bytes(raw).hex())
            compared += 1
    assert compared > 1000


def test_decode_stats_one_unpack_and_generic_agree():
    values = [1, 2, 3, 1 << 40, 5, 6, 7, 8, 9, (1 << 64) - 1]
    wide = b''.join(nl.attr_u64(i, v) for i, v in enumerate(values, 1))
    assert len(wide) == 120
    stats, rates = ipvs.decode_stats(wide, 0, len(wide))
    assert (type(stats), type(rates)) == (Stats, Rates)
    assert tuple(stats) + tuple(rates) == tuple(values)
    padded = with_pads(wide, True)
    assert ipvs.decode_stats(padded, 0, len(padded)) == (stats, rates)
    narrow = b''.join((nl.attr_u64 if i in (4, 5) else nl.attr_u32)(i, v & 0xffffffff if i not in (4, 5) else v)
                      for i, v in enumerate(values, 1))
    assert ipvs.decode_stats(narrow, 0, len(narrow))[0].inbytes == 1 << 40


def reference_stats(payload):
    """(Stats, Rates) of a stats nest's payload, read here attribute by
    attribute (the last of a type wins, a missing one is 0), to check
    decode_stats(), which both the fast and the generic decoders use."""
    values = {}
    for atype, raw in attrs_of(payload):
        if len(raw) in (4, 8):
            values[atype] = struct.unpack('=I' if len(raw) == 4 else '=Q', raw)[0]
    v = [values.get(i, 0) for i in range(1, 11)]
    return Stats(*v[:5]), Rates(*v[5:])


def test_decode_stats_reads_counters_by_type_in_any_order(messages):
    """A STATS64 nest keeps its 124 bytes when its counters come in another
    order: decode_stats() must notice and read them by type."""
    rng = random.Random(8)
    nests = set()
    for _cmd, payload in messages:
        _outer, inner = split_message(payload)
        nests.update(p for t, p in inner if t in STATS_TYPES)
    assert any(len(n) == ipvs._STATS64_SIZE for n in nests) and len(nests) > 100
    checked = 0
    for nest in sorted(nests):
        attrs = attrs_of(nest)
        want = reference_stats(nest)
        assert ipvs.decode_stats(nest, 0, len(nest)) == want
        for order in (attrs[::-1], attrs[1:] + attrs[:1], [attrs[1], attrs[0]] + attrs[2:],
                      rng.sample(attrs, len(attrs)), rng.sample(attrs, len(attrs))):
            permuted = build(order)
            assert len(permuted) == len(nest)
            buf, start, end = placed(permuted, rng)
            got = ipvs.decode_stats(buf, start, end - start)
            assert got == want and (type(got[0]), type(got[1])) == (Stats, Rates), [t for t, _p in order]
            checked += 1
    assert checked > 500


@pytest.mark.parametrize('key', [
    ('ipv4', 'tcp', '192.0.2.10', 80, None), ('ipv4', 'udp', '0.0.0.0', 0, None),
    ('ipv6', 'sctp', '2001:db8::1', 65535, None), ('ipv4', None, None, None, 1),
    ('ipv6', None, None, None, 0xffffffff), ('ipv4', 'tcp', '10.0.0.1', 258, None),
])
def test_service_key_nest_is_the_generic_encoding(key):
    assert ipvs.service_key_nest(key) == nl.nested(ipvs.CMD_ATTR_SERVICE, *ipvs.encode_service_key(key))


def _servers_of_every_kind():
    rng = random.Random(11)
    out = []
    for family, rip in (('ipv4', '10.0.0.2'), ('ipv4', '0.0.0.0'), ('ipv4', '255.255.255.255'),
                        ('ipv6', '2001:db8::2'), ('ipv6', '::'), ('ipv6', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')):
        for forward in ('masq', 'local', 'tun', 'dr', 'bypass', 'fnat'):
            for rport in (0, 80, 258, 65535):
                weight = rng.choice([0, 1, 3, 0x7fffffff, -1])
                uth, lth = rng.choice([(0, 0), (70000, 5), (0xffffffff, 0x7fffffff)])
                tunnels = [dict()]
                if forward == 'tun':
                    tunnels = [dict(tun_type='ipip'), dict(tun_type='gre', tun_csum='csum'),
                               dict(tun_type='gue', tun_port=6080, tun_csum='remcsum'), dict(tun_type='gue', tun_port=1)]
                for tunnel in tunnels:
                    out.append(make_server(rip, rport, family=family, forward=forward, weight=weight,
                                           u_threshold=uth, l_threshold=lth, **tunnel))
    return out


def test_encode_server_packs_what_the_attributes_make():
    servers = _servers_of_every_kind()
    assert len(servers) > 150
    for srv in servers:
        for full in (True, False):
            assert ipvs.encode_server(srv, full) == ipvs.encode_server_attrs(srv, full), (srv, full)


@pytest.mark.parametrize('key', [
    ('ipv4', 'tcp', '192.0.2.10', 80, None), ('ipv6', 'sctp', '2001:db8::1', 65535, None), ('ipv4', None, None, None, 1),
    ('ipv6', None, None, None, 0xffffffff),
])
def test_ops_encode_what_the_attributes_make(key):
    """Ops reuse their service's nest and text (a small cache of them): the
    same bytes and words as built from scratch, whatever order they come in."""
    family = key[0]
    services = [make_service(*key[:5], scheduler=scheduler, flags=flags, timeout=timeout, netmask=netmask, pe=pe)
                for scheduler, flags, timeout, netmask, pe in (
                    ('wlc', 0, 0, None, None), ('sh', F_PERSISTENT | 0x18, 600, '24' if family == 'ipv6' else '255.255.255.0',
                                                'sip'))]
    generic_key = nl.nested(ipvs.CMD_ATTR_SERVICE, *ipvs.encode_service_key(key))
    text = service_text(key)
    other = ('ipv4', 'udp', '192.0.2.99', 53, None)
    for svc in services:
        for mask in (ipvs.F_USER_MASK, F_PERSISTENT):
            generic = nl.nested(ipvs.CMD_ATTR_SERVICE, *(ipvs.encode_service_key(key) + [
                nl.attr_str(ipvs.SVC_ATTR_SCHED_NAME, svc.scheduler),
                nl.attr(ipvs.SVC_ATTR_FLAGS, struct.pack('=II', svc.flags, mask)),
                nl.attr_u32(ipvs.SVC_ATTR_TIMEOUT, svc.timeout), ipvs.encode_netmask(family, svc.netmask)]
                + ([nl.attr_str(ipvs.SVC_ATTR_PE_NAME, svc.pe)] if svc.pe else [])))
            assert ipvs.encode_service(svc, mask) == generic
            ipvs.op_delete_service(other)       # another service's ops in between
            assert ipvs.op_edit_service(svc, mask).request.body == generic
        op = ipvs.op_add_service(svc)
        assert (op.request.body, op.subject) == (ipvs.encode_service(svc), 'virtual service ' + text)
    op = ipvs.op_delete_service(key)
    assert (op.request.body, op.subject, op.service) == (generic_key, 'virtual service ' + text, text)
    for srv in _servers_of_every_kind()[::7]:
        for make, full in ((ipvs.op_add_server, True), (ipvs.op_edit_server, True), (ipvs.op_delete_server, False)):
            ipvs.op_delete_service(other)
            op = make(key, srv)
            assert op.request.body == generic_key + ipvs.encode_server_attrs(srv, full)
            assert (op.subject, op.service, op.args) == (srv.text(), text, (key, srv))


def test_ipv4_text_is_inet_ntop():
    """The fast decoders write IPv4 addresses from a table of octets."""
    rng = random.Random(3)
    fake = FakeKernel()
    svc = make_service('ipv4', 'tcp', '192.0.2.1', 80)
    fake.load([(svc, [make_server('192.0.2.2', 80, forward='dr')])])
    raw = fake._service_order()[0]
    service_payload, dest_payload = raw.encode(fake.hz), raw.dests[0].encode()
    assert service_payload[24:28] == socket.inet_aton('192.0.2.1') and dest_payload[8:12] == socket.inet_aton('192.0.2.2')
    dest = ipvs.make_fast_dest_decoder(AF4, False)
    service = ipvs.make_fast_service_decoder(False)
    for packed in [b'\0' * 4, b'\xff' * 4, bytes(range(4)), bytes(range(252, 256))] + [
            random_bytes(rng, 4) for _i in range(500)]:
        text = socket.inet_ntop(AF4, packed)
        p = service_payload[:24] + packed + service_payload[28:]
        assert service(p, 0, len(p)).vip == text
        p = dest_payload[:8] + packed + dest_payload[12:]
        assert dest(p, 0, len(p)).rip == text


# ---------------------------------------------------------------- whole datagrams: the batch path of dumps()

class _Replay:
    """Hands the client recorded datagrams in order; sends go nowhere."""

    def __init__(self, datagrams):
        self.datagrams = list(datagrams)

    def sendall(self, data):
        pass

    def recv_into(self, buf, nbytes=0, flags=0):
        if not self.datagrams:
            raise socket.timeout('timed out')
        data = self.datagrams.pop(0)
        buf[:len(data)] = data
        return len(data)

    def close(self):
        pass


@pytest.fixture(scope='module')
def dest_dumps():
    """The datagrams of every GET_DEST dump of a rich table, and what was asked."""
    mp = pytest.MonkeyPatch()
    try:
        fake = loaded_fake(random.Random(11), services=120).install(mp)
        client = ipvs.IpvsClient(modprobe=fake.modprobe)
        keys = [s.key for s in client.services()]
        received = []
        real = client.sock.sock
        recv = real.recv_into

        def recording(buf, nbytes=0, flags=0):
            n = recv(buf, nbytes, flags)
            received.append(bytes(buf[:n]))
            return n
        real.recv_into = recording
        seq0 = client.sock.seq
        client.sock.dumps(ipvs.CMD_GET_DEST, [ipvs.service_key_nest(k) for k in keys],
                          [ipvs._DEST_DECODERS[ipvs.FAMILIES[k[0]], True] for k in keys])
        client.close()
        return keys, seq0, fake.family_id, received
    finally:
        mp.undo()


def replayed(dest_dumps, datagrams, kind, with_stats):
    keys, seq0, family_id, _received = dest_dumps
    s = object.__new__(nl.GenlSocket)
    s.sock, s.timeout, s.rcvbuf, s.seq, s.buf = _Replay(datagrams), 1.0, 1 << 20, seq0, bytearray(nl.RECV_SIZE)
    s.family_id, s.version = family_id, 1
    decoders = []
    for k in keys:
        af = ipvs.FAMILIES[k[0]]
        fast = ipvs._DEST_DECODERS[af, with_stats]
        if kind == 'batch':
            decoders.append(fast)
        elif kind == 'batch only':
            def refuse(b, st, e):
                raise AssertionError('a message of the kernel layout was not read by the batch path')
            refuse.many = fast.many
            decoders.append(refuse)
        elif kind == 'one by one':
            decoders.append(lambda b, st, e, f=fast: f(b, st, e))       # no `many`
        else:
            decoders.append(ipvs.make_dest_decoder(af, with_stats))
    try:
        results, errors = s.dumps(ipvs.CMD_GET_DEST, [b''] * len(keys), decoders)
    except Exception as e:  # pylint: disable=broad-except
        return 'raises', type(e), str(e)
    return [[(x, type(x), type(x.stats)) for x in r] for r in results], errors


@pytest.mark.parametrize('with_stats', [True, False])
def test_the_batch_path_reads_what_the_message_decoders_read(dest_dumps, with_stats):
    datagrams = dest_dumps[3]
    assert sum(1 for d in datagrams if len(d) > 20) > 80          # dumps with real servers, as datagrams
    want = replayed(dest_dumps, datagrams, 'generic', with_stats)
    assert want[0] and not want[1] and sum(len(r) for r in want[0]) > 200
    assert replayed(dest_dumps, datagrams, 'batch', with_stats) == want
    assert replayed(dest_dumps, datagrams, 'batch only', with_stats) == want
    assert replayed(dest_dumps, datagrams, 'one by one', with_stats) == want


@pytest.mark.parametrize('with_stats', [True, False])
def test_the_batch_path_with_random_byte_changes(dest_dumps, with_stats):
    rng = random.Random(5)
    datagrams = dest_dumps[3]
    data = [i for i, d in enumerate(datagrams) if len(d) > 20]
    original = replayed(dest_dumps, datagrams, 'generic', with_stats)
    differed = 0
    for _round in range(40):
        changed = list(datagrams)
        for i in rng.sample(data, 5):
            raw = bytearray(changed[i])
            for _j in range(rng.choice([1, 2, 4])):
                # mostly headers and the fields the layout check reads
                pos = rng.choice([rng.randrange(len(raw)), rng.randrange(0, 40), 356 + rng.randrange(0, 40)]) % len(raw)
                raw[pos] = rng.choice([0, 1, 2, 3, 10, 12, 0x80, 0xff, rng.randrange(256)])
            changed[i] = bytes(raw)
        want = replayed(dest_dumps, changed, 'generic', with_stats)
        assert replayed(dest_dumps, changed, 'batch', with_stats) == want
        assert replayed(dest_dumps, changed, 'one by one', with_stats) == want
        differed += want != original
    assert differed > 20
