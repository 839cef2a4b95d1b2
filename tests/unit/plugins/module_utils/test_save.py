# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""ipvsadm-save text: emitted as ipvsadm 1.31 prints it, parsed with its rules."""

import pytest

from ansible_collections.lvs.ipvs.plugins.module_utils import _save
from ansible_collections.lvs.ipvs.plugins.module_utils._model import (
    F_PERSISTENT, F_SCHED1, F_SCHED2, F_SCHED3, make_server, make_service,
)

# Written as `ipvsadm -Sn` prints it (sorted: fwmark 0 first, then family, protocol, address, port).
SAVED = """\
-A -t 192.0.2.10:80 -s wrr
-a -t 192.0.2.10:80 -r 10.20.0.2:80 -m -w 3
-a -t 192.0.2.10:80 -r 10.20.0.3:8080 -m -w 1
-A -t 192.0.2.10:443 -s sh -p 600 -M 255.255.255.0 -b sh-fallback,sh-port
-a -t 192.0.2.10:443 -r 10.20.0.2:443 -g -w 1
-a -t 192.0.2.10:443 -r 10.20.0.4:443 -i -w 2 --tun-type ipip
-A -u 192.0.2.10:53 -s rr -o
-a -u 192.0.2.10:53 -r 10.20.0.5:53 -i -w 1 --tun-type gue --tun-port 6080 --tun-remcsum
-a -u 192.0.2.10:53 -r [2001:db8::5]:53 -i -w 1 --tun-type gre --tun-csum
-A --sctp-service 192.0.2.10:3868 -s mh -b mh-port
-A -t [2001:db8::10]:80 -s wlc -p 360 -M 64
-a -t [2001:db8::10]:80 -r [2001:db8::2]:80 -m -w 0
-A -f 7 -s lc -p 360 --pe sip
-a -f 7 -r 10.20.0.2:0 -g -w 5
-A -f 8 -6 -s rr -b flag-1,flag-3
"""


def test_round_trip_is_byte_identical():
    table = _save.parse(SAVED)
    assert _save.emit(table) == SAVED


def test_parsed_values():
    table = _save.parse(SAVED)
    svc, servers = table[1]
    assert svc.scheduler == 'sh' and svc.flags == F_PERSISTENT | F_SCHED1 | F_SCHED2
    assert svc.timeout == 600 and svc.netmask == '255.255.255.0'
    assert servers[1].forward == 'tun' and servers[1].tun_type == 'ipip'
    gue, gre = table[2][1]
    assert (gue.tun_type, gue.tun_port, gue.tun_csum) == ('gue', 6080, 'remcsum')
    assert (gre.family, gre.tun_type, gre.tun_csum, gre.rport) == ('ipv6', 'gre', 'csum', 53)
    assert table[5][0].pe == 'sip' and table[5][0].fwmark == 7
    assert table[6][0].family == 'ipv6' and table[6][0].flags == F_SCHED1 | F_SCHED3


def test_sorting_follows_ipvsadm_wrapped_comparison():
    a = make_service(family='ipv4', protocol='tcp', vip='10.0.0.1', vport=80)
    b = make_service(family='ipv4', protocol='tcp', vip='200.0.0.1', vport=80)
    c = make_service(family='ipv4', protocol='tcp', vip='10.0.0.2', vport=80)
    text = _save.emit([(a, []), (b, []), (c, [])])
    assert text.splitlines() == ['-A -t 200.0.0.1:80 -s wlc', '-A -t 10.0.0.1:80 -s wlc',
                                 '-A -t 10.0.0.2:80 -s wlc']


def test_quirks_kept_for_byte_compatibility():
    sh3 = make_service(family='ipv4', protocol='tcp', vip='192.0.2.1', vport=80, scheduler='sh', flags=F_SCHED3)
    assert _save.service_rule(sh3) == '-A -t 192.0.2.1:80 -s sh -b '
    local = make_server('127.0.0.1', 80, forward='local', u_threshold=10, l_threshold=5)
    assert _save.server_rule('-t 192.0.2.1:80', local) == '-a -t 192.0.2.1:80 -r 127.0.0.1:80 -g -w 1'
    assert _save.service_rule(make_service(family='ipv4', fwmark=3)) == '-A -f 3 -s wlc'


