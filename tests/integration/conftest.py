# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures for tests against a real IPVS kernel (run inside the VM: tests/vm/run).

Every test gets network namespaces of its own, so IPVS tables never leak
between tests. Inside the VM (LVS_IPVS_IN_VM=1) a missing IPVS is a failure;
only a plain run on a host without IPVS skips, and says so.
"""

import os
import subprocess

import pytest

from lvs_testlib import Netns

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
