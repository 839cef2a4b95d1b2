# -*- coding: utf-8 -*-
# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This is a private module_util of lvs.ipvs: it may change without notice.
"""The ipvsadm-save format (`ipvsadm -Sn`), emitted byte for byte and parsed back.

emit() follows ipvsadm 1.31's print_service_entry() in rule mode: services and
real servers sorted by ipvsadm's comparators (which compare addresses by a
wrapped 32-bit difference, so 10.0.0.1 sorts after 200.0.0.1), thresholds never
saved, a local real server saved as -g, ipip tunnels always named. parse()
reads that and the usual hand-written restore files (-A/-a lines with long or
short options) with ipvsadm's defaults and rules applied.
"""

from __future__ import absolute_import, division, print_function

import collections
import functools
import operator
import re
import shlex
import socket
import struct

from ansible_collections.lvs.ipvs.plugins.module_utils._model import (
    DAEMON_ROLES, DEFAULT_NETMASK, DEFAULT_PERSISTENCE_TIMEOUT, FAMILIES, F_ONEPACKET, F_PERSISTENT, F_SCHED_MASK,
    PROTOCOLS, SCHED_FLAG_ALIASES, SCHED_FLAG_BITS, Server, Timeouts,
    addr_port, make_server, make_service, normalize_ip, normalize_netmask, sched_flags_bits,
    service_text,
)

__metaclass__ = type

# What the parser accepts (ipvsadm's limits); the read-back predicates below hold to the same.
_INT31 = 0x7fffffff
_MAX_PERSISTENCE = 86400 * 31

SERVICE_SWITCH = {'tcp': '-t', 'udp': '-u', 'sctp': '--sctp-service'}
FORWARD_SWITCH = {'masq': '-m', 'tun': '-i', 'local': '-g', 'dr': '-g'}
TUN_CSUM_SWITCH = {'nocsum': '--tun-nocsum', 'csum': '--tun-csum', 'remcsum': '--tun-remcsum'}


# ---------------------------------------------------------------- ordering

def _wrapped(a, b):
    """a - b as ipvsadm computes it: u32 subtraction read as a signed int."""
    d = (a - b) & 0xffffffff
    return d - (1 << 32) if d & 0x80000000 else d


_BE32 = struct.Struct('>I')
_BE32X4 = struct.Struct('>4I')
_NO_WORDS = (0, 0, 0)


def _addr_words(family, addr):
    """The address as ipvsadm holds it: a 16-byte union read as 4 big-endian words."""
    if family == 'ipv4':
        return _BE32.unpack(socket.inet_pton(socket.AF_INET, addr)) + _NO_WORDS
    return _BE32X4.unpack(socket.inet_pton(socket.AF_INET6, addr))


def _cmp_words(w1, w2, count):
    """Compare as ipvsadm does: as many words as the first entry's family has."""
    for i in range(count):
        r = _wrapped(w1[i], w2[i])
        if r:
            return r
    return 0


# Sort items are computed once per entry: the comparators run O(n log n) times.

def _service_item(svc):
    words = _addr_words(svc.family, svc.vip) if svc.vip else (0, 0, 0, 0)
    return (svc.fwmark or 0, FAMILIES[svc.family], PROTOCOLS.get(svc.protocol, 0), words, svc.vport or 0)


def _cmp_service_items(a, b):
    r = _wrapped(a[0], b[0])
    if r:
        return r
    r = (a[1] - b[1]) or (a[2] - b[2])
    if r or a[0]:
        return r
    r = _cmp_words(a[3], b[3], 4 if a[1] == FAMILIES['ipv6'] else 1)
    return r or (a[4] - b[4])


def _server_item(srv):
    return (FAMILIES[srv.family], _addr_words(srv.family, srv.rip), srv.rport)


def _cmp_server_items(a, b):
    r = _cmp_words(a[1], b[1], 4 if a[0] == FAMILIES['ipv6'] else 1)
    return r or (a[2] - b[2])


def _sorted_by(entries, item, cmp):
    keyed = [(item(e), e) for e in entries]
    keyed.sort(key=functools.cmp_to_key(lambda x, y: cmp(x[0], y[0])))
    return [e for _item, e in keyed]