def test_restore_files_with_long_options_and_ipvsadm_defaults():
    text = """
# hand written
-A --tcp-service 192.0.2.1:80 --scheduler wrr --persistent
--add-server --tcp-service 192.0.2.1:80 --real-server 10.0.0.1:8080 --gatewaying --weight 2 -x 100 -y 10
-a -t 192.0.2.1:80 -r 10.0.0.2 -m
"""
    (svc, servers), = _save.parse(text)
    assert svc.timeout == 360 and svc.persistent
    assert servers[0].rport == 80                     # DR keeps the service port, as ipvsadm forces
    assert (servers[0].u_threshold, servers[0].l_threshold) == (100, 10)
    assert servers[1].rport == 80 and servers[1].forward == 'masq'


@pytest.mark.parametrize('text, message', [
    ('-A -t 192.0.2.1:0 -s rr', 'Zero port specified for non-persistent service'),
    ('-A -t 192.0.2.1:80 -o', 'One-Packet Scheduling is only for UDP'),
    ('-A -t 192.0.2.1:80 -s rr -b sh-port', "only valid with scheduler 'sh'"),
    ('-A -t 192.0.2.300:80', 'not an IPv4 or IPv6 address'),
    ('-A -t 192.0.2.1:70000', 'port must be a number'),
    ('-A -t 192.0.2.1:80\n-a -t 192.0.2.1:80 -r 10.0.0.1 -g --tun-type gue', 'tunnel options need -i'),
    ('-A -t 192.0.2.1:80\n-a -t 192.0.2.1:80 -r 10.0.0.1 -i --tun-type gue', 'gue tunnel needs --tun-port'),
    ('-A -t 192.0.2.1:80\n-a -t 192.0.2.1:80 -r 2001:db8::1 -m', 'allowed only for tunneling'),
    ('-a -t 192.0.2.1:80 -r 10.0.0.1', 'which no -A line above defines'),
    ('-E -t 192.0.2.1:80', 'only -A (add service), -a (add server)'),
    ('-A -f 0', 'fwmark must be from 1'),
])
def test_bad_rules_name_the_line_and_the_problem(text, message):
    with pytest.raises(_save.RulesError) as e:
        _save.parse(text)
    assert message in str(e.value) and 'line ' in str(e.value)


def _comparator_order(entries, item, cmp):
    import functools
    keyed = [(item(e), e) for e in entries]
    keyed.sort(key=functools.cmp_to_key(lambda x, y: cmp(x[0], y[0])))
    return [e for _item, e in keyed]


HALF = 1 << 31
# Spreads of one address word (or fwmark) within a list: narrow ones, the widest
# the key sort may take (2**31 - 1), the boundary (2**31, where the wrapped
# difference turns negative) and past it.
NARROW_SPREADS = (0, 1, 2, 16, 1 << 16)
WIDE_SPREADS = (HALF - 1, HALF, HALF + 1)


class _Column:
    """Values of one column of a list: base + an offset in [0, spread], modulo
    2**32; with wide spreads, often the two ends (where the wrapped and the
    plain order of two values part at exactly 2**31)."""

    def __init__(self, rnd, spread, ends, top=False):
        self.rnd = rnd
        self.spread = spread
        self.ends = ends
        if top:         # near 2**32: offsets wrap around to small values
            self.base = rnd.choice([(1 << 32) - 1 - rnd.randrange(4), (1 << 32) - rnd.randrange(1, 1 << 16)])
        else:
            self.base = rnd.choice([0, 1, rnd.randrange(1 << 24), rnd.randrange(HALF - (1 << 16), HALF + (1 << 16)),
                                    rnd.randrange((1 << 32) - (1 << 31) - (1 << 20))])
        self.made = []

    def __call__(self):
        if self.ends and self.rnd.random() < 0.6:
            if len(self.made) < 2:
                offset = self.spread if self.made else 0     # both ends, early, so the boundary is really there
            else:
                offset = self.rnd.choice([0, self.spread])
        else:
            offset = self.rnd.randint(0, self.spread)
        self.made.append(offset)
        return (self.base + offset) & 0xffffffff


