# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""_save.restore_blocks(): the lines of the current table that parse_rules()
looks up instead of parsing, a service's lines at once where the file has
them together. The lookup must change nothing: every line it knows parses to
exactly the object it gives, and a file read with it is the same table, or
the same error at the same line, as without it."""

import os
import random
import sys

import pytest

from ansible_collections.lvs.ipvs.plugins.module_utils import _ipvs, _save, _table
from ansible_collections.lvs.ipvs.plugins.module_utils._model import (
    F_ONEPACKET, F_PERSISTENT, F_SCHED1, make_server, make_service,
)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_fast_decode import loaded_fake  # noqa: E402 pylint: disable=wrong-import-position
from test_save import SAVED, _same  # noqa: E402 pylint: disable=wrong-import-position


def decoded(fake):
    """The fake's table as the client reads it (counters and stats included)."""
    with fake.installed():
        return _ipvs.IpvsClient(modprobe=fake.modprobe).table(with_stats=True)


def restorable(table):
    """The table without what the kernel takes and ipvsadm refuses (a persistence
    timeout of 0, -o on TCP, remote checksums on gre): the lines that parse."""
    out = []
    for svc, servers in table:
        if isinstance(parsed(_save.service_rule(svc) + '\n'), str):
            continue
        spec = _save.service_spec(svc)
        out.append((svc, [srv for srv in servers
                          if not isinstance(parsed(context(svc) + _save.server_rule_full(spec, srv) + '\n'), str)]))
    return out


def parsed(text, known=None):
    try:
        return _save.parse_rules(text, known=known)
    except _save.RulesError as e:
        return 'error: %s' % e


def table_of(rules):
    """What a parse says, apart from which services the lookup found whole."""
    return rules if isinstance(rules, str) else rules._replace(looked_up=None)


def context(svc):
    """A service line with svc's address that any real server line can follow."""
    return '-A %s -s rr -p 60\n' % _save.service_spec(svc)


def assert_each_line_parses_to_its_object(table):
    known = _save.restore_blocks(table)
    for spec, (head, obj, servers, lines) in known.items():
        assert spec == _save.service_spec(obj)
        # The inlined common cases render what the general functions do.
        assert head == (_save.service_rule(obj, spec) if _save._service_reads_back(obj) else None)
        assert lines == [_save.server_rule_full(spec, srv) if _save._server_reads_back(obj.key, srv) else None
                         for srv in servers]
        if head is not None:
            (svc, _servers), = _save.parse_rules(head + '\n').table
            assert _same(svc, obj), (head, svc, obj)
        have_servers, = [have for svc, have in table if svc.key == obj.key]
        assert len(servers) == len(lines) == len(have_servers)
        for line, srv in zip(lines, servers):
            if line is not None:
                (_svc, parsed_servers), = _save.parse_rules(context(obj) + line + '\n').table
                assert _same(parsed_servers[0], srv), (line, parsed_servers[0], srv)
    return known


def only_entry(table):
    """The one entry of restore_blocks() of a one-service table."""
    entries = list(_save.restore_blocks(table).values())
    assert len(entries) == 1
    return entries[0]


def known_lines(known):
    return sum((entry[0] is not None) + len([line for line in entry[3] if line is not None]) for entry in known.values())


@pytest.mark.parametrize('seed', range(8))
def test_every_known_line_of_a_decoded_table_parses_to_its_object(seed):
    """Tables of every kind of service and real server, with traffic, as the
    client decodes them: the objects known are configuration only."""
    table = decoded(loaded_fake(random.Random(seed)))
    known = assert_each_line_parses_to_its_object(table)
    objects = sum(1 + len(servers) for _svc, servers in table)
    assert objects * 0.3 < known_lines(known) < objects     # most are known, not all (sched flags, DR ports)
    assert any(None in entry[3] for entry in known.values()) and any(entry[0] is None for entry in known.values())
    for _head, svc, servers, _lines in known.values():
        assert svc.stats is None and svc.rates is None
        assert all(srv[10:] == (0, 0, 0, None, None) for srv in servers)
    current = dict((svc.key, servers) for svc, servers in table)
    for _head, svc, servers, _lines in known.values():
        assert [srv.config() for srv in servers] == [srv.config() for srv in current[svc.key]]