def _in_half_range(columns):
    """True when every column's values lie less than 2**31 apart: there the
    wrapped differences have the sign of the plain ones, and ipvsadm's order
    is the plain order of the items."""
    return all(max(c) - min(c) < 0x80000000 for c in columns)


def _sorted_items(entries, item, cmp, plain_key):
    """_sorted_by(), as a key sort where that gives the same order (a stable
    sort on one total order is unique) and it is several times faster."""
    keyed = [(item(e), e) for e in entries]
    if plain_key is not None and keyed:
        key = plain_key([k for k, _e in keyed])
        if key is not None:
            keyed.sort(key=lambda x: key(x[0]))
            return [e for _item, e in keyed]
    keyed.sort(key=functools.cmp_to_key(lambda x, y: cmp(x[0], y[0])))
    return [e for _item, e in keyed]


def _plain_service_key(items):
    if not _in_half_range([[i[0] for i in items]] + [[i[3][w] for i in items] for w in range(4)]):
        return None
    return lambda i: i          # fwmark services have no address and port: equal fields there


def _plain_server_key(items):
    if len(set(i[0] for i in items)) > 1:
        return None             # ipvsadm compares as many words as the left entry's family has
    if not _in_half_range([[i[1][w] for i in items] for w in range(4)]):
        return None
    return lambda i: (i[1], i[2])


def sort_table(table):
    """The table in ipvsadm's order: services, and the real servers of each."""
    services = _sorted_items([svc for svc, _servers in table], _service_item, _cmp_service_items,
                             _plain_service_key)
    servers = dict((svc.key, servers) for svc, servers in table)
    return [(svc, _sorted_items(servers[svc.key], _server_item, _cmp_server_items, _plain_server_key))
            for svc in services]


# ---------------------------------------------------------------- emit

def service_spec(svc):
    if svc.fwmark:
        return '-f %d%s' % (svc.fwmark, ' -6' if svc.family == 'ipv6' else '')
    return '%s %s' % (SERVICE_SWITCH[svc.protocol], addr_port(svc.family, svc.vip, svc.vport))


def service_rule(svc, spec=None):
    parts = ['-A', spec or service_spec(svc), '-s', svc.scheduler]
    if svc.persistent:
        parts += ['-p', str(svc.timeout)]
        if svc.netmask != ('128' if svc.family == 'ipv6' else '255.255.255.255'):
            parts += ['-M', svc.netmask]
    if svc.pe:
        parts += ['--pe', svc.pe]
    if svc.one_packet:
        parts.append('-o')
    line = ' '.join(parts)
    if svc.flags & sum(SCHED_FLAG_BITS.values()):
        # sh and mh print only their own names; ipvsadm writes " -b " even
        # when that leaves nothing (SCHED3 alone on sh or mh).
        named = svc.scheduler in SCHED_FLAG_ALIASES
        line += ' -b ' + ','.join(n for n in svc.sched_flags if not (named and n.startswith('flag-')))
    return line


def server_rule(spec, srv):
    # ipvsadm has no switch for bypass (or FULLNAT) and prints glibc's "(null)".
    line = '-a %s -r %s %s -w %d' % (spec, addr_port(srv.family, srv.rip, srv.rport),
                                     FORWARD_SWITCH.get(srv.forward, '(null)'), srv.weight)
    if srv.forward == 'tun' and srv.tun_type:
        line += ' --tun-type %s' % srv.tun_type
        if srv.tun_type == 'gue':
            line += ' --tun-port %d' % (srv.tun_port or 0)
        if srv.tun_type in ('gue', 'gre'):
            line += ' ' + TUN_CSUM_SWITCH[srv.tun_csum or 'nocsum']
    return line


def server_rule_full(spec, srv):
    """server_rule() with the thresholds ipvsadm -S leaves out (-x, -y)."""
    line = server_rule(spec, srv)
    if srv.u_threshold or srv.l_threshold:
        head, sep, tail = line.partition(' -w %d' % srv.weight)
        line = '%s%s -x %d -y %d%s' % (head, sep, srv.u_threshold, srv.l_threshold, tail)
    return line


