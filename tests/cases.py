# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Bad inputs for each resource module and the words each must fail with.

Shared by the unit tests (against an in-memory IPVS) and the real-kernel tests
(where ipvsadm -Sn must read the same before and after). Server cases are
relative to the service 192.0.2.10:80 (tcp), which exists when they run.
"""

SERVICE_BAD = [
    (dict(vip='192.0.2.300', vport=80), "vip: '192.0.2.300' is not an IPv4 or IPv6 address"),
    (dict(vip='192.0.2.1', vport=65536), 'vport must be between 0 and 65535, got 65536'),
    (dict(vip='192.0.2.1', vport=-1), 'vport must be between 0 and 65535, got -1'),
    (dict(fwmark=0), 'fwmark must be between 1 and 4294967295, got 0'),
    (dict(fwmark=1 << 32), 'fwmark must be between 1 and 4294967295'),
    (dict(vip='192.0.2.1', vport=0), 'vport 0 (all ports) needs persistent: true'),
    (dict(vip='192.0.2.1', vport=80, scheduler='Bad Name'), 'scheduler must be a kernel scheduler name'),
    (dict(vip='192.0.2.1', vport=80, scheduler='wrr', sched_flags=['sh-port']),
     "sched_flags: sched_flags 'sh-port' is only valid with scheduler 'sh', not 'wrr'"),
    (dict(vip='192.0.2.1', vport=80, sched_flags=['fast']), 'value of sched_flags must be one or more of'),
    (dict(vip='192.0.2.1', vport=80, one_packet=True), 'one_packet is only for UDP or firewall-mark services'),
    (dict(vip='192.0.2.1', vport=80, persistence_timeout=100), 'persistence_timeout needs persistent: true'),
    (dict(vip='192.0.2.1', vport=80, persistent=True, persistence_timeout=0), 'persistence_timeout must be between 1'),
    (dict(vip='192.0.2.1', vport=80, persistent=True, netmask='255.0.255.300'), 'netmask: an IPv4 netmask is'),
    (dict(vip='2001:db8::1', vport=80, persistent=True, netmask='255.255.255.0'), 'netmask: an IPv6 netmask is a prefix length'),
    (dict(vip='2001:db8::1', vport=80, family='ipv4'), 'family is ipv4 but vip 2001:db8::1 is an ipv6 address'),
    (dict(vip='192.0.2.1'), 'missing parameter(s) required by \'vip\': vport'),
    (dict(vip='192.0.2.1', vport=80, fwmark=3), 'mutually exclusive: fwmark|vip'),
    (dict(vip='192.0.2.1', vport=80, servers=[dict(rip='10.0.0.1'), dict(rip='10.0.0.1')]),
     'servers[0] and servers[1] are the same real server 10.0.0.1:80'),
    (dict(vip='192.0.2.1', vport=80, servers=[dict(rip='2001:db8::5', forward='masq')]),
     'servers[0].rip 2001:db8::5 is ipv6 but the service TCP 192.0.2.1:80 is ipv4'),
    (dict(vip='192.0.2.1', vport=80, servers=[dict(rip='10.0.0.1', rport=8080)]),
     'servers[0].rport=8080: with forward=dr the real server receives the service port 80 unchanged'),
    (dict(vip='192.0.2.1', vport=80, servers=[dict(rip='10.0.0.1', forward='tun', tun_type='gue')]),
     'servers[0].tun_type=gue needs servers[0].tun_port'),
    (dict(vip='192.0.2.1', vport=80, servers=[dict(rip='10.0.0.1', forward='fnat')]), 'needs a FULLNAT kernel'),
]

SERVER_BAD = [
    (dict(rip='10.0.0.300'), "rip: '10.0.0.300' is not an IPv4 or IPv6 address"),
    (dict(rip='10.0.0.1', weight=-1), 'weight must be between 0 and 2147483647, got -1'),
    (dict(rip='10.0.0.1', forward='masq', rport=70000), 'rport must be between 0 and 65535, got 70000'),
    (dict(rip='10.0.0.1', u_threshold=-5), 'u_threshold must be between 0 and 2147483647'),
    (dict(rip='10.0.0.1', l_threshold=5), 'l_threshold (5) needs a u_threshold at least as high'),
    (dict(rip='10.0.0.1', l_threshold=50, u_threshold=10), 'l_threshold (50) needs a u_threshold at least as high'),
    (dict(rip='10.0.0.1', tun_type='gre'), 'tun_type only apply to forward=tun, not forward=dr'),
    (dict(rip='10.0.0.1', forward='tun', tun_port=5000), 'tun_port is only for tun_type=gue, not ipip'),
    (dict(rip='10.0.0.1', forward='tun', tun_csum='csum'), 'tun_csum is only for tun_type=gue or gre'),
    (dict(rip='10.0.0.1', forward='tun', tun_type='gre', tun_csum='remcsum'), 'tun_csum=remcsum is only for tun_type=gue'),
    (dict(rip='10.0.0.1', forward='tun', tun_type='gue', tun_port=0), 'tun_port must be between 1 and 65535'),
    (dict(rip='10.0.0.1', forward='teleport'), 'value of forward must be one of'),
    (dict(rip='10.0.0.1', vip='192.0.2.99'), 'virtual service TCP 192.0.2.99:80 does not exist; create it first'),
]

DAEMON_BAD = [
    (dict(role='master'), 'state is present but all of the following are missing: mcast_interface'),
    (dict(role='master', mcast_interface='x' * 16), 'mcast_interface must be an interface name of 1 to 15'),
    (dict(role='master', mcast_interface='eth0', syncid=256), 'syncid must be between 0 and 255, got 256'),
    (dict(role='master', mcast_interface='eth0', mcast_group='10.0.0.1'), 'mcast_group: 10.0.0.1 is not a multicast address'),
    (dict(role='master', mcast_interface='eth0', mcast_group='ff02::zz'), 'mcast_group: '),
    (dict(role='master', mcast_interface='eth0', mcast_port=0), 'mcast_port must be between 1 and 65535'),
    (dict(role='master', mcast_interface='eth0', mcast_ttl=300), 'mcast_ttl must be between 1 and 255'),
    (dict(role='master', mcast_interface='eth0', sync_maxlen=70000), 'sync_maxlen must be between 1 and 65507'),
    (dict(role='leader', mcast_interface='eth0'), 'value of role must be one of: master, backup'),
]

TIMEOUT_BAD = [
    (dict(tcp=0), 'tcp must be between 1 and 2147483 seconds, got 0'),
    (dict(tcp=-1), 'tcp must be between 1 and 2147483 seconds, got -1'),
    (dict(tcpfin=0), 'tcpfin must be between 1 and'),
    (dict(udp=-3), 'udp must be between 1 and'),
    (dict(tcpfin=10 ** 9), 'tcpfin must be between 1 and'),
    (dict(udp=2147484), 'udp must be between 1 and 2147483 seconds, got 2147484'),
    (dict(tcp='soon'), "argument 'tcp' is of type str and we were unable to convert to int"),
    ({}, 'one of the following is required: tcp, tcpfin, udp'),
    (dict(tcp=900, tcp_timeout=10), 'Unsupported parameters for (basic.py) module: tcp_timeout'),
    (dict(udp=[5]), "argument 'udp' is of type list and we were unable to convert to int"),
]

# On a mainline kernel: option errors come first, then the missing FULLNAT support.
# Each is merged into vip=192.0.2.10, vport=80; a None removes that option (see merged()).
LADDR_BAD = [
    (dict(addresses=['10.1.0.300']), "addresses[0]: '10.1.0.300' is not an IPv4 or IPv6 address"),
    (dict(addresses=['10.1.0.1', 'fe80::1']), 'addresses[1]: fe80::1 is ipv6 but the service is ipv4'),
    (dict(addresses='not-an-address'), "addresses[0]: 'not-an-address' is not an IPv4 or IPv6 address"),
    (dict(addresses=['10.1.0.1']), 'this kernel has no FULLNAT local-address support'),
    (dict(addresses=['10.1.0.1'], state='absent'), 'this kernel has no FULLNAT local-address support'),
    (dict(addresses=['10.1.0.1'], vport=70000), 'vport must be between 0 and 65535, got 70000'),
    (dict(addresses=['10.1.0.1'], vip='192.0.2.999'), "vip: '192.0.2.999' is not an IPv4 or IPv6 address"),
    (dict(addresses=['10.1.0.1'], vip=None, vport=None, fwmark=0), 'fwmark must be between 1 and 4294967295, got 0'),
    (dict(addresses=['10.1.0.1'], vip=None, vport=None), 'one of the following is required: vip, fwmark'),
    (dict(addresses=['10.1.0.1'], state='flushed'), 'value of state must be one of: present, absent'),
    (dict(addresses=['10.1.0.1'], protocol='icmp'), 'value of protocol must be one of: tcp, udp, sctp'),
]


def merged(base, args):
    """base updated with args, where a None in args removes the option."""
    out = dict(base, **args)
    return dict((k, v) for k, v in out.items() if v is not None)
