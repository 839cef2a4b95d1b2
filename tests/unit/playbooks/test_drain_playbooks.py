# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/drain.yml and undrain.yml refuse bad job variables before they touch a director
(run by ansible-playbook on this machine; the inventory's directors are never contacted).
The fleet tests run both against real directors."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('drain_playbooks')
    link = tmp / 'ansible_collections' / 'lvs' / 'ipvs'
    link.parent.mkdir(parents=True)
    link.symlink_to(ROOT)
    inventory = tmp / 'hosts.ini'
    # Unreachable on purpose: a run that got past its checks would fail on them, not pass.
    inventory.write_text('[lvs_directors]\nlb1 ansible_host=127.0.0.1 ansible_port=9 ansible_connection=ssh '
                         'ansible_ssh_common_args="-o ConnectTimeout=3 -o BatchMode=yes"\n')
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(tmp), ANSIBLE_NOCOLOR='1', ANSIBLE_RETRY_FILES_ENABLED='0',
                LVS_INVENTORY=str(inventory))


def play(env, name, *args):
    argv = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', env['LVS_INVENTORY'],
            'lvs.ipvs.' + name] + list(args)
    return subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          check=False, timeout=300)


@pytest.mark.parametrize('name, nothing', [('drain', 'nothing was drained'), ('undrain', 'nothing was changed')])
def test_a_pattern_that_matches_no_director_fails(env, name, nothing):
    run = play(env, name, '-e', 'lvs_rip=192.0.2.13', '-e', 'lvs_directors_pattern=lvs_director')
    assert run.returncode != 0
    assert ("lvs_directors_pattern is 'lvs_director', which matches no host of the inventory: give the group (or "
            "host pattern) of the directors; %s." % nothing) in run.stdout, run.stdout[-3000:]
    assert 'UNREACHABLE' not in run.stdout


@pytest.mark.parametrize('name, args, words', [
    ('drain', [], 'missing required arguments: lvs_rip'),
    ('drain', ['-e', 'lvs_rip=192.0.2.13', '-e', 'lvs_drain_inactive=maybe'], 'lvs_drain_inactive'),
    ('drain', ['-e', 'lvs_rip=192.0.2.13', '-e', 'lvs_drain_timeout=soon'], 'lvs_drain_timeout'),
    ('undrain', ['-e', 'lvs_rip=192.0.2.13', '-e', 'lvs_rport=http'], 'lvs_rport'),
])
def test_bad_variables_fail_before_a_director_is_contacted(env, name, args, words):
    run = play(env, name, *args)
    assert run.returncode != 0
    assert 'Validation of arguments failed' in run.stdout and words in run.stdout, run.stdout[-3000:]
    assert 'UNREACHABLE' not in run.stdout