def emit(table, sort=True, thresholds=False):
    """`ipvsadm -Sn` text of [(Service, [Server])]; with thresholds, -x/-y too."""
    if sort:
        table = sort_table(table)
    lines = []
    rule = server_rule_full if thresholds else server_rule
    for svc, servers in table:
        lines.append(service_rule(svc))
        spec = service_spec(svc)
        lines.extend(rule(spec, srv) for srv in servers)
    return ''.join(line + '\n' for line in lines)


def timeouts_rule(timeouts):
    return '--set %d %d %d' % (timeouts.tcp, timeouts.tcpfin, timeouts.udp)


def daemon_rule(d):
    parts = ['--start-daemon', d.role, '--mcast-interface', d.mcast_interface, '--syncid', str(d.syncid or 0)]
    for switch, value in (('--sync-maxlen', d.sync_maxlen), ('--mcast-group', d.mcast_group),
                          ('--mcast-port', d.mcast_port), ('--mcast-ttl', d.mcast_ttl)):
        if value:
            parts += [switch, str(value)]
    return ' '.join(parts)


def emit_restore(table, timeouts=None, daemons=()):
    """A file `ipvsadm -R` restores completely: it empties the table (-C), then
    services, real servers with thresholds and tunnels, timeouts and sync daemons."""
    text = '-C\n' + emit(table, thresholds=True)
    if timeouts is not None:
        text += timeouts_rule(timeouts) + '\n'
    for d in daemons:
        text += daemon_rule(d) + '\n'
    return text


# ---------------------------------------------------------------- lines read back without parsing

_NO_COUNTS = (0, 0, 0, None, None)
_ONLY_NO_COUNTS = {_NO_COUNTS}
_COUNTS_OF = operator.itemgetter(slice(10, None))     # a Server's counters, s[10:]
_IPV4_HOST = DEFAULT_NETMASK['ipv4']


def _service_reads_back(svc):
    """True when parse_rules() reads service_rule(svc) back to svc's
    configuration exactly (and accepts it): everything -A can say, and nothing
    it cannot (a timeout or netmask without persistence, scheduler flags, whose
    names ipvsadm writes in its own way)."""
    if svc.flags & F_SCHED_MASK:
        return False
    if svc.persistent:
        if not 1 <= svc.timeout <= _MAX_PERSISTENCE:
            return False
        if svc.netmask == '0':
            return False        # the kernel refuses it, and so does the parser
    elif svc.timeout or svc.pe or svc.netmask != DEFAULT_NETMASK[svc.family] or not (svc.fwmark or svc.vport):
        return False
    return not svc.one_packet or bool(svc.fwmark) or svc.protocol == 'udp'


def _server_reads_back(key, srv):
    """The same for server_rule_full(): -g, -m and -i with the service's
    family, a port ipvsadm keeps (DR and TUN take the service's port), tunnel
    options ipvsadm accepts (the kernel takes remote checksums on gre too),
    values in the range the parser accepts."""
    forward = srv.forward
    if forward not in ('masq', 'dr', 'tun') or (srv.family != key[0] and forward != 'tun') or srv.weight < 0:
        return False
    if forward != 'masq' and not key[4] and srv.rport != key[3]:
        return False
    if forward == 'tun' and (srv.tun_type is None or (srv.tun_type == 'gue') != bool(srv.tun_port)
                             or (srv.tun_csum == 'remcsum' and srv.tun_type != 'gue')):
        return False
    return srv.weight <= _INT31 and srv.u_threshold <= _INT31 and srv.l_threshold <= _INT31