SVC = make_service('ipv4', 'tcp', '192.0.2.1', 80, scheduler='wrr')
FWM = make_service('ipv6', fwmark=9, scheduler='rr')


@pytest.mark.parametrize('svc, known', [
    (SVC, True),
    (SVC._replace(flags=F_PERSISTENT, timeout=300), True),
    (SVC._replace(flags=F_PERSISTENT, timeout=86400 * 31, netmask='255.255.0.0', pe='sip'), True),
    (FWM._replace(flags=F_ONEPACKET), True),
    (make_service('ipv4', 'udp', '192.0.2.1', 53, flags=F_ONEPACKET), True),
    (SVC._replace(flags=F_ONEPACKET), False),                   # -o only for UDP and marks
    (SVC._replace(flags=F_PERSISTENT, timeout=86400 * 31 + 1), False),
    (SVC._replace(flags=F_PERSISTENT, timeout=0), False),
    (SVC._replace(timeout=300), False),                         # not written without -p
    (SVC._replace(netmask='255.255.0.0'), False),
    (SVC._replace(pe='sip'), False),
    (SVC._replace(vport=0), False),                             # port 0 needs persistence
    (SVC._replace(flags=F_SCHED1), False),                      # written under ipvsadm's names
    (FWM._replace(flags=F_PERSISTENT, timeout=60, netmask='0'), False),
])
def test_services_known_and_not(svc, known):
    head = only_entry([(svc, [])])[0]
    assert (head is not None) is known
    assert_each_line_parses_to_its_object([(svc, [])])


@pytest.mark.parametrize('srv, known', [
    (make_server('10.0.0.1', 80, forward='dr'), True),
    (make_server('10.0.0.1', 8080, forward='masq', weight=0x7fffffff, u_threshold=9, l_threshold=2), True),
    (make_server('10.0.0.1', 80, forward='tun', tun_type='gue', tun_port=6080, tun_csum='remcsum'), True),
    (make_server('2001:db8::1', 80, forward='tun', tun_type='gre'), True),
    (make_server('2001:db8::1', 80, forward='dr'), False),      # another family only through a tunnel
    (make_server('10.0.0.1', 8080, forward='dr'), False),       # DR and TUN take the service's port
    (make_server('10.0.0.1', 8080, forward='tun'), False),
    (make_server('10.0.0.1', 80, forward='local'), False),      # written as -g
    (make_server('10.0.0.1', 80, forward='bypass'), False),
    (make_server('10.0.0.1', 80, forward='masq', u_threshold=0x80000000), False),
    (make_server('10.0.0.1', 80, forward='tun')._replace(tun_type=None), False),
    (make_server('10.0.0.1', 80, forward='tun', tun_type='gue', tun_port=6080)._replace(tun_port=0), False),
    (make_server('10.0.0.1', 80, forward='masq')._replace(weight=-1), False),
])
def test_real_servers_known_and_not(srv, known):
    lines = only_entry([(SVC, [srv])])[3]
    assert (lines[0] is not None) is known
    assert_each_line_parses_to_its_object([(SVC, [srv])])


def test_a_mark_keeps_its_servers_ports():
    srv = make_server('10.0.0.1', 8080, forward='dr')
    lines = only_entry([(make_service('ipv4', fwmark=9, scheduler='rr'), [srv])])[3]
    assert lines[0] is not None


def within_services(lines, change):
    """The lines with each service's real server lines passed through change()."""
    out, block = [], []
    for line in lines + ['-A end']:
        if line.startswith('-A '):
            out.extend(change(block))
            block = []
            out.append(line)
        else:
            block.append(line)
    return out[:-1]


