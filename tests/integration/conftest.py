# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures for tests against a real IPVS kernel (run inside the VM: tests/vm/run).

Every test gets network namespaces of its own, so IPVS tables never leak
between tests. Inside the VM (LVS_IPVS_IN_VM=1) a missing IPVS is a failure;
only a plain run on a host without IPVS skips, and says so.
"""

import os
import shlex
import subprocess
import uuid

import pytest

IN_VM = os.environ.get('LVS_IPVS_IN_VM') == '1'


def have_ipvs():
    subprocess.call(['modprobe', '-q', 'ip_vs'], stderr=subprocess.DEVNULL)
    return os.path.exists('/proc/net/ip_vs')


@pytest.fixture(scope='session', autouse=True)
def ipvs_kernel():
    if have_ipvs():
        return
    if IN_VM:
        pytest.fail('IPVS is missing in the test VM: modprobe ip_vs did not provide /proc/net/ip_vs', pytrace=False)
    pytest.skip('no IPVS in this kernel: run these through tests/vm/run (tests/run does)')


def sh(cmd, check=True, netns=None):
    """Run a shell command (optionally inside netns); return its stdout."""
    if netns:
        cmd = 'ip netns exec %s sh -c %s' % (netns, shlex.quote(cmd))
    p = subprocess.run(cmd, shell=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    if check and p.returncode != 0:
        raise AssertionError('%s failed (%d): %s%s' % (cmd, p.returncode, p.stdout, p.stderr))
    return p.stdout


class Netns:
    """A throwaway network namespace with helpers to drive ipvsadm inside it."""

    def __init__(self, prefix='t'):
        self.name = '%s%s' % (prefix, uuid.uuid4().hex[:8])
        sh('ip netns add %s' % self.name)
        sh('ip link set lo up', netns=self.name)

    def sh(self, cmd, check=True):
        return sh(cmd, check=check, netns=self.name)

    def ipvsadm(self, args, check=True):
        return self.sh('ipvsadm ' + args, check=check)

    def restore(self, rules):
        p = subprocess.run(['ip', 'netns', 'exec', self.name, 'ipvsadm', '-R'], input=rules,
                           universal_newlines=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert p.returncode == 0, p.stderr

    def delete(self):
        sh('ip netns pids %s | xargs -r kill -9' % self.name, check=False)
        sh('ip netns del %s' % self.name, check=False)


@pytest.fixture
def netns():
    ns = Netns()
    yield ns
    ns.delete()


@pytest.fixture
def client(netns):
    from ansible_collections.lvs.ipvs.plugins.module_utils._ipvs import IpvsClient
    c = IpvsClient(netns=netns.name)
    yield c
    c.close()