def restore_blocks(table):
    """{service_spec(): (-A line, Service, [Server], [line])} of the services
    of `table` ((Service, [Server])): the lines emit() with thresholds writes
    for the service and each real server, None for one that parse_rules() would
    not read back to itself, and the objects as parse_rules() builds them
    (configuration only, no counters). Given to parse_rules() as `known`, a
    service's lines that say what it has are looked up instead of parsed: a
    file saved from the table it is applied to again is mostly such."""
    known = {}
    ipv4, switch, nothing, service_switch = 'ipv4', FORWARD_SWITCH, _NO_COUNTS, SERVICE_SWITCH
    for svc, servers in table:
        key = svc.key
        family, protocol, vip, vport, fwmark, scheduler, flags, timeout, netmask, pe = svc[:10]
        if family == ipv4 and vport and not (flags or timeout or pe or fwmark) and netmask == _IPV4_HOST:
            # The common service (IPv4 address and port; no flags, persistence timeout, PE or
            # netmask), whose -A line reads back as it is: service_spec(), service_rule() and
            # _service_reads_back() inlined, for thousands of services.
            spec = '%s %s:%d' % (service_switch[protocol], vip, vport)
            head_line = '-A %s -s %s' % (spec, scheduler)
        else:
            spec = service_spec(svc)
            head_line = service_rule(svc, spec) if _service_reads_back(svc) else None
        head = '-a %s -r ' % spec
        port = None if key[4] else key[3]     # what DR needs (a mark's servers keep their own)
        if key[0] == ipv4:
            # The common real server (IPv4 masq, or DR, no thresholds) in one format,
            # _server_reads_back() inlined: a table has tens of thousands of them.
            lines = ['%s%s:%d %s -w %d' % (head, s[0], s[1], switch[s[3]], s[4])
                     if (s[2] == ipv4 and not (s[5] or s[6]) and 0 <= s[4] <= _INT31
                         and (s[3] == 'masq' or (s[3] == 'dr' and (port is None or s[1] == port))))
                     else (server_rule_full(spec, s) if _server_reads_back(key, s) else None)
                     for s in servers]
        else:
            lines = [server_rule_full(spec, s) if _server_reads_back(key, s) else None for s in servers]
        if svc[10] is not None or svc[11] is not None:
            svc = svc._replace(stats=None, rates=None)
        counts = set(map(_COUNTS_OF, servers))
        if counts and counts != _ONLY_NO_COUNTS:
            servers = [s if s[10:] == nothing else tuple.__new__(Server, s[:10] + nothing) for s in servers]
        known[spec] = (head_line, svc, servers, lines)
    return known


def _pieces(text, known, line_known):
    """(first line number, lines to parse, None) and (first line number, None,
    (Service, [Server])) for the services whose -A line and real servers' lines
    are, as a block, exactly those of a service in `known` (restore_blocks()):
    the file cut at its -A lines, each piece compared whole in C. A piece that
    is not such a block is parsed line by line, with the known lines of the
    service whose spec its -A line starts with added to `line_known` first, to
    be looked up (there, or in any later piece: a line says what it says
    wherever it stands)."""
    if not known:
        yield 1, text.splitlines(), None
        return
    pieces = ('\n' + text).split('\n-A ')
    if len(pieces) == 1:
        yield 1, text.splitlines(), None
        return
    lineno = 1
    if pieces[0]:
        # The text before the first -A line; the '\n' in front was added above.
        lines = (pieces[0][1:] + '\n').splitlines()
        yield lineno, lines, None
        lineno += len(lines)
    last = len(pieces) - 1
    for i in range(1, last + 1):
        piece = '-A ' + pieces[i]
        if i == last and piece.endswith('\n'):
            piece = piece[:-1]
        lines = piece.split('\n')
        entry = known.get(lines[0][3:].partition(' -s ')[0])
        if entry is not None:
            head, svc, servers, their = entry
            if head == lines[0]:
                mine = lines[1:]
                if mine == their:
                    yield lineno, None, (svc, servers)
                    lineno += len(lines)
                    continue
                if mine == their[::-1]:
                    # A table made from a file in the file's order (ipvsadm -R, this module) lists
                    # it backwards. What the sorted comparison below would find, without sorting:
                    # the known lines are distinct (one real server each).
                    yield lineno, None, (svc, servers[::-1])
                    lineno += len(lines)
                    continue
                if None not in their and len(mine) == len(their) and sorted(mine) == sorted(their):
                    # The same lines in another order (the kernel lists the real servers last added first).
                    by_line = dict(zip(their, servers))
                    yield lineno, None, (svc, [by_line[line] for line in mine])
                    lineno += len(lines)
                    continue
            if head is not None:
                line_known[head] = (None, svc)
            for line, srv in zip(their, servers):
                if line is not None:
                    line_known[line] = (svc.key, srv, (srv[0], srv[1]))
        lines = piece.splitlines() if i == last else (piece + '\n').splitlines()
        yield lineno, lines, None
        lineno += len(lines)


# ---------------------------------------------------------------- parse

class RulesError(ValueError):
    pass


