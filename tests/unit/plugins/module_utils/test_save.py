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


@pytest.mark.parametrize('spread', [1 << 8, 1 << 30, (1 << 31) - 1, 1 << 31, (1 << 32) - 1])
def test_the_key_sort_gives_ipvsadms_comparator_order(spread):
    """The fast key sort is taken only where it cannot differ from the
    comparator's order, wide address ranges (where ipvsadm's wrapped
    subtraction is not the numeric order) included."""
    import ipaddress
    import random
    rnd = random.Random(spread)
    for _trial in range(40):
        base = rnd.randrange(0, (1 << 32) - spread)
        services, servers = [], []
        for _i in range(rnd.randint(1, 50)):
            pick = rnd.random()
            if pick < 0.2:
                services.append(make_service(family=rnd.choice(['ipv4', 'ipv6']),
                                             fwmark=rnd.choice([1, 2, 0x7fffffff, 0x80000001, 0xffffffff])))
            elif pick < 0.4:
                services.append(make_service(family='ipv6', protocol='udp', vport=rnd.randint(1, 65535),
                                             vip=str(ipaddress.IPv6Address(rnd.getrandbits(128)))))
            else:
                services.append(make_service(family='ipv4', protocol=rnd.choice(['tcp', 'udp']), vport=rnd.choice([80, 443]),
                                             vip=str(ipaddress.IPv4Address(base + rnd.randrange(spread)))))
        for _i in range(rnd.randint(0, 30)):
            family = rnd.choice(['ipv4', 'ipv4', 'ipv6'])
            rip = (str(ipaddress.IPv4Address(base + rnd.randrange(spread))) if family == 'ipv4'
                   else str(ipaddress.IPv6Address(rnd.getrandbits(128))))
            servers.append(make_server(rip=rip, rport=rnd.choice([80, 8080]), family=family))
        for entries, item, cmp, plain in ((services, _save._service_item, _save._cmp_service_items,
                                           _save._plain_service_key),
                                          (servers, _save._server_item, _save._cmp_server_items,
                                           _save._plain_server_key)):
            assert _save._sorted_items(entries, item, cmp, plain) == _comparator_order(entries, item, cmp)