def _columns(rnd, count):
    """`count` columns for one list: mostly narrow ones, each spread on its own;
    in some lists one column is wide (up to and past the 2**31 boundary) or
    its base sits near 2**32 so that it wraps."""
    spreads = [rnd.choice(NARROW_SPREADS) for _i in range(count)]
    ends = [False] * count
    top = [False] * count
    pick = rnd.random()
    wide = rnd.randrange(count)
    if pick < 0.45:
        spreads[wide] = rnd.choice(WIDE_SPREADS)
        ends[wide] = rnd.random() < 0.7
    elif pick < 0.5:
        spreads[wide] = rnd.choice([0, 1, 16])
        top[wide] = True
    if count > 1 and rnd.random() < 0.5:
        spreads[0] = rnd.choice([0, 1])    # ties in the first word: the later words decide
    return [_Column(rnd, spreads[i], ends[i], top[i]) for i in range(count)]


def _v4(words):
    import ipaddress
    return str(ipaddress.IPv4Address(words[0]()))


def _v6(words):
    import ipaddress
    value = 0
    for w in words:
        value = (value << 32) | w()
    return str(ipaddress.IPv6Address(value))


def _service_list(rnd):
    family = rnd.choice(['ipv4', 'ipv6'])
    words = _columns(rnd, 4 if family == 'ipv6' else 1)
    marks = _columns(rnd, 1)[0] if rnd.random() < 0.3 else None
    mark_share = rnd.choice([0.2, 0.5, 1.0])
    services = []
    for _i in range(rnd.randint(2, 24)):
        if marks is not None and rnd.random() < mark_share:
            services.append(make_service(family=family, fwmark=marks() or 1, scheduler='rr'))
        else:
            services.append(make_service(family=family, protocol=rnd.choice(['tcp', 'udp', 'sctp']),
                                         vip=_v4(words) if family == 'ipv4' else _v6(words),
                                         vport=rnd.choice([1, 80, 443, 65535]), scheduler='rr'))
    return services


def _server_list(rnd):
    if rnd.random() < 0.2:
        # Both families in one list (tunnels), sharing word 0 and with other
        # ports: ipvsadm compares as many words as the left entry's family has,
        # so an IPv4 entry and an IPv6 one compare by port one way round and by
        # word 1 the other. The key sort must not be taken for such lists.
        shared = _columns(rnd, 1)[0]
        rest = _columns(rnd, 3)
        servers = []
        for i in range(rnd.randint(2, 12)):
            word0 = shared()
            family = ['ipv4', 'ipv6'][i % 2] if i < 2 else rnd.choice(['ipv4', 'ipv6'])
            if family == 'ipv4':
                rip = _v4([lambda w=word0: w])
            else:
                rip = _v6([lambda w=word0: w] + [lambda c=c: c() or 1 for c in rest])
            servers.append(make_server(rip, rnd.choice([0, 80, 8080, 65535]), family=family, forward='tun'))
        return servers
    family = rnd.choice(['ipv4', 'ipv6'])
    words = _columns(rnd, 4 if family == 'ipv6' else 1)
    return [make_server(_v4(words) if family == 'ipv4' else _v6(words), rnd.choice([0, 80, 8080, 65535]),
                        family=family) for _i in range(rnd.randint(2, 24))]


@pytest.mark.parametrize('seed', range(6))
def test_the_key_sort_gives_ipvsadms_comparator_order(seed, monkeypatch):
    """The fast key sort is taken only where it cannot differ from the
    comparator's order: lists of one family whose columns (fwmark, each
    address word) lie within less than 2**31, right up to that boundary, and
    the comparator where a column reaches it or wraps, or where an IPv4 and an
    IPv6 real server share a list. Most lists here pass the guard (the key
    path is counted); the rest sit at or past the boundary."""
    import random
    rnd = random.Random(seed)
    taken = {'service': 0, 'server': 0}
    refused = {'service': 0, 'server': 0}
    wide_taken = [0]        # key sorts of lists whose widest column spans 2**31 - 1 exactly
    lists = {'service': 0, 'server': 0}

    def counting(kind, plain):
        def wrapper(items):
            key = plain(items)
            if len(set(items)) > 1:
                if key is None:
                    refused[kind] += 1
                else:
                    taken[kind] += 1
                    columns = [[i[0] for i in items]] if kind == 'service' else []
                    columns += [[(i[3] if kind == 'service' else i[1])[w] for i in items] for w in range(4)]
                    wide_taken[0] += any(max(c) - min(c) == HALF - 1 for c in columns)
            return key
        return wrapper
    monkeypatch.setattr(_save, '_plain_service_key', counting('service', _save._plain_service_key))
    monkeypatch.setattr(_save, '_plain_server_key', counting('server', _save._plain_server_key))
    for _trial in range(150):
        for kind, entries, item, cmp, plain in (
                ('service', _service_list(rnd), _save._service_item, _save._cmp_service_items,
                 _save._plain_service_key),
                ('server', _server_list(rnd), _save._server_item, _save._cmp_server_items,
                 _save._plain_server_key)):
            lists[kind] += 1
            want = _comparator_order(entries, item, cmp)
            assert _save._sorted_items(entries, item, cmp, plain) == want, (kind, entries)
            for _again in range(2):         # another input order: the comparator's order may depend on it
                rnd.shuffle(entries)
                assert _save._sorted_items(entries, item, cmp, plain) == _comparator_order(entries, item, cmp)
    # Each list's guard ran three times (three input orders).
    for kind in lists:
        assert taken[kind] >= 3 * lists[kind] * 0.55, (kind, taken, refused, lists)
        assert refused[kind] >= 3 * lists[kind] * 0.1, (kind, taken, refused, lists)
    assert wide_taken[0] >= 20


