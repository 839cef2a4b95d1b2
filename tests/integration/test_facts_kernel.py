# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""ipvs_facts on the real kernel: its ansible_facts.ipvs is ipvs_info's ipvs for the
same options (in-process runs: an Ansible task costs seconds in the emulated VM)."""

from lvs_testlib import run_module as run

RULES = ('-A -t 10.0.0.1:80 -s wrr\n'
         '-a -t 10.0.0.1:80 -r 10.1.0.2:80 -m -w 3\n'
         '-A -f 7 -s rr\n'
         '-a -f 7 -r 10.1.0.3:0 -g -w 1\n')


def test_facts_are_ipvs_info_on_the_kernel(netns):
    netns.restore(RULES)
    for args, check in ((dict(), False),
                        (dict(gather=['services', 'rules'], fwmark=7), True),
                        (dict(gather=['info', 'services', 'rules', 'connections'], vip='10.0.0.1'), False)):
        info = run('info', args, netns, check=check)
        facts = run('facts', args, netns, check=check)
        assert 'failed' not in info and 'failed' not in facts, (info, facts)
        assert facts['changed'] is False and 'ipvs' not in facts and 'ansible_facts' not in info
        assert facts['ansible_facts'] == {'ipvs': info['ipvs']}, (args, facts, info)
    assert [s.get('vip') for s in run('facts', {}, netns)['ansible_facts']['ipvs']['services']] == ['10.0.0.1', None]
    # ipvsadm reads the same table, independently.
    facts = run('facts', dict(gather=['rules']), netns)['ansible_facts']['ipvs']
    assert facts == {'rules': RULES}   # the collection's order: address services before marks
    assert sorted(facts['rules'].splitlines()) == sorted(netns.ipvsadm('-Sn').splitlines())
    bad = run('facts', dict(vip='10.0.0.1', fwmark=7), netns)
    assert bad['failed'] and bad['msg'] == run('info', dict(vip='10.0.0.1', fwmark=7), netns)['msg']
