# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fixed-layout decoders against a real kernel: client.table() (the fast
path) reads exactly what the generic decoders read through GenlSocket.run()
(tests/reference_read.py's generic_table), field by
field, counters, rates and connection counts included, for a table with every
kind of service and real server, after some traffic; and on this kernel no
message falls back to the generic decoders."""

import collections
import os
import socket
import struct
import sys
import time

import pytest

from lvs_testlib import VIP, Topology

from ansible_collections.lvs.ipvs.plugins.module_utils import _ipvs as ipvs
from ansible_collections.lvs.ipvs.plugins.module_utils._model import Rates, Server, Service, Stats

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from reference_read import generic_table  # noqa: E402 pylint: disable=wrong-import-position

WEB = ('ipv4', 'tcp', VIP, 80, None)            # NAT to the Topology's two httpd backends
STICKY = ('ipv4', 'tcp', VIP, 8080, None)       # persistent (with a netmask), NAT to the same backends

# Loaded with ipvsadm -R; each line is of a kind the kernel accepts (the other
# real-kernel tests load the same kinds).
RULES = """\
-A -t 10.10.0.1:80 -s wrr
-a -t 10.10.0.1:80 -r 10.21.0.2:80 -m -w 3
-a -t 10.10.0.1:80 -r 10.22.0.2:80 -m -w 1 -x 100 -y 10
-A -t 10.10.0.1:8080 -s rr -p 300 -M 255.255.255.0
-a -t 10.10.0.1:8080 -r 10.21.0.2:80 -m -w 1
-a -t 10.10.0.1:8080 -r 10.22.0.2:80 -m -w 1
-A -t 10.0.0.1:443 -s sh -p 600 -M 255.255.255.0 -b sh-fallback,sh-port
-a -t 10.0.0.1:443 -r 10.1.0.4:443 -i -w 2 -x 70000 -y 300 --tun-type ipip
-a -t 10.0.0.1:443 -r 10.1.0.5:443 -i -w 1 --tun-type gue --tun-port 6080 --tun-remcsum
-a -t 10.0.0.1:443 -r 10.1.0.6:443 -i -w 1 --tun-type gue --tun-port 6081 --tun-csum
-a -t 10.0.0.1:443 -r 10.1.0.7:443 -i -w 1 --tun-type gue --tun-port 65535 --tun-nocsum
-a -t 10.0.0.1:443 -r 10.1.0.8:443 -i -w 1 --tun-type gre --tun-csum
-a -t 10.0.0.1:443 -r 10.1.0.9:443 -i -w 1 --tun-type gre --tun-nocsum
-A -u 10.0.0.1:53 -s rr -o
-a -u 10.0.0.1:53 -r 10.1.0.2:53 -m -w 0
-A -u 10.0.0.1:5060 -s rr -p 360 --pe sip
-a -u 10.0.0.1:5060 -r 10.1.0.3:5060 -g -w 1
-A --sctp-service 10.0.0.1:3868 -s mh -b mh-fallback,mh-port
-A -f 7 -s lc -p 360
-a -f 7 -r 10.1.0.2:0 -g -w 5
-A -t [2001:db8::10]:80 -s wlc -p 360 -M 64
-a -t [2001:db8::10]:80 -r 10.1.0.9:80 -i -w 1 --tun-type ipip
-a -t [2001:db8::10]:80 -r [2001:db8::2]:80 -m -w 1 -x 5 -y 2
-A -u [2001:db8::10]:53 -s dh
-a -u [2001:db8::10]:53 -r [2001:db8::3]:5353 -m -w 7
-A -f 8 -6 -s rr -b flag-1
-a -f 8 -6 -r [2001:db8::4]:0 -g -w 2
"""

# Kinds a kernel may refuse (tunnels of another family than the service with a
# gue or gre header, IPv6 gue and gre tunnels, the highest mark): added one by
# one, and those the kernel takes are compared like the rest.
OPTIONAL = (
    '-a -t [2001:db8::10]:80 -r 10.1.0.10:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum',
    '-a -t [2001:db8::10]:80 -r 10.1.0.11:80 -i -w 1 --tun-type gre --tun-nocsum',
    '-a -t [2001:db8::10]:80 -r [2001:db8::5]:80 -i -w 1 --tun-type gue --tun-port 6082 --tun-remcsum',
    '-a -t [2001:db8::10]:80 -r [2001:db8::6]:80 -i -w 1 --tun-type gre --tun-csum',
    '-a -t 10.0.0.1:443 -r [2001:db8::7]:443 -i -w 1 --tun-type ipip',
    '-a -t 10.0.0.1:443 -r [2001:db8::8]:443 -i -w 1 --tun-type gue --tun-port 6083 --tun-csum',
    '-A -f 4294967295 -s rr',
)


# ---------------------------------------------------------------- comparing

def _entry_differences(where, a, b):
    out = []
    if (type(a), type(b)) not in ((Service, Service), (Server, Server)):
        return ['%s: %s != %s' % (where, type(a).__name__, type(b).__name__)]
    for field in a._fields:
        x, y = getattr(a, field), getattr(b, field)
        # Namedtuples compare as tuples: a Stats equals a Rates or a plain tuple of the same values.
        if x != y or type(x) is not type(y):
            out.append('%s %s: %r != %r' % (where, field, x, y))
    return out


def differences(fast, generic):
    """Every field in which two tables differ, in words; [] when they are the same."""
    if len(fast) != len(generic):
        return ['%d services != %d' % (len(fast), len(generic))]
    out = []
    for (svc, servers), (svc2, servers2) in zip(fast, generic):
        where = svc.text() if isinstance(svc, Service) else repr(svc)
        out += _entry_differences(where, svc, svc2)
        if len(servers) != len(servers2):
            out.append('%s: %d real servers != %d' % (where, len(servers), len(servers2)))
            continue
        for srv, srv2 in zip(servers, servers2):
            out += _entry_differences('%s real server %s:%s' % (where, srv.rip, srv.rport), srv, srv2)
    return out


def without_rates(table):
    """The table with each rates field replaced by its type: the rates are the
    kernel's estimates, which it updates every 2 seconds (in 6.2 and later
    spread over that period, a part of the services and real servers at a
    time) and which keep decaying for minutes after traffic stops, so two reads
    apart in time may see them differ although nothing is wrong."""
    return [(svc._replace(rates=type(svc.rates)), [s._replace(rates=type(s.rates)) for s in servers])
            for svc, servers in table]


@pytest.fixture
def fallbacks(monkeypatch):
    """Counts calls of the generic decoders: decode_service(), the decoders
    make_dest_decoder() makes (also those the fast dest decoders fall back
    to: the fast decoders table() uses are made again here, around counted
    generic ones) and parse_attrs(), which every generic path goes through."""
    calls = collections.Counter()

    def counted(name, func):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return func(*args, **kwargs)
        return wrapper
    make_dest_decoder = ipvs.make_dest_decoder
    monkeypatch.setattr(ipvs, 'parse_attrs', counted('parse_attrs', ipvs.parse_attrs))
    monkeypatch.setattr(ipvs, 'decode_service', counted('decode_service', ipvs.decode_service))
    monkeypatch.setattr(ipvs, 'make_dest_decoder', lambda service_af, with_stats=True: counted(
        'decode_dest', make_dest_decoder(service_af, with_stats)))
    monkeypatch.setattr(ipvs, '_SERVICE_DECODERS', dict((w, ipvs.make_fast_service_decoder(w)) for w in (True, False)))
    monkeypatch.setattr(ipvs, '_DEST_DECODERS', dict(((af, w), ipvs.make_fast_dest_decoder(af, w))
                                                     for af in (socket.AF_INET, socket.AF_INET6)
                                                     for w in (True, False)))
    # The counting sees a fallback: a message too short for the fixed layout goes to the generic decoders.
    for decode in (ipvs._SERVICE_DECODERS[True], ipvs._DEST_DECODERS[socket.AF_INET, True]):
        with pytest.raises(KeyError):
            decode(b'', 0, 0)
    assert calls['decode_service'] == calls['decode_dest'] == 1 and calls['parse_attrs'] == 2
    calls.clear()
    return calls


def fast_table(client, with_stats, calls):
    """client.table(), asserting that it took the fast path for every message."""
    before = dict(calls)
    table = client.table(with_stats=with_stats)
    assert dict(calls) == before, 'client.table() fell back to the generic decoders: %s' % dict(
        (k, calls[k] - before.get(k, 0)) for k in calls)
    return table


def compare_live(client, with_stats, calls, attempts=12):
    """client.table() and generic_table() read one after the other, until
    they agree. Counters and connection counts move only with traffic (and
    conntrack timers of minutes); the rates may change between the two
    reads, so a few reads may be needed for a pair read between two updates.
    Returns (table, exact): exact when the rates were equal too; without
    that, all but the rates must be equal (see without_rates)."""
    close = None
    for _attempt in range(attempts):
        table = fast_table(client, with_stats, calls)
        generic = generic_table(client, with_stats)
        diff = differences(table, generic)
        if not diff:
            return table, True
        if not differences(without_rates(table), without_rates(generic)):
            close = table
        time.sleep(0.3)
    assert close is not None, 'the fast and the generic decoders read differently:\n' + '\n'.join(diff)
    return close, False


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


def kernel_messages(client, with_stats, calls):
    """client.table() and the payloads of the NEW_SERVICE and NEW_DEST messages
    the kernel sent for it: [(cmd, payload)]."""
    rec = Recorder(client.sock.sock)
    client.sock.sock = rec
    try:
        table = fast_table(client, with_stats, calls)
    finally:
        client.sock.sock = rec.sock
    out = []
    for data in rec.got:
        pos = 0
        while pos + 20 <= len(data):
            mlen, mtype = struct.unpack_from('=IH', data, pos)
            if mlen < 16:
                break
            if mtype == client.sock.family_id and data[pos + 16] in (ipvs.CMD_NEW_SERVICE, ipvs.CMD_NEW_DEST):
                out.append((data[pos + 16], data[pos + 20:pos + mlen]))
            pos += (mlen + 3) & ~3
    return table, out


def outcome(decode, payload):
    try:
        got = decode(payload, 0, len(payload))
    except Exception as e:  # pylint: disable=broad-except
        return 'raises', type(e)
    return got, type(got), type(got.stats), type(got.rates)


def compare_messages(messages, calls):
    """Each message decoded by the fast and by the generic decoder, from the
    same bytes (so the rates too are the same): the same result, and the fast
    one without a fallback. Returns how many were compared."""
    compared = 0
    for with_stats in (True, False):
        for cmd, payload in messages:
            if cmd == ipvs.CMD_NEW_SERVICE:
                pairs = [(ipvs.make_fast_service_decoder(with_stats),
                          lambda b, s, e, w=with_stats: ipvs.decode_service(b, s, e, w))]
            else:
                pairs = [(ipvs.make_fast_dest_decoder(af, with_stats), ipvs.make_dest_decoder(af, with_stats))
                         for af in (socket.AF_INET, socket.AF_INET6)]
            for fast, generic in pairs:
                before = dict(calls)
                got = outcome(fast, payload)
                assert dict(calls) == before, ('fell back to the generic decoder', cmd, payload.hex())
                assert got[0] != 'raises', (got, cmd, payload.hex())
                assert got == outcome(generic, payload), (cmd, payload.hex())
                compared += 1
    return compared


# ---------------------------------------------------------------- the test

@pytest.fixture
def topo():
    t = Topology()
    yield t
    t.close()


def test_the_fast_path_reads_what_the_generic_decoders_read(topo, fallbacks):
    client = ipvs.IpvsClient(netns=topo.lb.name)
    try:
        _run(topo, client, fallbacks)
    finally:
        client.close()


def _run(topo, client, calls):
    topo.lb.restore(RULES)
    accepted = [line for line in OPTIONAL
                if topo.lb.sh('ipvsadm %s >/dev/null 2>&1 && echo accepted || true' % line).strip() == 'accepted']

    # Traffic: eight connections through the NAT service, four through the
    # persistent one (its persistence template pins them to one backend).
    answers = topo.get(8)
    assert sum(answers.values()) == 8 and 'FAIL' not in answers, answers
    sticky = topo.cli.sh('for i in 1 2 3 4; do curl -s -m 5 http://%s:8080/ || echo FAIL; done' % VIP).split()
    assert len(sticky) == 4 and len(set(sticky)) == 1 and 'FAIL' not in sticky, sticky
    # The kernel publishes counters from its 2-second estimator: wait for them.
    deadline = time.time() + 15
    while time.time() < deadline and (client.service(WEB).stats.conns < 8 or client.service(STICKY).stats.conns < 4):
        time.sleep(0.5)
    time.sleep(2.5)     # and one more round, for the last packets' counters

    exact = {}
    for with_stats in (True, False):
        table, exact[with_stats] = compare_live(client, with_stats, calls)
        for svc, servers in table:
            assert isinstance(svc, Service) and all(isinstance(s, Server) for s in servers)
            for entry in [svc] + servers:
                if with_stats:
                    assert isinstance(entry.stats, Stats) and isinstance(entry.rates, Rates), entry
                else:
                    assert entry.stats is None and entry.rates is None, entry
    # Without stats nothing in the messages changes with time: the two reads must agree exactly.
    assert exact[False]

    table, messages = kernel_messages(client, True, calls)
    assert compare_messages(messages, calls) >= 2 * (len(table) + 2 * sum(len(s) for _v, s in table))

    # The table is what was loaded, and it has everything the decoders handle.
    services = dict((svc.key, svc) for svc, _servers in table)
    servers = [(svc, s) for svc, ss in table for s in ss]
    assert len(table) == RULES.count('-A ') + sum(1 for line in accepted if line.startswith('-A '))
    assert len(servers) == RULES.count('-a ') + sum(1 for line in accepted if line.startswith('-a '))
    assert set(svc.family for svc in services.values()) == {'ipv4', 'ipv6'}
    assert set(svc.protocol for svc in services.values()) == {None, 'tcp', 'udp', 'sctp'}
    assert any(svc.fwmark and svc.family == 'ipv6' for svc in services.values())
    assert any(svc.pe == 'sip' for svc in services.values())
    assert services[STICKY].persistent and services[STICKY].netmask == '255.255.255.0'
    assert services[('ipv6', 'tcp', '2001:db8::10', 80, None)].netmask == '64'
    assert set((s.tun_type, s.tun_csum) for _v, s in servers) >= {
        (None, None), ('ipip', None), ('gue', 'remcsum'), ('gue', 'csum'), ('gue', 'nocsum'), ('gre', 'csum'),
        ('gre', 'nocsum')}
    assert set(s.tun_port for _v, s in servers if s.tun_type == 'gue') >= {6080, 6081, 65535}
    assert any(s.family != svc.family for svc, s in servers)
    assert set((s.u_threshold, s.l_threshold) for _v, s in servers) >= {(0, 0), (100, 10), (70000, 300), (5, 2)}
    assert set(s.forward for _v, s in servers) == {'masq', 'dr', 'tun'}
    # Counters and connection counts of the traffic, 64-bit byte counters included.
    web, sticky_svc = services[WEB], services[STICKY]
    assert web.stats.conns == 8 and web.stats.inpkts > 8 and web.stats.outbytes > 0
    assert sticky_svc.stats.conns >= 4
    web_servers = [s for v, s in servers if v.key == WEB]
    assert sum(s.stats.conns for s in web_servers) == 8
    assert sum(s.active_conns + s.inactive_conns for s in web_servers) > 0
    assert sum(s.persist_conns for v, s in servers if v.key == STICKY) == 1