def test_the_key_sort_stops_at_the_2_31_boundary():
    """Two values exactly 2**31 apart: ipvsadm's wrapped difference is -2**31
    both ways round, so the comparator puts the second of the two first
    whatever the input order, which no key sort does: the guard must refuse."""
    def check(entries, item, cmp, plain):
        assert plain([item(e) for e in entries]) is None
        assert _comparator_order(entries, item, cmp) == entries[::-1]    # the numeric order would keep them
        for order in (entries, entries[::-1]):
            assert _save._sorted_items(order, item, cmp, plain) == _comparator_order(order, item, cmp)
    server = (_save._server_item, _save._cmp_server_items, _save._plain_server_key)
    service = (_save._service_item, _save._cmp_service_items, _save._plain_service_key)
    low = make_server('10.0.0.1', 80)
    check([low, make_server('138.0.0.1', 80)], *server)                 # 10.0.0.1 + 2**31
    below = [low, make_server('137.255.255.255', 80)]                   # 2**31 - 1 above: the plain order holds
    assert _save._plain_server_key([_save._server_item(s) for s in below]) is not None
    assert _save._sorted_items(below, *server) == _comparator_order(below, *server[:2]) == below
    for word in range(4):
        words = [0x20010db8, 7, 7, 7]
        high = list(words)
        high[word] = (high[word] + HALF) & 0xffffffff
        check([make_server(_v6([lambda w=w: w for w in words]), 80),
               make_server(_v6([lambda w=w: w for w in high]), 80)], *server)
    check([make_service(family='ipv4', fwmark=1), make_service(family='ipv4', fwmark=HALF + 1)], *service)
    check([make_service(family='ipv6', protocol='udp', vip='2001:db8::1', vport=53),
           make_service(family='ipv6', protocol='udp', vip='2001:db8:0:0:8000::1', vport=53)], *service)
    # An IPv4 and an IPv6 tunnel server that share word 0: one comparison looks
    # at the port, the other at word 1.
    mixed = [make_server('10.0.0.1', 8080, family='ipv4', forward='tun'),
             make_server('a00:1:0:1::', 80, family='ipv6', forward='tun')]
    assert _save._plain_server_key([_save._server_item(s) for s in mixed]) is None
    assert _comparator_order(mixed[::-1], *server[:2]) == mixed[::-1]     # plain order would be mixed
    for order in (mixed, mixed[::-1]):
        assert _save._sorted_items(order, *server) == _comparator_order(order, *server[:2])


# ---------------------------------------------------------------- the fast path of real-server lines

# Services the server lines below may name (and some they name without defining them).
FAST_SERVICES = """\
-A -t 192.0.2.1:80 -s wrr
-A -u 192.0.2.1:53 -s rr
-A -t 192.0.2.1 -s rr -p
-A -t [2001:db8::1]:80 -s rr
-A -u [2001:db8::1]:53 -s rr
-A -f 7 -s rr
-A -f 7 -6 -s rr
-A -f 4294967291 -s rr
-A --sctp-service 192.0.2.1:3868 -s rr
"""