_ALIASES = {
    '--add-service': '-A', '--add-server': '-a', '--tcp-service': '-t', '--udp-service': '-u',
    '--fwmark-service': '-f', '--scheduler': '-s', '--persistent': '-p', '--netmask': '-M',
    '--real-server': '-r', '--gatewaying': '-g', '--ipip': '-i', '--masquerading': '-m',
    '--weight': '-w', '--u-threshold': '-x', '--l-threshold': '-y', '--ipv6': '-6', '--ops': '-o',
    '--sched-flags': '-b',
}
_FORWARD_OF = {'-g': 'dr', '-i': 'tun', '-m': 'masq'}


_AF_INET = socket.AF_INET
_inet_pton = socket.inet_pton
_inet_ntop = socket.inet_ntop


def _split_addr_port(text, what):
    """'a.b.c.d:p', '[v6]:p', or an address alone (port None)."""
    if text.startswith('['):
        addr, sep, rest = text[1:].partition(']')
        if not sep:
            raise RulesError("%s %r: missing ']'" % (what, text))
        port = rest[1:] if rest.startswith(':') else None
    elif text.count(':') == 1:
        addr, port = text.split(':')
    else:
        addr, port = text, None
    try:
        # What normalize_ip() finds first for any text inet_pton() takes as it
        # is, without its loop: a file has thousands of IPv4 addresses.
        family, addr = 'ipv4', _inet_ntop(_AF_INET, _inet_pton(_AF_INET, addr))
    except (OSError, ValueError):
        try:
            family, addr = normalize_ip(addr)
        except ValueError as e:
            raise RulesError("%s: %s" % (what, e))
    if port is not None:
        if not port.isdigit() or int(port) > 65535:
            raise RulesError("%s %r: port must be a number from 0 to 65535" % (what, text))
        port = int(port)
    return family, addr, port


def _int(value, what, low, high):
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise RulesError("%s must be a number, not %r" % (what, value))
    if what == 'fwmark' and n < 0:
        n &= 0xffffffff  # Debian's ipvsadm prints marks above 2^31 with %d
    if not low <= n <= high:
        raise RulesError("%s must be from %d to %d, not %d" % (what, low, high, n))
    return n


def _options(tokens):
    """[(switch, value or None)], with long options mapped to short ones."""
    takes_value = {'-t', '-u', '--sctp-service', '-f', '-s', '-M', '-r', '-w', '-x', '-y', '--pe', '-b',
                   '--tun-type', '--tun-port'}
    out = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        value = None
        if tok.startswith('--') and '=' in tok:
            tok, value = tok.split('=', 1)
        tok = _ALIASES.get(tok, tok)
        if value is None and tok in takes_value:
            if i + 1 >= len(tokens):
                raise RulesError("option %s needs a value" % tok)
            i += 1
            value = tokens[i]
        elif value is None and tok == '-p' and i + 1 < len(tokens) and tokens[i + 1].isdigit():
            i += 1
            value = tokens[i]
        out.append((tok, value))
        i += 1
    return out


def _service_key(opts, keys=None):
    """The service key of a line's options; `keys` caches it per spec text."""
    specs = [(o, v) for o, v in opts if o in ('-t', '-u', '--sctp-service', '-f')]
    if len(specs) != 1:
        raise RulesError("exactly one of -t, -u, --sctp-service or -f is needed")
    switch, value = specs[0]
    six = switch == '-f' and any(o == '-6' for o, _v in opts)
    if keys is None:
        return _spec_key(switch, value, six)
    key = keys.get((switch, value, six))
    if key is None:
        key = keys[(switch, value, six)] = _spec_key(switch, value, six)
    return key


def _spec_key(switch, value, six):
    if switch == '-f':
        return ('ipv6' if six else 'ipv4', None, None, None, _int(value, 'fwmark', 1, 0xffffffff))
    family, vip, vport = _split_addr_port(value, 'virtual service')
    protocol = {'-t': 'tcp', '-u': 'udp', '--sctp-service': 'sctp'}[switch]
    return (family, protocol, vip, vport or 0, None)


