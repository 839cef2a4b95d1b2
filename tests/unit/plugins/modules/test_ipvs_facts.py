# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""ipvs_facts is ipvs_info with another return shape: the same reading under
ansible_facts.ipvs, the same option checks and errors; ipvs_info sets no facts."""

import pytest

from test_ipvs_info import loaded

from ansible_collections.lvs.ipvs.plugins.module_utils import _gather
from ansible_collections.lvs.ipvs.plugins.modules import ipvs_facts, ipvs_info


@pytest.fixture
def h(monkeypatch, capsys, tmp_path):
    return loaded(monkeypatch, capsys, tmp_path)


ARGS = [
    {},
    {'gather': _gather.GATHER_CHOICES},
    {'gather': ['services', 'rules', 'connections'], 'vip': '2001:DB8:0::53'},
    {'gather': ['services', 'stats', 'rules'], 'fwmark': 9},
    {'gather': ['services', 'rates'], 'family': 'ipv4', 'protocol': 'tcp'},
    {'gather': ['connections', 'rules'], 'vport': 80},
    {'gather': ['info', 'timeouts', 'daemons', 'laddrs'], 'netns': None},
]


@pytest.mark.parametrize('check', [False, True], ids=['real', 'check'])
@pytest.mark.parametrize('args', ARGS, ids=lambda a: ','.join(a.get('gather', ['default'])) + ''.join(
    '|%s=%s' % (k, v) for k, v in sorted(a.items()) if k != 'gather'))
def test_facts_are_what_ipvs_info_returns(h, args, check):
    info = h.run(ipvs_info, args, check=check)
    facts = h.run(ipvs_facts, args, check=check)
    assert 'failed' not in info and 'failed' not in facts, (info, facts)
    assert info['changed'] is False and facts['changed'] is False
    assert 'ansible_facts' not in info, 'ipvs_info must set no facts'
    assert 'ipvs' not in facts, 'ipvs_facts returns its reading only as a fact'
    assert set(facts['ansible_facts']) == {'ipvs'}
    assert facts['ansible_facts']['ipvs'] == info['ipvs']
    assert info['ipvs'], 'every case reads something'
    assert h.fake.writes == 0 and h.fake.sockets == []


def test_filters_reach_the_fact(h):
    facts = h.run(ipvs_facts, {'gather': ['services', 'rules'], 'fwmark': 9})['ansible_facts']['ipvs']
    assert [s['fwmark'] for s in facts['services']] == [9]
    assert facts['rules'].startswith('-A -f 9 -s rr\n')
    whole = h.run(ipvs_facts, {})['ansible_facts']['ipvs']
    assert len(whole['services']) == 3 and 'rules' not in whole and 'connections' not in whole


BAD = [
    {'vip': '192.0.2.300'},
    {'vport': 65536},
    {'fwmark': 0},
    {'vip': '2001:db8::1', 'family': 'ipv4'},
    {'vip': '192.0.2.1', 'fwmark': 3},
    {'protocol': 'udp', 'fwmark': 3},
    {'vport': 80, 'fwmark': 3},
    {'gather': ['everything']},
    {'protocol': 'icmp'},
    {'family': 'inet'},
    {'vport': 'http'},
    {'nosuch': 1},
]


@pytest.mark.parametrize('args', BAD, ids=lambda a: ','.join(sorted(a)))
def test_bad_options_fail_the_same_way_before_touching_the_kernel(h, args):
    info = h.run(ipvs_info, args)
    facts = h.run(ipvs_facts, args)
    assert info['failed'] is True and facts['failed'] is True
    assert facts['msg'] == info['msg']
    assert 'ansible_facts' not in facts
    assert h.fake.log == [] and h.fake.sockets == [], 'no netlink request, not even the family lookup'


def test_client_errors_fail_the_same_way(h):
    h.kernel(privileged=False)
    info = h.run(ipvs_info, {})
    facts = h.run(ipvs_facts, {})
    assert facts['failed'] and facts['msg'] == info['msg'] == (
        'permission denied: managing IPVS needs CAP_NET_ADMIN (use become: true)')
    assert 'ansible_facts' not in facts and 'exception' not in facts


def test_one_code_path(monkeypatch, h):
    """Both modules read through _gather.gather_params, with the same options."""
    calls = []
    real = _gather.gather_params
    monkeypatch.setattr(ipvs_info, 'gather_params', lambda m: calls.append(('info', dict(m.params))) or real(m))
    monkeypatch.setattr(ipvs_facts, 'gather_params', lambda m: calls.append(('facts', dict(m.params))) or real(m))
    h.run(ipvs_info, {'vip': '192.0.2.10'})
    h.run(ipvs_facts, {'vip': '192.0.2.10'})
    assert [c[0] for c in calls] == ['info', 'facts'] and calls[0][1] == calls[1][1]