def mutations(text, rnd):
    """The file, and the file changed the ways a re-run meets it: weights,
    lines gone, duplicated, moved, a real server before its service, -C late;
    real servers in the kernel's order; and written in ways that keep a
    service's lines from reading as one block (line ends, blank lines,
    comments, a real server's line after another service's -A line)."""
    lines = text.splitlines()
    variants = [lines]
    variants.append([line.replace('-w 1', '-w 4') if rnd.random() < 0.3 else line for line in lines])
    variants.append([line for line in lines if rnd.random() < 0.8])
    variants.append([line for line in lines if not line.startswith('-a ') or rnd.random() < 0.8])   # servers gone
    variants.append(['-C'] + [line for line in lines if not line.startswith('-a ') or rnd.random() < 0.8])
    variants.append(lines + [lines[rnd.randrange(len(lines))]])
    moved = list(lines)
    moved.insert(0, moved.pop(rnd.randrange(len(moved))))
    variants.append(moved)
    variants.append(list(reversed(lines)))
    variants.append(['-C'] + lines + ['-Z', '--set 10 20 30'])
    variants.append(lines[:3] + ['-C'] + lines[3:])
    variants.append(lines + ['-a -t 203.0.113.1:80 -r 10.0.0.1:80 -g -w 1'])
    shuffled = list(lines)
    rnd.shuffle(shuffled)
    variants.append(shuffled)
    variants.append(within_services(lines, lambda block: list(reversed(block))))    # the kernel's order
    variants.append(within_services(lines, lambda block: block[:1] + ['# a comment'] + block[1:]))
    variants.append(within_services(lines, lambda block: block + ['']))
    variants.append(within_services(lines, lambda block: [line + ' ' for line in block]))
    variants.append(within_services(lines, lambda block: block + block[:1]))       # listed twice
    variants.append(within_services(lines, lambda block: block[1:]))
    variants.append(within_services(lines, lambda block: [b.replace('-w 1', '-w 2') for b in block]))
    carried = []

    def first_server_apart(block):
        """Each service's first real server after the next service's -A line."""
        out = carried[:] + block[1:]
        carried[:] = block[:1]
        return out
    variants.append(within_services(lines, first_server_apart))
    variants.append([line.replace('-A ', '--add-service ') if rnd.random() < 0.3 else line for line in lines])
    variants.append([line.replace('-A ', '-A  ') if rnd.random() < 0.3 else line for line in lines])
    for variant in variants:
        yield '\n'.join(variant) + '\n'
    written = [text.rstrip('\n'), '\n' + text, '\n\n# saved\n' + text, text.replace('\n', '\r\n'),
               text.replace('\n-A ', '\n\n-A '), text.replace('\n-A ', '\r-A ', 2), text.replace('\n-a ', '\x0b-a ', 3),
               '-C\n' + text + '--set 10 20 30\n']
    for body in written:
        yield body
        yield body + '\n' + lines[0] + '\n'      # an error on the last line: its number must be the same


@pytest.mark.parametrize('seed', range(12))
def test_a_file_reads_the_same_with_and_without_the_lookup(seed):
    rnd = random.Random(seed)
    table = restorable(decoded(loaded_fake(rnd, services=30)))
    other = decoded(loaded_fake(random.Random(seed + 100), services=30))
    for text in (_save.emit(table, thresholds=True), _save.emit(table, sort=False, thresholds=True)):
        assert not isinstance(parsed(text), str), parsed(text)
        for known_of in (table, other, table + _save.parse(SAVED)):
            known = _save.restore_blocks(known_of)
            for body in mutations(text, rnd):
                with_lookup = parsed(body, known)
                assert _same(table_of(with_lookup), table_of(parsed(body))), body
                assert_looked_up_is_what_the_table_has(with_lookup, known_of)


def assert_looked_up_is_what_the_table_has(rules, table):
    """What the plan relies on: a service found whole is the table's service,
    and each of its real servers one of the table's, configuration for configuration."""
    if isinstance(rules, str):
        return
    current = dict((svc.key, (svc, servers)) for svc, servers in table)
    assert rules.looked_up <= set(svc.key for svc, _servers in rules.table)
    for svc, servers in rules.table:
        if svc.key in rules.looked_up:
            have, have_servers = current[svc.key]
            assert have.config() == svc.config()
            configs = dict((s.key, s.config()) for s in have_servers)
            assert all(configs.get(s.key) == s.config() for s in servers)