# Real-server lines of every shape: the usual 8 tokens (taken by the fast path
# or refused by it), the same values spelled otherwise, and invalid values
# whose error the general parser must word.
FAST_LINES = [
    '-a -t 192.0.2.1:80 -r 10.0.0.1:80 -m -w 1',
    '-a -t 192.0.2.1:80 -r 10.0.0.1:8080 -m -w 3',
    '-a -t 192.0.2.1:80 -r 10.0.0.1:8080 -g -w 3',              # DR: the service's port
    '-a -t 192.0.2.1:80 -r 10.0.0.1:8080 -i -w 3',              # TUN: the service's port, ipip
    '-a -t 192.0.2.1:80 -r 10.0.0.1 -m -w 1',                   # no port: the service's
    '-a -t 192.0.2.1:80 -r 10.0.0.1:080 -m -w 007',
    '-a -t 192.0.2.1:80 -r 10.0.0.1:0 -m -w 0',
    '-a -t 192.0.2.1:80 -r 10.0.0.1:65535 -m -w 2147483647',
    '-a -t 192.0.2.1:80 -r 10.0.0.1:65536 -m -w 1',
    '-a -t 192.0.2.1:80 -r 10.0.0.1:8o -m -w 1',
    '-a -t 192.0.2.1:80 -r 10.0.0.1: -m -w 1',
    '-a -t 192.0.2.1:80 -r 10.0.0.1:80 -m -w 2147483648',
    '-a -t 192.0.2.1:80 -r 10.0.0.1:80 -m -w -1',
    '-a -t 192.0.2.1:80 -r 10.0.0.1:80 -m -w +3',
    '-a -t 192.0.2.1:80 -r 10.0.0.1:80 -m -w 3_0',
    '-a -t 192.0.2.1:80 -r 10.0.0.1:80 -m -w \u0663',           # a digit int() reads, not ASCII
    '-a -t 192.0.2.1:80 -r 10.0.0.1:80 -m -w lots',
    '-a -t 192.0.2.1:80 -r 10.0.0.1:80 -m -w 0x10',
    '-a -t 192.0.2.1:80 -r 10.0.0.256:80 -m -w 1',
    '-a -t 192.0.2.1:80 -r 010.0.0.1:80 -m -w 1',
    '-a -t 192.0.2.1:80 -r localhost:80 -m -w 1',               # hostnames are not resolved
    '-a -t 192.0.2.1:80 -r real.example.com -m -w 1',
    '-a -t 192.0.2.1:80 -r [2001:db8::2]:80 -m -w 1',           # another family: only tunnels
    '-a -t 192.0.2.1:80 -r [2001:db8::2]:80 -i -w 1',
    '-a -t 192.0.2.1:80 -r [2001:db8::2] -i -w 1',
    '-a -t 192.0.2.1:80 -r 2001:db8::2 -i -w 1',
    '-a -t 192.0.2.1:80 -r ::ffff:10.0.0.1 -i -w 1',
    '-a -t 192.0.2.1:80 -r [10.0.0.1]:80 -m -w 1',
    '-a -t 192.0.2.1:80 -r [2001:db8::2:80 -i -w 1',
    '-a -t 192.0.2.1:80 -r [2001:db8::2]80 -i -w 1',
    '-a -u 192.0.2.1:53 -r 10.0.0.1:53 -g -w 1',
    '-a -u 192.0.2.1:53 -r 10.0.0.1:5353 -m -w 1',
    '-a -t 192.0.2.1:0 -r 10.0.0.1:80 -m -w 1',                 # the port-0 service is "192.0.2.1"
    '-a -t 192.0.2.1 -r 10.0.0.1:80 -m -w 1',
    '-a -t 192.0.2.1 -r 10.0.0.1:80 -g -w 1',
    '-a -t 192.0.2.1 -r 10.0.0.1 -m -w 1',
    '-a -t [2001:db8::1]:80 -r [2001:db8::2]:8080 -m -w 1',
    '-a -t [2001:db8::1]:80 -r [2001:DB8:0::2]:8080 -m -w 1',   # written otherwise: the same server
    '-a -t [2001:db8::1]:80 -r [2001:db8::3]:8080 -g -w 1',
    '-a -t [2001:db8::1]:80 -r 10.0.0.1:8080 -i -w 1',
    '-a -t [2001:db8::1]:80 -r 10.0.0.1:8080 -m -w 1',
    '-a -u [2001:db8::1]:53 -r [2001:db8::2]:53 -g -w 1',
    '-a -t [2001:db8:0::1]:80 -r [2001:db8::4]:80 -m -w 1',
    '-a -t 2001:db8::1:80 -r [2001:db8::4]:80 -m -w 1',
    '-a -f 7 -r 10.0.0.1 -m -w 1',                              # fwmark: no port is port 0
    '-a -f 7 -r 10.0.0.1:8080 -g -w 1',                         # and DR keeps the one given
    '-a -f 7 -r 10.0.0.2:8080 -i -w 1',
    '-a -f 7 -r [2001:db8::2]:80 -m -w 1',
    '-a -f 07 -r 10.0.0.3 -m -w 1',
    '-a -f -5 -r 10.0.0.1 -m -w 1',                             # Debian's ipvsadm prints marks above 2^31 as %d
    '-a -f 0 -r 10.0.0.1 -m -w 1',
    '-a -f 8 -r 10.0.0.1 -m -w 1',                              # no such service
    '-a -f x -r 10.0.0.1 -m -w 1',
    '-a -t 192.0.2.9:80 -r 10.0.0.1:80 -m -w 1',                # no such service
    '-a -t 192.0.2.1:99999 -r 10.0.0.1:80 -m -w 1',
    '-a -t 192.0.2.1:80 -r 10.0.0.1:80 -m -w 1',                # listed twice
    '-a -t -6 -r 10.0.0.1:80 -m -w 1',
    '-a -t 192.0.2.1:80 -r -m -m -w 1',
    '-a -t 192.0.2.1:80 -r 10.0.0.1:80 -w 1 -m',                # other orders, and other spellings
    '-a -r 10.0.0.5:80 -t 192.0.2.1:80 -m -w 1',
    '-a -t 192.0.2.1:80 -m -r 10.0.0.6:80 -w 1',
    '-a -t 192.0.2.1:80 -r 10.0.0.7:80 -m -w=1',
    '-a --tcp-service 192.0.2.1:80 -r 10.0.0.8:80 -m -w 1',
    '--add-server -t 192.0.2.1:80 -r 10.0.0.9:80 -m -w 1',
    '-a -t 192.0.2.1:80 -r 10.0.0.10:80 --masquerading -w 1',
    '-a -t 192.0.2.1:80 -r 10.0.0.11:80 -m --weight 1',
    '-a -t 192.0.2.1:80 --real-server=10.0.0.12:80 -m -w 1 -x 5',
    '-a -t 192.0.2.1:80 -r 10.0.0.13:80 -m -w 1 -x 100 -y 10',  # thresholds
    '-a -t 192.0.2.1:80 -r 10.0.0.14:80 -m -x 100 -y 10 -w 2',
    '-a -t 192.0.2.1:80 -r 10.0.0.15:80 -i -w 1 --tun-type ipip',
    '-a -t 192.0.2.1:80 -r 10.0.0.16:80 -i -w 1 --tun-type gre --tun-csum',
    '-a -t 192.0.2.1:80 -r 10.0.0.17:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-remcsum',
    '-a -t 192.0.2.1:80 -r 10.0.0.18:80 -m -w 1 --tun-type gre',
    '-a -t 192.0.2.1:80 -r 10.0.0.19:80 -m -w',
    '-a -t 192.0.2.1:80 -r 10.0.0.20:80 -m -w 1 -6',
    '-a -f 7 -6 -r [2001:db8::9]:80 -m -w 1',
    '-a -f 7 -6 -r [2001:db8::9]:80 -m',
    '-a --sctp-service 192.0.2.1:3868 -r 10.0.0.1:3868 -m -w 1',
    '-a -t 192.0.2.1:80 -u 192.0.2.1:53 -r 10.0.0.21:80 -m -w 1',
    '-a -t 192.0.2.1:80 -r 10.0.0.22:80 -m -w 1 -s rr',
    '-a -t 192.0.2.1:80 -r 10.0.0.23:80 -b -w 1',
    '-a -t 192.0.2.1:80 -r 10.0.0.24:80 -m -m 1',
    '-a -t "192.0.2.1:80" -r 10.0.0.25:80 -m -w 1',            # quoted: shlex, then the same 8 tokens
    "-a -t 192.0.2.1:80 -r ' 10.0.0.26:80' -m -w 1",
    "-a -t 192.0.2.1:80 -r '10.0.0.27 :80' -m -w 1",
    "-a -t 192.0.2.1:80 -r '10.0.0.28:80 ' -m -w ' 3'",
]


