# -*- coding: utf-8 -*-
# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This is a private module_util of lvs.ipvs: it may change without notice.
"""The connection table, /proc/net/ip_vs_conn (it is not offered over netlink).

Layouts differ between kernels (mainline, with persistence-engine columns,
the _sync variant with Origin, FULLNAT kernels with LocalIP/LPrt), so columns
are found by the header's names, never by counting fields. IPv4 addresses are
8 hex digits, IPv6 ones are written out in full; ports are 4 hex digits.
"""

from __future__ import absolute_import, division, print_function

import socket

__metaclass__ = type

PROC_PATH = '/proc/net/ip_vs_conn'

# header name -> (key in the result, kind)
COLUMNS = {
    'Pro': ('protocol', 'proto'),
    'FromIP': ('client', 'addr'),
    'FPrt': ('cport', 'port'),
    'ToIP': ('vip', 'addr'),
    'TPrt': ('vport', 'port'),
    'LocalIP': ('lip', 'addr'),
    'LPrt': ('lport', 'port'),
    'DestIP': ('rip', 'addr'),
    'DPrt': ('rport', 'port'),
    'State': ('state', 'text'),
    'Origin': ('origin', 'text'),
    'Expires': ('expires', 'int'),
}
TRAILING = ('PEName', 'PEData')


class ConnFormatError(ValueError):
    pass


def _addr(token):
    if ':' in token:
        return socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, token))
    if len(token) == 8:
        return socket.inet_ntoa(bytes.fromhex(token))
    raise ConnFormatError("unexpected address %r" % token)


_CONVERT = {
    'proto': lambda t: t.lower(),
    'addr': _addr,
    'port': lambda t: int(t, 16),
    'text': lambda t: t,
    'int': int,
}


def parse(text):
    """Rows of an ip_vs_conn file as dicts in ipvs_info's vocabulary."""
    lines = text.splitlines()
    if not lines:
        return []
    header = lines[0].split()
    fixed = [h for h in header if h not in TRAILING]
    unknown = [h for h in fixed if h not in COLUMNS]
    if unknown or 'Pro' not in fixed:
        raise ConnFormatError("unknown ip_vs_conn header %r" % lines[0])
    columns = [COLUMNS[h] for h in fixed]
    rows = []
    for line in lines[1:]:
        tokens = line.split()
        if not tokens:
            continue
        if len(tokens) < len(columns):
            raise ConnFormatError("short ip_vs_conn row %r" % line)
        row = {}
        for (key, kind), token in zip(columns, tokens):
            try:
                row[key] = _CONVERT[kind](token)
            except (ValueError, OSError):
                raise ConnFormatError("bad %s %r in ip_vs_conn row %r" % (key, token, line))
        rest = tokens[len(columns):]
        if rest:  # persistence-engine columns are filled only for such connections
            row['pe_name'] = rest[0]
            row['pe_data'] = ' '.join(rest[1:]) if len(rest) > 1 else None
        rows.append(row)
    return rows


def read(path=None):
    """Parse the connection table; an absent file (no ip_vs) reads as empty."""
    try:
        with open(path or PROC_PATH) as f:
            text = f.read()
    except (IOError, OSError):
        if path:
            raise
        return []
    return parse(text)


def matches(row, vip=None, vport=None, protocol=None):
    return ((vip is None or row.get('vip') == vip)
            and (vport is None or row.get('vport') == vport)
            and (protocol is None or row.get('protocol') == protocol))