def plan_of(body, table, lookup, purge):
    """(counts, requests in order, the table after as ipvsadm -Sn text) of the plan from `table` to `body`."""
    try:
        desired = _table.from_rules(body, table if lookup else None)
    except _table.OptionError as e:
        return 'error: %s' % e
    p = _table.plan(None, desired, dict((svc.key, (svc, servers)) for svc, servers in table), purge=purge)
    requests = [(op.request.cmd, op.request.body) for op, _undo in _table.ordered(p)]
    return p.counts, requests, _save.emit(list(p.after.values()))


@pytest.mark.parametrize('seed', range(6))
@pytest.mark.parametrize('purge', [False, True])
def test_a_file_plans_the_same_with_and_without_the_lookup(seed, purge):
    """Services whose lines were all looked up skip the comparison of their real
    servers; the plan must be the same one, to the byte of every request."""
    rnd = random.Random(seed)
    table = restorable(decoded(loaded_fake(rnd, services=30)))
    known = _save.restore_blocks(table)
    found_whole = 0
    for text in (_save.emit(table, thresholds=True), _save.emit(table, sort=False, thresholds=True)):
        for body in mutations(text, rnd):
            rules = parsed(body, known)
            found_whole += 0 if isinstance(rules, str) else len(rules.looked_up)
            assert plan_of(body, table, True, purge) == plan_of(body, table, False, purge), body
    assert found_whole >= 10, found_whole


def test_services_found_whole_in_another_reading_are_compared():
    """The plan skips a service found whole only in the reading it starts from."""
    table = restorable(decoded(loaded_fake(random.Random(3), services=40)))
    text = _save.emit(table, thresholds=True)
    desired = _table.from_text(text, 'ipvsadm', 'rules', None, None, current=table)
    assert sum(spec.looked_up for spec in desired.specs) > 5
    desired.plans_from(table)
    assert sum(spec.looked_up for spec in desired.specs) > 5
    desired.plans_from(list(table))
    assert not any(spec.looked_up for spec in desired.specs)
    assert not any(spec.looked_up for spec in _table.from_rules(text).specs)


@pytest.mark.parametrize('sort', [True, False])
def test_the_lookup_is_used_for_what_the_table_has(monkeypatch, sort):
    """A saved table read back against itself parses no -a line and no -A line
    it knows, and takes the services it knows whole a block at a time, whether
    the file lists their real servers in the kernel's order or ipvsadm's."""
    table = restorable(decoded(loaded_fake(random.Random(3), services=40)))
    text = _save.emit(table, sort=sort, thresholds=True)
    assert not isinstance(parsed(text), str), parsed(text)
    known = _save.restore_blocks(table)
    calls = []
    for name in ('_parse_service', '_parse_server', '_fast_server', '_add_block'):
        real = getattr(_save, name)
        monkeypatch.setattr(_save, name, lambda *a, _real=real, _name=name: calls.append(_name) or _real(*a))
    assert _same(table_of(parsed(text, known)), table_of(parsed(text)))
    whole = set(svc.key for head, svc, _servers, lines in known.values() if head is not None and None not in lines)
    assert len(table) > len(whole) > 10
    assert parsed(text, known).looked_up == whole
    lines = text.count('\n')
    assert len(calls) >= lines                      # without the lookup: each line parsed
    assert known_lines(known) > lines * 0.3
    del calls[:]
    _save.parse_rules(text, known=known)
    assert calls.count('_add_block') == len(whole)
    assert 0 < len(calls) - len(whole) <= 2 * (lines - known_lines(known))   # only the lines it does not know


def small_table():
    """Three services that read back whole, the last one a mark's."""
    return [(SVC, [make_server('10.0.0.1', 80, forward='dr'), make_server('10.0.0.2', 8080, forward='masq', weight=3)]),
            (SVC._replace(vip='192.0.2.2'), []),
            (make_service('ipv4', fwmark=7, scheduler='rr'), [make_server('10.0.0.3', 443, forward='dr')])]


