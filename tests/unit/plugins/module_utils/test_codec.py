# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Golden bytes for every IPVS command and attribute, and the traps of DESIGN.md.

Expected bytes are written out by hand from include/uapi/linux/ip_vs.h (host
order is little-endian on the machines these run on); pyroute2's own IPVS
message class then decodes what we encode, as an independent reader.
"""

import socket
import struct
import sys

import pytest

from ansible_collections.lvs.ipvs.plugins.module_utils import _ipvs as ipvs
from ansible_collections.lvs.ipvs.plugins.module_utils import _netlink as nl
from ansible_collections.lvs.ipvs.plugins.module_utils._model import (
    F_HASHED, F_ONEPACKET, F_PERSISTENT, F_SCHED1, F_SCHED2, Daemon, make_server, make_service,
)

pytestmark = pytest.mark.skipif(sys.byteorder != 'little', reason='golden bytes are little-endian')


def h(text):
    return bytes.fromhex(text.replace(' ', ''))


TCP_SVC = make_service(family='ipv4', protocol='tcp', vip='192.0.2.10', vport=80, scheduler='wrr')


# ---------------------------------------------------------------- attribute primitives

def test_attr_padding_and_types():
    assert nl.attr_u8(13, 2) == h('0500 0d00 02 000000')
    assert nl.attr_u16(1, 2) == h('0600 0100 0200 0000')
    assert nl.attr_u32(5, 0xfffffffe) == h('0800 0500 feffffff')
    assert nl.attr_be16(4, 80) == h('0600 0400 0050 0000')
    assert nl.attr_str(6, 'wrr') == h('0800 0600 77727200')
    assert nl.attr_str(6, 'wlc1') == h('0900 0600 776c6331 00 000000')
    assert nl.nested(1, nl.attr_u32(5, 1)) == h('0c00 0180 0800 0500 01000000')


def test_parse_attrs_round_trip():
    body = nl.attr_u16(1, 10) + nl.attr_str(6, 'sh') + nl.attr_u32(8, 70000)
    a = nl.parse_attrs(body, 0, len(body))
    assert nl.get_uint(body, *a[1]) == 10
    assert nl.get_str(body, *a[6]) == 'sh'
    assert nl.get_uint(body, *a[8]) == 70000


# ---------------------------------------------------------------- services

def test_service_tcp_ipv4_full_entry():
    expected = (h('5400 0180')                                   # CMD_ATTR_SERVICE, nested
                + h('0600 0100 0200 0000')                       # AF = AF_INET
                + h('0600 0200 0600 0000')                       # PROTOCOL = TCP
                + h('1400 0300 c000020a') + b'\0' * 12           # ADDR, 16 bytes
                + h('0600 0400 0050 0000')                       # PORT 80, big endian
                + h('0800 0600 77727200')                        # SCHED_NAME "wrr"
                + h('0c00 0700 00000000 3d000000')               # FLAGS {flags 0, mask 0x3d}
                + h('0800 0800 00000000')                        # TIMEOUT 0
                + h('0800 0900 ffffffff'))                       # NETMASK 255.255.255.255 (be32)
    assert ipvs.encode_service(TCP_SVC) == expected


def test_service_fwmark_ipv6_persistent_prefix_netmask():
    svc = make_service(family='ipv6', fwmark=7, scheduler='sh', flags=F_PERSISTENT | F_SCHED1,
                       timeout=600, netmask='64', pe='sip')
    body = ipvs.encode_service(svc)
    a = nl.parse_attrs(body, 4, len(body))
    assert body[4:12] == h('0600 0100 0a00 0000')                # AF_INET6
    assert body[12:20] == h('0800 0500 07000000')                # FWMARK 7
    assert ipvs.SVC_ATTR_PROTOCOL not in a and ipvs.SVC_ATTR_ADDR not in a
    # Trap: the IPv6 netmask is a prefix length, not an IPv4-style mask.
    off, n = a[ipvs.SVC_ATTR_NETMASK]
    assert body[off:off + n] == h('40000000')
    off, n = a[ipvs.SVC_ATTR_FLAGS]
    assert struct.unpack('=II', body[off:off + n]) == (F_PERSISTENT | F_SCHED1, 0x3d)
    assert nl.get_uint(body, *a[ipvs.SVC_ATTR_TIMEOUT]) == 600
    assert nl.get_str(body, *a[ipvs.SVC_ATTR_PE_NAME]) == 'sip'


def test_service_ipv4_netmask_is_the_mask_bytes():
    svc = make_service(family='ipv4', protocol='udp', vip='192.0.2.1', vport=53, netmask='255.255.255.0',
                       flags=F_PERSISTENT, timeout=360)
    body = ipvs.encode_service(svc)
    a = nl.parse_attrs(body, 4, len(body))
    off, n = a[ipvs.SVC_ATTR_NETMASK]
    assert body[off:off + n] == h('ffffff00')


def test_update_sends_only_the_mask_it_is_asked_to_change():
    # Trap: a client that sends mask=~0 with flags=0 clears persistence it was not asked about.
    svc = TCP_SVC._replace(flags=F_ONEPACKET)
    body = ipvs.encode_service(svc, mask=F_ONEPACKET)
    a = nl.parse_attrs(body, 4, len(body))
    off, n = a[ipvs.SVC_ATTR_FLAGS]
    assert struct.unpack('=II', body[off:off + n]) == (F_ONEPACKET, F_ONEPACKET)


def test_hashed_flag_is_never_sent():
    body = ipvs.encode_service(TCP_SVC._replace(flags=F_HASHED | F_PERSISTENT))
    a = nl.parse_attrs(body, 4, len(body))
    off, _n = a[ipvs.SVC_ATTR_FLAGS]
    assert struct.unpack_from('=I', body, off)[0] == F_PERSISTENT


def test_service_ipv6_address_and_sctp():
    svc = make_service(family='ipv6', protocol='sctp', vip='2001:db8::10', vport=5060)
    body = ipvs.encode_service(svc)
    a = nl.parse_attrs(body, 4, len(body))
    off, n = a[ipvs.SVC_ATTR_ADDR]
    assert body[off:off + n] == socket.inet_pton(socket.AF_INET6, '2001:db8::10')
    assert nl.get_uint(body, *a[ipvs.SVC_ATTR_PROTOCOL]) == 132
    off, _n = a[ipvs.SVC_ATTR_PORT]
    assert body[off:off + 2] == h('13c4')


# ---------------------------------------------------------------- real servers

def test_dest_masq_full_entry():
    srv = make_server('10.0.0.2', 8080, forward='masq', weight=3, u_threshold=70000, l_threshold=5)
    expected = (h('4800 0280')
                + h('1400 0100 0a000002') + b'\0' * 12          # ADDR
                + h('0600 0200 1f90 0000')                       # PORT 8080 big endian
                + h('0600 0b00 0200 0000')                       # ADDR_FAMILY AF_INET
                + h('0800 0300 00000000')                        # FWD_METHOD MASQ
                + h('0800 0400 03000000')                        # WEIGHT 3
                + h('0800 0500 70110100')                        # U_THRESH 70000: u32, not u16
                + h('0800 0600 05000000'))                       # L_THRESH 5
    assert ipvs.encode_server(srv) == expected


def test_dest_gue_tunnel_port_is_network_order():
    srv = make_server('2001:db8::2', 80, forward='tun', tun_type='gue', tun_port=6080, tun_csum='remcsum')
    body = ipvs.encode_server(srv)
    a = nl.parse_attrs(body, 4, len(body))
    assert nl.get_uint(body, *a[ipvs.DEST_ATTR_FWD_METHOD]) == 2
    assert nl.get_uint(body, *a[ipvs.DEST_ATTR_ADDR_FAMILY]) == socket.AF_INET6
    assert nl.get_uint(body, *a[ipvs.DEST_ATTR_TUN_TYPE]) == 1
    off, n = a[ipvs.DEST_ATTR_TUN_PORT]
    assert body[off:off + n] == h('17c0')                        # trap: not host order
    assert nl.get_uint(body, *a[ipvs.DEST_ATTR_TUN_FLAGS]) == 2


def test_dest_delete_carries_identity_only():
    body = ipvs.encode_server(make_server('10.0.0.2', 80), full=False)
    a = nl.parse_attrs(body, 4, len(body))
    assert set(a) == {ipvs.DEST_ATTR_ADDR, ipvs.DEST_ATTR_PORT, ipvs.DEST_ATTR_ADDR_FAMILY}


def test_dest_request_names_its_service():
    op = ipvs.op_add_server(TCP_SVC.key, make_server('10.0.0.2', 80, forward='dr'))
    assert op.request.cmd == ipvs.CMD_NEW_DEST
    top = nl.parse_attrs(op.request.body, 0, len(op.request.body))
    assert set(top) == {ipvs.CMD_ATTR_SERVICE, ipvs.CMD_ATTR_DEST}


# ---------------------------------------------------------------- daemons, config, zero, flush, laddr

def test_daemon_attributes_are_nested():
    d = Daemon('backup', 'eth1', 9, 1400, '239.1.2.3', 8849, 2)
    body = ipvs.encode_daemon(d)
    assert body[:4] == struct.pack('=HH', len(body), ipvs.CMD_ATTR_DAEMON | nl.NLA_F_NESTED)
    expected_inner = (h('0800 0100 02000000')                    # STATE backup
                      + h('0900 0200 65746831 00 000000')        # MCAST_IFN "eth1"
                      + h('0800 0300 09000000')                  # SYNC_ID
                      + h('0600 0400 7805 0000')                 # SYNC_MAXLEN 1400
                      + h('0800 0500 ef010203')                  # MCAST_GROUP
                      + h('0600 0700 9122 0000')                 # MCAST_PORT 8849, host order
                      + h('0500 0800 02 000000'))                # MCAST_TTL
    assert body[4:] == expected_inner


def test_daemon_ipv6_group():
    body = ipvs.encode_daemon(Daemon('master', 'eth0', 0, None, 'ff02::81', None, None))
    a = nl.parse_attrs(body, 4, len(body))
    off, n = a[ipvs.DAEMON_ATTR_MCAST_GROUP6]
    assert body[off:off + n] == socket.inet_pton(socket.AF_INET6, 'ff02::81')
    assert ipvs.DAEMON_ATTR_MCAST_GROUP not in a


def test_stop_daemon_and_timeouts_and_table_ops():
    stop = ipvs.op_stop_daemon('master').request
    assert (stop.cmd, stop.body) == (ipvs.CMD_DEL_DAEMON, h('0c00 0380 0800 0100 01000000'))
    t = ipvs.op_set_timeouts(tcp=900, udp=30).request
    assert (t.cmd, t.body) == (ipvs.CMD_SET_CONFIG, h('0800 0400 84030000 0800 0500 00000000 0800 0600 1e000000'))
    assert ipvs.op_flush().request.cmd == ipvs.CMD_FLUSH and ipvs.op_flush().request.body == b''
    assert ipvs.op_zero().request.body == b''
    z = ipvs.op_zero(TCP_SVC.key).request
    assert z.cmd == ipvs.CMD_ZERO and z.body[:4] == h('3000 0180')


def test_laddr_encoding():
    op = ipvs.op_add_laddr(TCP_SVC.key, '10.1.0.5')
    assert op.request.cmd == 18
    top = nl.parse_attrs(op.request.body, 0, len(op.request.body))
    off, n = top[ipvs.CMD_ATTR_LADDR]
    assert op.request.body[off:off + n] == h('1400 0100 0a010005') + b'\0' * 12
    assert ipvs.op_delete_laddr(TCP_SVC.key, '10.1.0.5').request.cmd == 19


# ---------------------------------------------------------------- decoding what the kernel sends

def _stats_nest(atype, values, wide):
    parts = []
    for i, v in enumerate(values, 1):
        if wide or i in (4, 5):
            parts.append(nl.attr_u64(i, v))
        else:
            parts.append(nl.attr_u32(i, v))
    return nl.nested(atype, *parts)


def _kernel_service(svc, flags, stats64=True):
    """A service the way ip_vs_genl_fill_service writes it."""
    parts = ipvs.encode_service_key(svc.key)
    parts += [nl.attr_str(6, svc.scheduler), nl.attr(7, struct.pack('=II', flags, 0xffffffff)),
              nl.attr_u32(8, svc.timeout), ipvs.encode_netmask(svc.family, svc.netmask)]
    parts.append(_stats_nest(ipvs.SVC_ATTR_STATS, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], False))
    if stats64:
        parts.append(_stats_nest(ipvs.SVC_ATTR_STATS64, [1 << 33, 2, 3, 1 << 40, 5, 6, 7, 8, 9, 10], True))
    return nl.nested(ipvs.CMD_ATTR_SERVICE, *parts)


def test_decode_service_prefers_stats64():
    svc = make_service(family='ipv6', protocol='udp', vip='2001:db8::1', vport=53, scheduler='mh',
                       flags=F_PERSISTENT | F_SCHED2, timeout=300, netmask='96')
    body = _kernel_service(svc, F_PERSISTENT | F_HASHED | F_SCHED2)
    got = ipvs.decode_service(body, 0, len(body))
    assert got.config() == svc.config()
    assert got.stats.conns == 1 << 33 and got.stats.inbytes == 1 << 40
    assert got.sched_flags == ['mh-port'] and got.persistent


def test_decode_service_falls_back_to_stats_on_old_kernels():
    body = _kernel_service(TCP_SVC, 0, stats64=False)
    got = ipvs.decode_service(body, 0, len(body))
    assert got.stats.conns == 1 and got.rates.outbps == 10


def test_decode_dest_u32_counters_and_negative_weight():
    parts = [nl.attr(1, socket.inet_aton('10.0.0.2') + b'\0' * 12), nl.attr_be16(2, 80), nl.attr_u32(3, 3),
             nl.attr_u32(4, 0xffffffff), nl.attr_u32(5, 100000), nl.attr_u32(6, 0),
             nl.attr_u32(7, 70000), nl.attr_u32(8, 80000), nl.attr_u32(9, 90000), nl.attr_u16(11, 2),
             nl.attr_u8(13, 0), nl.attr_be16(14, 0), nl.attr_u16(15, 0)]
    body = nl.nested(ipvs.CMD_ATTR_DEST, *parts)
    got = ipvs.make_dest_decoder(socket.AF_INET)(body, 0, len(body))
    assert got.forward == 'dr' and got.weight == -1 and got.u_threshold == 100000
    assert (got.active_conns, got.inactive_conns, got.persist_conns) == (70000, 80000, 90000)
    assert got.tun_type is None and got.stats is None


def test_decode_dest_tunnel_info_and_mixed_family():
    parts = [nl.attr(1, socket.inet_pton(socket.AF_INET6, '2001:db8::5')), nl.attr_be16(2, 0),
             nl.attr_u32(3, 2), nl.attr_u32(4, 1), nl.attr_u32(5, 0), nl.attr_u32(6, 0),
             nl.attr_u32(7, 0), nl.attr_u32(8, 0), nl.attr_u32(9, 0), nl.attr_u16(11, socket.AF_INET6),
             nl.attr_u8(13, 1), nl.attr_be16(14, 6080), nl.attr_u16(15, 1)]
    body = nl.nested(ipvs.CMD_ATTR_DEST, *parts)
    got = ipvs.make_dest_decoder(socket.AF_INET)(body, 0, len(body))
    assert (got.family, got.rip, got.tun_type, got.tun_port, got.tun_csum) == ('ipv6', '2001:db8::5', 'gue', 6080, 'csum')


def test_decode_daemon_info_config():
    inner = [nl.attr_u32(1, 1), nl.attr_str(2, 'eth0'), nl.attr_u32(3, 5), nl.attr_u16(4, 1472),
             nl.attr_u16(7, 8848), nl.attr_u8(8, 1), nl.attr(5, socket.inet_aton('224.0.0.81'))]
    body = nl.nested(ipvs.CMD_ATTR_DAEMON, *inner)
    assert ipvs.decode_daemon(body, 0, len(body)) == Daemon('master', 'eth0', 5, 1472, '224.0.0.81', 8848, 1)
    info = nl.attr_u32(1, 0x010201) + nl.attr_u32(2, 4096)
    assert ipvs.decode_info(info, 0, len(info)) == ('1.2.1', 4096)
    cfg = nl.attr_u32(4, 900) + nl.attr_u32(5, 120) + nl.attr_u32(6, 300)
    assert tuple(ipvs.decode_config(cfg, 0, len(cfg))) == (900, 120, 300)


def test_decode_laddr():
    inner = [nl.attr(1, socket.inet_aton('10.1.0.5') + b'\0' * 12), nl.attr_u64(2, 1 << 35), nl.attr_u32(3, 12)]
    body = nl.nested(ipvs.CMD_ATTR_LADDR, *inner)
    got = ipvs.make_laddr_decoder('ipv4')(body, 0, len(body))
    assert (got.address, got.port_conflict, got.conn_counts) == ('10.1.0.5', 1 << 35, 12)


# ---------------------------------------------------------------- pyroute2 as an independent reader

def _pyroute2_decode(cmd, body):
    ipvsmod = pytest.importorskip('pyroute2.netlink.generic.ipvs')
    data = struct.pack('=IHHII', 20 + len(body), 0x20, 1, 1, 0) + struct.pack('=BBH', cmd, 1, 0) + body
    msg = ipvsmod.ipvsmsg(data)
    msg.decode()
    return msg


def test_pyroute2_reads_our_service():
    msg = _pyroute2_decode(ipvs.CMD_NEW_SERVICE, ipvs.encode_service(TCP_SVC))
    svc = msg.get_attr('IPVS_CMD_ATTR_SERVICE')
    assert svc.get_attr('IPVS_SVC_ATTR_AF') == socket.AF_INET
    assert svc.get_attr('IPVS_SVC_ATTR_PROTOCOL') == 6
    assert svc.get_attr('IPVS_SVC_ATTR_PORT') == 80
    assert svc.get_attr('IPVS_SVC_ATTR_SCHED_NAME') == 'wrr'
    assert svc.get_attr('IPVS_SVC_ATTR_TIMEOUT') == 0
    assert svc.get_attr('IPVS_SVC_ATTR_NETMASK') == '255.255.255.255'


def test_pyroute2_reads_our_dest():
    srv = make_server('10.0.0.2', 8080, forward='masq', weight=3, u_threshold=70000, l_threshold=5)
    msg = _pyroute2_decode(ipvs.CMD_NEW_DEST, ipvs.nested(ipvs.CMD_ATTR_SERVICE, *ipvs.encode_service_key(TCP_SVC.key))
                           + ipvs.encode_server(srv))
    dest = msg.get_attr('IPVS_CMD_ATTR_DEST')
    assert dest.get_attr('IPVS_DEST_ATTR_PORT') == 8080
    assert dest.get_attr('IPVS_DEST_ATTR_FWD_METHOD') == 0
    assert dest.get_attr('IPVS_DEST_ATTR_WEIGHT') == 3
    assert dest.get_attr('IPVS_DEST_ATTR_U_THRESH') == 70000
    assert dest.get_attr('IPVS_DEST_ATTR_ADDR_FAMILY') == socket.AF_INET


# ---------------------------------------------------------------- the fixed layouts the fast decoders expect

def _stats_pair(values):
    """STATS then STATS64 as Linux 6.1 writes them on x86-64 (no PAD attributes)."""
    s32 = b''.join((nl.attr_u64 if i in (4, 5) else nl.attr_u32)(i, v) for i, v in enumerate(values, 1))
    s64 = b''.join(nl.attr_u64(i, v) for i, v in enumerate(values, 1))
    return h('5c00 0a00') + s32 + h('7c00 0c00') + s64


KERNEL_DEST = (h('5001 0200')                                        # CMD_ATTR_DEST, 336 bytes, no nest flag
               + h('1400 0100 0a000002') + b'\0' * 12               # ADDR 10.0.0.2
               + h('0600 0200 1f90 0000')                           # PORT 8080
               + h('0800 0300 02000000')                            # FWD_METHOD tunnel
               + h('0800 0400 03000000')                            # WEIGHT 3
               + h('0500 0d00 01 000000')                           # TUN_TYPE gue
               + h('0600 0e00 17c0 0000')                           # TUN_PORT 6080
               + h('0600 0f00 0100 0000')                           # TUN_FLAGS csum
               + h('0800 0500 70110100')                            # U_THRESH 70000
               + h('0800 0600 05000000')                            # L_THRESH 5
               + h('0800 0700 01000000')                            # ACTIVE_CONNS
               + h('0800 0800 02000000')                            # INACT_CONNS
               + h('0800 0900 00000000')                            # PERSIST_CONNS
               + h('0600 0b00 0200 0000')                           # ADDR_FAMILY AF_INET
               + _stats_pair([1, 2, 3, 1 << 40, 5, 6, 7, 8, 9, 10]))

KERNEL_SERVICE = (h('3401 0100')                                     # CMD_ATTR_SERVICE, 92 + 216 bytes
                  + h('0600 0100 0200 0000')                        # AF
                  + h('0600 0200 0600 0000')                        # PROTOCOL TCP
                  + h('1400 0300 c000020a') + b'\0' * 12            # ADDR 192.0.2.10
                  + h('0600 0400 0050 0000')                        # PORT 80
                  + h('0800 0600 77727200')                         # SCHED_NAME "wrr"
                  + h('0800 0b00 73697000')                         # PE_NAME "sip"
                  + h('0c00 0700 03000000 ffffffff')                # FLAGS persistent|hashed, mask ~0
                  + h('0800 0800 68010000')                         # TIMEOUT 360
                  + h('0800 0900 ffffff00')                         # NETMASK 255.255.255.0
                  + _stats_pair([11, 12, 13, 14, 15, 16, 17, 18, 19, 20]))


def test_fast_decoders_read_the_kernels_layout():
    assert len(KERNEL_DEST) == 336 and len(KERNEL_SERVICE) == 308
    for with_stats in (True, False):
        srv = ipvs.make_fast_dest_decoder(socket.AF_INET, with_stats)(KERNEL_DEST, 0, len(KERNEL_DEST))
        assert srv == ipvs.make_dest_decoder(socket.AF_INET, with_stats)(KERNEL_DEST, 0, len(KERNEL_DEST))
        assert srv.config() == ('10.0.0.2', 8080, 'ipv4', 'tun', 3, 70000, 5, 'gue', 6080, 'csum')
        assert (srv.active_conns, srv.inactive_conns, srv.persist_conns) == (1, 2, 0)
        svc = ipvs.make_fast_service_decoder(with_stats)(KERNEL_SERVICE, 0, len(KERNEL_SERVICE))
        assert svc == ipvs.decode_service(KERNEL_SERVICE, 0, len(KERNEL_SERVICE), with_stats)
        assert svc.config() == ('ipv4', 'tcp', '192.0.2.10', 80, None, 'wrr', F_PERSISTENT, 360, '255.255.255.0', 'sip')
        if with_stats:
            assert tuple(srv.stats) + tuple(srv.rates) == (1, 2, 3, 1 << 40, 5, 6, 7, 8, 9, 10)
            assert tuple(svc.stats) + tuple(svc.rates) == tuple(range(11, 21))
        else:
            assert srv.stats is srv.rates is svc.stats is svc.rates is None


def test_the_fixed_layouts_are_what_the_fake_kernel_sends():
    """tests/fake_kernel.py was checked byte for byte against the VM's kernel."""
    import os
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
    from fake_kernel import FakeKernel  # pylint: disable=import-outside-toplevel
    fake = FakeKernel()
    svc = make_service('ipv4', 'tcp', '192.0.2.10', 80, scheduler='wrr', flags=F_PERSISTENT, timeout=360,
                       netmask='255.255.255.0', pe='sip')
    srv = make_server('10.0.0.2', 8080, forward='tun', weight=3, u_threshold=70000, l_threshold=5, tun_type='gue',
                      tun_port=6080, tun_csum='csum')
    fake.load([(svc, [srv])])
    fake.add_traffic(svc.key, srv, conns=1, inpkts=2, outpkts=3, inbytes=1 << 40, outbytes=5, rates=(6, 7, 8, 9, 10),
                     active=1, inactive=2, persist=0)
    kernel_svc = fake._service_order()[0]
    dest = kernel_svc.dests[0].encode()
    assert dest == KERNEL_DEST
    service = kernel_svc.encode(fake.hz)
    assert len(service) == len(KERNEL_SERVICE) and service[:92] == KERNEL_SERVICE[:92]
    assert service[92:96] == KERNEL_SERVICE[92:96] and service[184:188] == KERNEL_SERVICE[184:188]