def _parse_service(opts, keys=None):
    key = _service_key(opts, keys)
    family, protocol, vip, vport, fwmark = key
    flags, timeout, netmask, scheduler, pe, sched_flags = 0, 0, None, 'wlc', None, []
    for o, v in opts:
        if o == '-s':
            scheduler = v
        elif o == '-p':
            flags |= F_PERSISTENT
            timeout = _int(v, 'persistence timeout', 1, _MAX_PERSISTENCE) if v else DEFAULT_PERSISTENCE_TIMEOUT
        elif o == '-M':
            try:
                netmask = normalize_netmask(v, family)
            except ValueError as e:
                raise RulesError(str(e))
        elif o == '--pe':
            pe = v
        elif o == '-o':
            flags |= F_ONEPACKET
        elif o == '-b':
            sched_flags = [f for f in v.split(',') if f]
        elif o not in ('-t', '-u', '--sctp-service', '-f', '-6', '-A'):
            raise RulesError("option %s does not belong on a service (-A) line" % o)
    if not fwmark and not vport and not flags & F_PERSISTENT:
        raise RulesError("Zero port specified for non-persistent service")
    if flags & F_ONEPACKET and not fwmark and protocol != 'udp':
        raise RulesError("One-Packet Scheduling is only for UDP virtual services")
    try:
        flags |= sched_flags_bits(sched_flags, scheduler)
    except ValueError as e:
        raise RulesError(str(e))
    return make_service(family=family, protocol=protocol, vip=vip, vport=vport, fwmark=fwmark,
                        scheduler=scheduler, flags=flags, timeout=timeout, netmask=netmask, pe=pe)


def _parse_server(opts, keys=None):
    key = _service_key(opts, keys)
    rip = rport = rfamily = None
    forward, weight, uth, lth = 'dr', 1, 0, 0
    tun_type, tun_port, tun_csum = None, None, None
    for o, v in opts:
        if o == '-r':
            rfamily, rip, rport = _split_addr_port(v, 'real server')
        elif o in _FORWARD_OF:
            forward = _FORWARD_OF[o]
        elif o == '-w':
            weight = _int(v, 'weight', 0, _INT31)
        elif o == '-x':
            uth = _int(v, 'upper threshold', 0, _INT31)
        elif o == '-y':
            lth = _int(v, 'lower threshold', 0, _INT31)
        elif o == '--tun-type':
            if v not in ('ipip', 'gue', 'gre'):
                raise RulesError("tunnel type must be ipip, gue or gre, not %r" % v)
            tun_type = v
        elif o == '--tun-port':
            tun_port = _int(v, 'tunnel port', 1, 65535)
        elif o in ('--tun-nocsum', '--tun-csum', '--tun-remcsum'):
            tun_csum = o[len('--tun-'):]
        elif o not in ('-t', '-u', '--sctp-service', '-f', '-6', '-a'):
            raise RulesError("option %s does not belong on a real server (-a) line" % o)
    if rip is None:
        raise RulesError("a real server line needs -r")
    if (tun_type or tun_port or tun_csum) and forward != 'tun':
        raise RulesError("tunnel options need -i (tunnel forwarding)")
    if tun_type == 'gue' and not tun_port:
        raise RulesError("a gue tunnel needs --tun-port")
    if tun_port and tun_type != 'gue':
        raise RulesError("--tun-port is only for gue tunnels")
    if tun_csum == 'remcsum' and tun_type != 'gue':
        raise RulesError("--tun-remcsum is only for gue tunnels")
    if tun_csum and tun_type not in ('gue', 'gre'):
        raise RulesError("checksum options are only for gue and gre tunnels")
    if rfamily != key[0] and forward != 'tun':
        raise RulesError("Different address family is allowed only for tunneling servers")
    if rport is None or (not key[4] and forward in ('dr', 'tun')):
        rport = key[3] or 0  # ipvsadm: DR and TUN servers keep the service port
    return key, make_server(rip, rport, family=rfamily, forward=forward, weight=weight, u_threshold=uth,
                            l_threshold=lth, tun_type=tun_type, tun_port=tun_port, tun_csum=tun_csum)


_FAST_FORWARD = {'-m': 'masq', '-g': 'dr', '-i': 'tun'}
_FAST_SWITCHES = ('-t', '-u', '-f')