def counted(monkeypatch):
    calls = []
    for name in ('_parse_service', '_parse_server', '_fast_server', '_add_block'):
        real = getattr(_save, name)
        monkeypatch.setattr(_save, name, lambda *a, _real=real, _name=name: calls.append(_name) or _real(*a))
    return calls


@pytest.mark.parametrize('ending', ['\n', ''])
def test_every_service_of_a_saved_table_is_taken_whole_the_last_one_too(monkeypatch, ending):
    table = small_table()
    text = _save.emit(table, sort=False, thresholds=True)[:-1] + ending
    calls = counted(monkeypatch)
    rules = _save.parse_rules(text, known=_save.restore_blocks(table))
    assert calls == ['_add_block'] * 3
    assert rules.looked_up == set(svc.key for svc, _servers in table)
    assert _same(table_of(rules), table_of(parsed(text)))


@pytest.mark.parametrize('order', [
    [1, 2, 3, 4],       # the kernel's
    [4, 3, 2, 1],       # the order they were added in (ipvsadm -R, this module)
    [2, 4, 1, 3],
])
def test_a_block_is_taken_whole_in_any_order_of_its_lines_in_the_files_order(monkeypatch, order):
    table = [(SVC, [make_server('10.0.0.%d' % i, 80, forward='dr', weight=i) for i in range(1, 5)])]
    lines = _save.emit(table, sort=False, thresholds=True).splitlines()
    text = '\n'.join([lines[0]] + [lines[i] for i in order]) + '\n'
    if order in ([1, 2, 3, 4], [4, 3, 2, 1]):
        # Compared as they come, or backwards: never sorted.
        monkeypatch.setattr(_save, 'sorted', lambda *a, **k: pytest.fail('sorted'), raising=False)
    calls = counted(monkeypatch)
    rules = _save.parse_rules(text, known=_save.restore_blocks(table))
    assert calls == ['_add_block']
    assert [srv.weight for srv in rules.table[0][1]] == order
    assert _same(table_of(rules), table_of(parsed(text)))


@pytest.mark.parametrize('written', [
    lambda text: text.replace('\n', '\r\n'),
    lambda text: text.replace('-g -w 1\n', '-g -w 1\n# moved on 1 May\n'),
    lambda text: text.replace('\n-A ', '\n\n-A '),
])
def test_a_service_whose_lines_are_not_one_block_is_still_looked_up_line_by_line(monkeypatch, written):
    table = small_table()
    text = written(_save.emit(table, sort=False, thresholds=True))
    calls = counted(monkeypatch)
    rules = _save.parse_rules(text, known=_save.restore_blocks(table))
    assert '_parse_service' not in calls and '_parse_server' not in calls and '_fast_server' not in calls, calls
    assert rules.looked_up == set(svc.key for svc, _servers in table)
    assert calls.count('_add_block') < 3
    assert _same(table_of(rules), table_of(parsed(text)))


@pytest.mark.parametrize('backwards', [False, True])
def test_a_later_line_for_a_service_taken_whole_adds_to_the_file_not_to_the_table(backwards):
    """The real servers of a service taken whole are the current table's: a line
    further down that names one more must add it to the file's list, and the
    plan must send it."""
    table = small_table()
    before = [(svc, list(servers)) for svc, servers in table]
    written = [(svc, servers[::-1]) for svc, servers in table] if backwards else table
    text = _save.emit(written, sort=False, thresholds=True) + '-a -t 192.0.2.1:80 -r 10.0.0.9:80 -m -w 1\n'
    rules = _save.parse_rules(text, known=_save.restore_blocks(table))
    assert [len(servers) for _svc, servers in rules.table] == [3, 0, 1]
    assert table == before and SVC.key not in rules.looked_up
    counts, requests, _after = plan_of(text, table, True, False)
    assert counts['servers_added'] == 1 and len(requests) == 1
    assert table == before