def _parse_both(text, monkeypatch):
    """What parse_rules() makes of text (a result or an error), with the fast
    path and with the general parser alone, and how many lines the fast path took."""
    taken = []
    fast = _save._fast_server

    def spy(*args):
        found = fast(*args)
        taken.append(found is not None)
        return found

    def outcome():
        try:
            return _save.parse_rules(text)
        except _save.RulesError as e:
            return 'error: %s' % e
    with monkeypatch.context() as m:
        m.setattr(_save, '_fast_server', spy)
        with_fast = outcome()
    with monkeypatch.context() as m:
        m.setattr(_save, '_fast_server', lambda *args: None)
        general = outcome()
    return with_fast, general, sum(taken)


def _same(a, b):
    """Equal, and of the same types all the way down (a Server, not a tuple; an int, not a bool)."""
    if isinstance(a, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


@pytest.mark.parametrize('line', FAST_LINES)
def test_the_fast_path_parses_each_line_as_the_general_parser(line, monkeypatch):
    with_fast, general, _taken = _parse_both(FAST_SERVICES + line + '\n', monkeypatch)
    assert _same(with_fast, general), (with_fast, general)


def test_the_fast_path_parses_a_whole_file_as_the_general_parser(monkeypatch):
    """All the valid lines in one file, each service's lines apart and together,
    so that the per-file caches serve lines after the first."""
    valid = []
    for line in FAST_LINES:
        with_fast, _general, _taken = _parse_both(FAST_SERVICES + line + '\n', monkeypatch)
        if not isinstance(with_fast, str):
            valid.append(line)
    assert len(valid) > 40
    seen, lines = set(), []
    for line in valid:
        # A real server once per service (the file would be refused): the first spelling of each.
        (_svc, servers), = [entry for entry in _save.parse(FAST_SERVICES + line + '\n') if entry[1]]
        ident = (_svc.key, servers[0].key)
        if ident not in seen:
            seen.add(ident)
            lines.append(line)
    for text in (FAST_SERVICES + '\n'.join(lines) + '\n',
                 FAST_SERVICES + '\n'.join(reversed(lines)) + '\n',
                 FAST_SERVICES + '\n'.join(lines) + '\n' + lines[0] + '\n',        # a duplicate at the end
                 FAST_SERVICES + '\n'.join(lines + [lines[3]] + lines[4:6]) + '\n',
                 SAVED + FAST_SERVICES.replace('-A -f 7 -s', '-A -f 9 -s') + '\n'.join(lines) + '\n'):
        with_fast, general, taken = _parse_both(text, monkeypatch)
        assert _same(with_fast, general), (with_fast, general)
        assert taken > 20         # the fast path was there to compare


def test_the_fast_path_is_taken_for_what_ipvsadm_writes(monkeypatch):
    text = _save.emit(_save.parse(SAVED))
    with_fast, general, taken = _parse_both(text, monkeypatch)
    assert _same(with_fast, general)
    assert taken == sum(1 for line in text.splitlines() if line.startswith('-a ') and len(line.split()) == 8) == 5


@pytest.mark.parametrize('seed', range(20))
def test_the_fast_path_on_random_files(seed, monkeypatch):
    """Random mixes of valid and invalid lines: the same table, or the same first error."""
    import random
    rnd = random.Random(seed)
    services = FAST_SERVICES.splitlines()
    lines = rnd.sample(services, rnd.randint(1, len(services)))
    for _i in range(rnd.randint(1, 30)):
        line = rnd.choice(FAST_LINES)
        if rnd.random() < 0.5:
            # Another real server, so that a file is not just duplicates.
            line = line.replace('10.0.0.1:', '10.0.%d.%d:' % (rnd.randrange(3), rnd.randrange(1, 4)))
        lines.insert(rnd.randint(0, len(lines)), line)
    with_fast, general, _taken = _parse_both('\n'.join(lines) + '\n', monkeypatch)
    assert _same(with_fast, general), (with_fast, general)
