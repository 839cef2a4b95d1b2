# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The /proc/net/ip_vs_conn parser on fixtures of each layout."""

import pytest

from ansible_collections.lvs.ipvs.plugins.module_utils import _ip_vs_conn as _conn

MAINLINE = """\
Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData
TCP 0A0A0002 A1B2 0A0A0001 0050 0A140002 0050 TIME_WAIT       118
UDP 0A0A0002 9C40 0A0A0001 13C4 0A140003 13C4 UDP             299 sip 1234@client.example
TCP 20010DB8000000000000000000000002 0001 0A0A0001 0050 0A140002 0050 NONE 1
"""

IPV6 = """\
Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData
TCP 2001:0db8:0000:0000:0000:0000:0000:0002 A1B2 2001:0db8:0000:0000:0000:0000:0000:0001 0050 0A140002 0050 ESTABLISHED     899
SCTP 2001:0db8:0000:0000:0000:0000:0000:0002 0BB8 2001:0db8:0000:0000:0000:0000:0000:0001 0BB8 2001:0db8:0000:0000:0000:0000:0001:0005 0BB8 ESTABLISHED      10
"""

SYNC = """\
Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Origin Expires
TCP 0A0A0002 A1B2 0A0A0001 0050 0A140002 0050 ESTABLISHED Local      899
"""

FULLNAT = """\
Pro FromIP   FPrt ToIP     TPrt LocalIP  LPrt DestIP   DPrt State       Expires
TCP 0A0A0002 A1B2 0A0A0001 0050 0A1E0005 1389 0A140002 0050 ESTABLISHED     899
"""


def test_mainline_ipv4_rows_and_pe_columns():
    rows = _conn.parse(MAINLINE.split('\nTCP 2001', maxsplit=1)[0])
    assert rows[0] == dict(protocol='tcp', client='10.10.0.2', cport=0xa1b2, vip='10.10.0.1', vport=80,
                           rip='10.20.0.2', rport=80, state='TIME_WAIT', expires=118)
    assert rows[1]['pe_name'] == 'sip' and rows[1]['pe_data'] == '1234@client.example'
    assert 'pe_name' not in rows[0]


def test_ipv6_rows_are_normalised_and_may_mix_with_ipv4_destinations():
    rows = _conn.parse(IPV6)
    assert rows[0]['client'] == '2001:db8::2' and rows[0]['vip'] == '2001:db8::1'
    assert rows[0]['rip'] == '10.20.0.2'            # IPv6 service, IPv4 tunnel destination
    assert rows[1]['protocol'] == 'sctp' and rows[1]['rip'] == '2001:db8::1:5' and rows[1]['rport'] == 3000


def test_sync_variant_has_origin():
    assert _conn.parse(SYNC)[0]['origin'] == 'Local'


def test_fullnat_layout_found_by_header_not_field_count():
    row = _conn.parse(FULLNAT)[0]
    assert (row['lip'], row['lport'], row['rip'], row['state'], row['expires']) == (
        '10.30.0.5', 0x1389, '10.20.0.2', 'ESTABLISHED', 899)


def test_garbage_is_an_error_not_a_wrong_answer():
    with pytest.raises(_conn.ConnFormatError):
        _conn.parse(MAINLINE)                          # 32 hex digits are no address
    with pytest.raises(_conn.ConnFormatError):
        _conn.parse("Pro Something Else\nTCP 1 2\n")
    with pytest.raises(_conn.ConnFormatError):
        _conn.parse(SYNC.splitlines()[0] + "\nTCP 0A0A0002 A1B2\n")


def test_empty_table_and_filters():
    assert _conn.parse(MAINLINE.splitlines()[0] + "\n") == []
    assert _conn.parse("") == []
    rows = _conn.parse(IPV6)
    assert [r['protocol'] for r in rows if _conn.matches(r, protocol='sctp')] == ['sctp']
    assert [r for r in rows if _conn.matches(r, vip='2001:db8::1', vport=80)] == rows[:1]


def test_read_from_a_file(tmp_path):
    p = tmp_path / 'ip_vs_conn'
    p.write_text(SYNC)
    assert len(_conn.read(str(p))) == 1