def _fast_server(tokens, keys, reals, weights):
    """_parse_server() of the line ipvsadm -Sn writes for every real server but
    a tunnel with options, `-a -t|-u|-f SERVICE -r ADDR[:PORT] -m|-g|-i -w N`
    (8 tokens), with per-file caches of what the text repeats: each service's
    spec is on every one of its real-server lines, and a few weights and real
    servers serve many services. None for any other line, and for one the
    general parser would refuse, so that it decides and words the error."""
    if tokens[3] != '-r' or tokens[6] != '-w':
        return None
    forward = _FAST_FORWARD.get(tokens[5])
    switch = tokens[1]
    if forward is None or switch not in _FAST_SWITCHES:
        return None
    try:
        key = keys.get((switch, tokens[2], False))
        if key is None:
            key = _service_key([(switch, tokens[2])], keys)
        real = reals.get(tokens[4])
        if real is None:
            real = reals[tokens[4]] = _split_addr_port(tokens[4], 'real server')
        weight = weights.get(tokens[7])
        if weight is None:
            weight = weights[tokens[7]] = _int(tokens[7], 'weight', 0, _INT31)
    except RulesError:
        return None
    rfamily, rip, rport = real
    if rfamily != key[0] and forward != 'tun':
        return None
    if rport is None or (not key[4] and forward != 'masq'):
        rport = key[3] or 0
    return key, make_server(rip, rport, rfamily, forward, weight)


_QUOTING = re.compile(r'[\'"\\]')
# looked_up: the keys of the services whose -A line and every -a line were
# found in `known` (so they say exactly what that table has).
Rules = collections.namedtuple('Rules', 'table timeouts daemons stopped clear zero looked_up')


def zeroes(text):
    """Whether an ipvsadm file has a -Z line (read before the file is parsed)."""
    if '-Z' not in text and '--zero' not in text:
        return False        # one scan in C: the line loop costs a slow host most of a second
    return any(line.strip() in ('-Z', '--zero') for line in text.splitlines())


def parse(text):
    """[(Service, [Server])] of ipvsadm-save text, in the order given."""
    return parse_rules(text, table_only=True).table


