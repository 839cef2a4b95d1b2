# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a user sees when things go wrong, on the real kernel: no become, a
typo that must not stop a running daemon, a partial failure, a service that
vanishes while it is read."""


import pytest

from lvs_testlib import run_as_nobody, run_module as run

from ansible_collections.lvs.ipvs.plugins.module_utils import _gather
from ansible_collections.lvs.ipvs.plugins.module_utils._ipvs import IpvsClient

PERMISSION = "permission denied: managing IPVS needs CAP_NET_ADMIN (use become: true)"


def run_unprivileged(netns, name, args):
    """Run module `name` in a child that entered `netns` as root and then became nobody."""
    return run_as_nobody(netns, lambda here: run(name, args, here))


@pytest.mark.parametrize('name,args', [
    ('service', dict(vip='10.0.0.1', vport=80)),
    ('service', dict(vip='10.0.0.9', vport=80, servers=[dict(rip='10.1.0.2')])),
    ('server', dict(vip='10.0.0.9', vport=80, rip='10.1.0.2')),
    ('timeout', dict(tcp=100)),
    ('daemon', dict(role='master', mcast_interface='lo')),
    ('table', dict(services=[dict(vip='10.0.0.2', vport=80)])),
    ('table', dict(zero_stats=True)),
    ('info', dict()),
])
def test_without_become_every_module_says_so(netns, name, args):
    netns.ipvsadm('-A -t 10.0.0.9:80 -s rr')
    result = run_unprivileged(netns, name, args)
    assert 'child_error' not in result, result
    assert result.get('failed') and result['msg'] == PERMISSION, result
    assert not result.get('changed') and 'exception' not in result
    assert netns.ipvsadm('-Sn') == '-A -t 10.0.0.9:80 -s rr\n'


def test_a_typo_in_the_interface_leaves_the_running_daemon_alone(netns):
    netns.sh('ip link add acc0 type dummy && ip link set acc0 multicast on up')
    run('daemon', dict(role='master', mcast_interface='acc0', syncid=7), netns)
    before = netns.ipvsadm('-L --daemon')
    assert 'mcast=acc0, syncid=7' in before
    for check in (True, False):
        result = run('daemon', dict(role='master', mcast_interface='nosuchif0', syncid=1), netns, check=check)
        assert result['failed'] and "mcast_interface: there is no network interface 'nosuchif0'" in result['msg']
        assert not result.get('changed') and 'applied' not in result
        assert netns.ipvsadm('-L --daemon') == before


def test_a_partial_failure_says_changed_and_what_was_and_was_not_applied(netns):
    # 0.0.0.0 passes the option checks (it is an address) and the kernel refuses it.
    result = run('service', dict(vip='10.0.0.1', vport=80, servers=[dict(rip='10.1.0.2'), dict(rip='0.0.0.0')]), netns)
    assert result['failed'] and result['changed'] is True, result
    assert result['applied'] == ['add virtual service TCP 10.0.0.1:80', 'add real server 10.1.0.2:80 in TCP 10.0.0.1:80']
    assert [f['change'] for f in result['not_applied']] == ['add real server 0.0.0.0:80 in TCP 10.0.0.1:80']
    assert netns.ipvsadm('-Sn') == '-A -t 10.0.0.1:80 -s wlc\n-a -t 10.0.0.1:80 -r 10.1.0.2:80 -g -w 1\n'


def test_a_service_deleted_while_it_is_read_is_left_out(netns, monkeypatch):
    netns.restore('-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.1.0.2 -g\n-A -t 10.0.0.2:80 -s rr\n'
                  '-a -t 10.0.0.2:80 -r 10.1.0.3 -g\n-A -t 10.0.0.3:80 -s rr\n')
    client = IpvsClient(netns=netns.name)
    dump = client.services

    def services_then_someone_deletes(with_stats=True):
        found = dump(with_stats)
        netns.ipvsadm('-D -t 10.0.0.2:80')
        netns.ipvsadm('-D -t 10.0.0.3:80')
        return found
    monkeypatch.setattr(client, 'services', services_then_someone_deletes)
    try:
        info = _gather.gather(client, {'services', 'rules'})
    finally:
        client.close()
    assert [s['vip'] for s in info['services']] == ['10.0.0.1']
    assert info['rules'] == '-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.1.0.2:80 -g -w 1\n'
