# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/fleet_report.yml, run by ansible-playbook on this machine without IPVS.

The collection is seen through a copy of symlinks in which lvs.ipvs.ipvs_facts is a stand-in
that returns the facts of a JSON file (one per host: each host's Python interpreter is a
wrapper that names its file), or fails with its message. Everything else - the play, the
filters, writing the files - is the collection's own. The fleet tests run the same playbook
against real directors."""

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.lvs.ipvs.plugins.module_utils import _save
from ansible_collections.lvs.ipvs.plugins.module_utils._model import make_server, make_service, service_dict

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
GATHER = ['info', 'services', 'stats', 'rates', 'timeouts', 'daemons', 'rules']

STUB = '''#!/usr/bin/python
# A stand-in for lvs.ipvs.ipvs_facts: the facts in $LVS_FAKE_FACTS.
import json
import os
from ansible.module_utils.basic import AnsibleModule

m = AnsibleModule(argument_spec=dict(gather=dict(type='list', elements='str')), supports_check_mode=True)
with open(os.environ['LVS_FAKE_FACTS']) as f:
    data = json.load(f)
if m.params['gather'] != %r:
    m.fail_json(msg='gather was %%s' %% m.params['gather'])
if 'fail' in data:
    m.fail_json(msg=data['fail'])
m.exit_json(changed=False, ansible_facts=dict(ipvs=data))
''' % GATHER


def director(weight):
    web = make_service(family='ipv4', protocol='tcp', vip='203.0.113.10', vport=80, scheduler='wrr')
    servers = [make_server('192.0.2.13', 80, weight=weight), make_server('192.0.2.22', 80, weight=1)]
    return {'version': '1.2.1', 'conn_table_size': 4096, 'services': [service_dict(web, servers)],
            'timeouts': {'tcp': 900, 'tcpfin': 120, 'udp': 300}, 'daemons': [], 'rules': _save.emit([(web, servers)])}


def link_tree(src, dst, replace):
    """dst mirrors src with symlinks, except the relative paths in `replace` (path -> text)."""
    os.makedirs(dst)
    for name in os.listdir(src):
        inner = {k.split('/', 1)[1]: v for k, v in replace.items() if k.startswith(name + '/')}
        if inner:
            link_tree(os.path.join(src, name), os.path.join(dst, name), inner)
        elif name in replace:
            with open(os.path.join(dst, name), 'w') as f:
                f.write(replace[name])
        elif name not in ('.git', 'tests'):
            os.symlink(os.path.join(src, name), os.path.join(dst, name))


@pytest.fixture(scope='module')
def fleet(tmp_path_factory):
    """A collection tree with the stand-in, and an inventory: lb1 and lb2 (cluster web; lb2's weight was
    changed by hand), lb3 (no IPVS), lb4 (unreachable), lb5 (no lvs_cluster)."""
    tmp = tmp_path_factory.mktemp('fleet_report')
    link_tree(ROOT, str(tmp / 'ansible_collections' / 'lvs' / 'ipvs'), {'plugins/modules/ipvs_facts.py': STUB})
    hosts = {}
    for host, data in (('lb1', director(3)), ('lb2', director(5)), ('lb3', {'fail': 'this kernel has no IPVS'}),
                       ('lb5', director(3))):
        (tmp / ('%s.json' % host)).write_text(json.dumps(data))
        wrapper = tmp / ('python-%s' % host)
        wrapper.write_text('#!/bin/sh\nLVS_FAKE_FACTS=%s exec %s "$@"\n' % (tmp / ('%s.json' % host), sys.executable))
        wrapper.chmod(0o755)
        hosts[host] = {'ansible_connection': 'local', 'ansible_python_interpreter': str(wrapper),
                       'ansible_become': False}
    for host in ('lb1', 'lb2', 'lb3'):
        hosts[host]['lvs_cluster'] = 'web'
    hosts['lb4'] = {'ansible_host': '127.0.0.1', 'ansible_port': 9, 'ansible_connection': 'ssh', 'lvs_cluster': 'web',
                    'ansible_ssh_common_args': '-o ConnectTimeout=5 -o BatchMode=yes'}
    inventory = tmp / 'inventory.json'
    inventory.write_text(json.dumps({'all': {'children': {
        'lvs_directors': {'hosts': hosts},
        'other': {'hosts': {'x1': {'ansible_connection': 'local'}}}}}}))
    return tmp


def playbook(fleet, cwd, *args):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(fleet), ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0',
               ANSIBLE_LOCAL_TEMP=str(fleet / 'ansible-local'), ANSIBLE_REMOTE_TMP=str(fleet / 'ansible-remote'),
               ANSIBLE_HOST_KEY_CHECKING='False', ANSIBLE_RETRY_FILES_ENABLED='False')
    env.pop('ANSIBLE_CONFIG', None)
    ansible_playbook = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
    run = subprocess.run([ansible_playbook, '-i', str(fleet / 'inventory.json'), 'lvs.ipvs.fleet_report'] + list(args),
                         cwd=str(cwd), env=env, capture_output=True, text=True, timeout=300, check=False)
    return run.returncode, run.stdout + run.stderr


def test_report_of_the_directors_that_answered_and_of_those_that_did_not(fleet, tmp_path):
    rc, out = playbook(fleet, tmp_path)
    assert rc == 0, out
    # The default directory is lvs-report in the directory ansible-playbook runs in.
    where = tmp_path / 'lvs-report'
    assert 'Report: %s/report.html (data: %s/report.json)' % (where, where) in out
    rep = json.loads((where / 'report.json').read_text())
    assert list(rep['clusters']) == ['lvs_directors', 'web']  # lb5 has no lvs_cluster: the pattern's name
    assert list(rep['clusters']['web']['directors']) == ['lb1', 'lb2']
    assert list(rep['clusters']['lvs_directors']['directors']) == ['lb5']
    flags = rep['summary']['flags']
    (drift,) = flags['drift']
    assert [(x['line'], x['present']) for x in drift['lines']] == [
        ('-a -t 203.0.113.10:80 -r 192.0.2.13:80 -g -w 3', ['lb1']),
        ('-a -t 203.0.113.10:80 -r 192.0.2.13:80 -g -w 5', ['lb2'])]
    failed = {x['host']: x['error'] for x in flags['failed_hosts']}
    assert sorted(failed) == ['lb3', 'lb4']
    assert failed['lb3'] == 'this kernel has no IPVS'
    assert 'ssh' in failed['lb4'].lower() or 'connect' in failed['lb4'].lower(), failed['lb4']
    page = (where / 'report.html').read_text()
    assert page.count('<table class="service"') == 3 and page.count('<svg class="chart"') == 3
    assert 'Drift: web (2 differing lines: lb1, lb2)' in out
    assert 'Failed hosts: lb3, lb4' in out
    assert '3 of 5 directors read, 2 cluster(s), 3 services, 6 real servers' in out


def test_check_mode_writes_the_report_and_flags_can_fail_the_run(fleet, tmp_path):
    where = tmp_path / 'deep' / 'dir'
    rc, out = playbook(fleet, tmp_path, '--check', '--diff', '-e', 'lvs_report_dir=%s' % where,
                       '-e', 'lvs_report_fail_on_flags=true', '-e', 'lvs_report_title=Frankfurt',
                       '-e', 'lvs_directors_pattern=lb1:lb2')
    assert rc != 0, out
    assert 'The report flags 1 drift (lvs_report_fail_on_flags is set): see %s/report.html' % where in out
    rep = json.loads((where / 'report.json').read_text())
    assert list(rep['clusters']) == ['web'] and rep['summary']['failed'] == 0
    assert '<title>Frankfurt</title>' in (where / 'report.html').read_text()
    assert '"generated_at"' not in out  # --diff does not print the report


@pytest.mark.parametrize('args, message', [
    (['-e', 'lvs_directors_pattern=nosuchgroup'],
     "lvs_directors_pattern is 'nosuchgroup', which matches no host of the inventory"),
    (['-e', 'lvs_report_fail_on_flags=perhaps'], 'lvs_report_fail_on_flags'),
    (['-e', '{"lvs_cluster": ["a", "b"]}'],
     "lvs_cluster must be a non-empty string (the name of the director's cluster); it is not on: lb1, lb2"),
])
def test_bad_variables_are_refused_before_anything_is_read(fleet, tmp_path, args, message):
    rc, out = playbook(fleet, tmp_path, *args)
    assert rc != 0 and message in out, out
    assert 'Read the director' not in out
    assert not (tmp_path / 'lvs-report').exists()