def _parse_set(tokens):
    if len(tokens) != 4:
        raise RulesError("--set needs three values: tcp tcpfin udp (0 leaves one as it is)")
    values = [_int(v, name + ' timeout', 0, _INT31 // 1000) for v, name in zip(tokens[1:], ('tcp', 'tcpfin', 'udp'))]
    return Timeouts(*[v or None for v in values])


_DAEMON_SWITCHES = {'--mcast-interface': 'mcast_interface', '--syncid': 'syncid', '--sync-maxlen': 'sync_maxlen',
                    '--mcast-group': 'mcast_group', '--mcast-port': 'mcast_port', '--mcast-ttl': 'mcast_ttl'}
_DAEMON_RANGES = {'syncid': (0, 255), 'sync_maxlen': (1, 65507), 'mcast_port': (1, 65535), 'mcast_ttl': (1, 255)}


def _parse_daemon(tokens):
    if len(tokens) < 2 or tokens[1] not in DAEMON_ROLES:
        raise RulesError("%s needs a role: master or backup" % tokens[0])
    values = dict((f, None) for f in _DAEMON_SWITCHES.values())
    i = 2
    while i < len(tokens):
        tok, value = tokens[i], None
        if '=' in tok:
            tok, value = tok.split('=', 1)
        if tok not in _DAEMON_SWITCHES:
            raise RulesError("option %s does not belong on a %s line" % (tok, tokens[0]))
        if value is None:
            if i + 1 >= len(tokens):
                raise RulesError("option %s needs a value" % tok)
            i += 1
            value = tokens[i]
        name = _DAEMON_SWITCHES[tok]
        if name in _DAEMON_RANGES:
            value = _int(value, name, *_DAEMON_RANGES[name])
        elif name == 'mcast_group':
            try:
                value = normalize_ip(value)[1]
            except ValueError as e:
                raise RulesError("mcast_group: %s" % e)
        values[name] = value
        i += 1
    return tokens[1], values


def parse_rules(text, table_only=False, known=None):
    """Rules of an ipvsadm restore file: -A/-a lines, and unless table_only the
    -C, -Z, --set, --start-daemon and --stop-daemon lines ipvsadm -R accepts.
    `known` (restore_blocks()) gives the objects of lines seen before."""
    table = []
    index = {}          # service key -> its place in table
    listed = []         # the keys of the real servers of each service in table (None: not made yet)
    keys, reals, weights = {}, {}, {}
    timeouts, daemons, stopped, clear, zero = None, [], [], False, False
    looked_up, parsed = set(), set()
    line_known = {}
    for first, lines, block in _pieces(text, known, line_known):
        if block is not None:
            try:
                looked_up.add(_add_block(table, index, listed, *block))
            except RulesError as e:
                raise RulesError("line %d: %s" % (first, e))
            continue
        for lineno, raw in enumerate(lines, first):
            line = raw.strip()
            if not line or line.startswith('#'):
                continue
            hit = line_known.get(line) if line_known else None
            try:
                if hit is not None:
                    if hit[0] is None:
                        _add_service(table, index, listed, hit[1])
                        looked_up.add(hit[1].key)
                    else:
                        _add_server(table, index, listed, *hit)
                    continue
                try:
                    # shlex only where quoting could matter: it costs 20x a plain split.
                    tokens = shlex.split(line) if _QUOTING.search(line) else line.split()
                except ValueError as e:
                    raise RulesError("cannot split the line into words: %s" % e)
                cmd = tokens[0]
                found = _fast_server(tokens, keys, reals, weights) if cmd == '-a' and len(tokens) == 8 else None
                if found is not None:
                    _add_server(table, index, listed, *found)
                    parsed.add(found[0])
                    continue
                if not table_only and cmd in ('-C', '--clear', '-Z', '--zero') and len(tokens) == 1:
                    if cmd in ('-C', '--clear'):
                        if table:
                            raise RulesError("-C (clear) must come before the -A/-a lines it would empty")
                        clear = True
                    else:
                        zero = True
                    continue
                if not table_only and cmd in ('-Z', '--zero', '-C', '--clear'):
                    raise RulesError("%s takes no service in a table file (it zeroes or clears all); to zero one "
                                     "service use lvs.ipvs.ipvs_service zero_stats" % cmd)
                if not table_only and cmd == '--set':
                    timeouts = _parse_set(tokens)
                    continue
                if not table_only and cmd in ('--start-daemon', '--stop-daemon'):
                    role, values = _parse_daemon(tokens)
                    if cmd == '--stop-daemon':
                        stopped.append(role)
                        daemons = [d for d in daemons if d['role'] != role]
                    else:
                        if values['mcast_interface'] is None:
                            raise RulesError("--start-daemon needs --mcast-interface")
                        daemons = [d for d in daemons if d['role'] != role] + [dict(values, role=role)]
                    continue
                opts = _options(tokens)
                cmd = opts[0][0]
                if cmd == '-A':
                    _add_service(table, index, listed, _parse_service(opts, keys))
                elif cmd == '-a':
                    found = _parse_server(opts, keys)
                    _add_server(table, index, listed, *found)
                    parsed.add(found[0])
                else:
                    raise RulesError("only -A (add service), -a (add server), -C, -Z, --set, --start-daemon and "
                                     "--stop-daemon lines are understood, not %s" % cmd)
            except RulesError as e:
                raise RulesError("line %d: %s" % (lineno, e))
    return Rules(table, timeouts, daemons, stopped, clear, zero, looked_up - parsed)


def _add_service(table, index, listed, svc, list_servers=True):
    key = svc.key
    if key in index:
        raise RulesError("%s is defined twice" % service_text(key))
    index[key] = len(table)
    table.append((svc, []))
    listed.append(set() if list_servers else None)
    return key


def _add_block(table, index, listed, svc, servers):
    """A service with its real servers, all of them distinct (a block of
    restore_blocks()); returns its key."""
    # The real servers' keys are made only if another line names the service.
    key = _add_service(table, index, listed, svc, list_servers=False)
    # Copied: `servers` may be the current table's own list, and a later line may add to this one.
    table[-1][1].extend(servers)
    return key


def _add_server(table, index, listed, key, srv, srv_key=None):
    i = index.get(key)
    if i is None:
        raise RulesError("real server for %s, which no -A line above defines" % service_text(key))
    seen = listed[i]
    if seen is None:
        seen = listed[i] = set(s.key for s in table[i][1])
    if srv_key is None:
        srv_key = srv.key
    if srv_key in seen:
        raise RulesError("%s is listed twice" % srv.text())
    seen.add(srv_key)
    table[i][1].append(srv)
