#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ipvs_laddr
short_description: Manage the FULLNAT local addresses of an IPVS virtual service
version_added: 0.1.0
description:
  - Adds or removes the local (source) addresses a FULLNAT service uses towards its real servers,
    like the FULLNAT C(ipvsadm -P) / C(-Q) and C(ipvsctl address add/del/flush).
  - Local addresses exist only in FULLNAT kernels (such as Alibaba LVS). On any other kernel the
    module fails with a clear message and changes nothing.
extends_documentation_fragment:
  - lvs.ipvs._service
  - lvs.ipvs._common
  - lvs.ipvs._common.ATTRIBUTES
  - lvs.ipvs._common.RESOURCE_MODULE
options:
  addresses:
    description: Local addresses, of the service's address family.
    type: list
    elements: str
    default: []
  state:
    description: Whether O(addresses) are present or absent.
    type: str
    choices: [present, absent]
    default: present
  purge:
    description: With O(state=present), remove local addresses that O(addresses) does not list
      (O(addresses=[]) with O(purge=true) flushes them all).
    type: bool
    default: false
author:
  - lvs.ipvs contributors (@lvs-ipvs)
'''

EXAMPLES = r'''
- name: Two local addresses for a FULLNAT service, and no others
  lvs.ipvs.ipvs_laddr:
    vip: 192.0.2.10
    vport: 80
    addresses: [10.0.1.1, 10.0.1.2]
    purge: true
  become: true
'''

RETURN = r'''
laddrs:
  description: Local addresses of the service after the task (as they would be, in check mode).
  returned: success
  type: list
  elements: str
  sample: [10.0.1.1, 10.0.1.2]
applied:
  description:
    - On failure, the changes the kernel had carried out before or beside the one that failed (the task then
      reports C(changed=true)), in words such as C(add real server 10.0.0.2:80 in TCP 192.0.2.10:80).
  returned: on failure, when some changes were made
  type: list
  elements: str
  sample: [add virtual service TCP 192.0.2.10:80]
not_applied:
  description: On failure, the changes the kernel refused, each with the reason.
  returned: on failure, when the kernel refused a change
  type: list
  elements: dict
  contains:
    change:
      description: The change, in words.
      type: str
    error:
      description: Why the kernel refused it.
      type: str
  sample: [{change: add virtual service TCP 192.0.2.10:80, error: "scheduler 'nosuch' is not available"}]
'''

from ansible_collections.lvs.ipvs.plugins.module_utils import _ipvs
from ansible_collections.lvs.ipvs.plugins.module_utils._common import IpvsModule
from ansible_collections.lvs.ipvs.plugins.module_utils._errors import IpvsError
from ansible_collections.lvs.ipvs.plugins.module_utils._model import service_text
from ansible_collections.lvs.ipvs.plugins.module_utils._options import (
    OptionError, SERVICE_ID_CONSTRAINTS, SERVICE_ID_SPEC, ip_option, service_key,
)


def wanted_addresses(addresses, family):
    out = []
    for i, value in enumerate(addresses):
        af, addr = ip_option('addresses[%d]' % i, value)
        if af != family:
            raise OptionError("addresses[%d]: %s is %s but the service is %s" % (i, addr, af, family))
        if addr not in out:
            out.append(addr)
    return out


def run(m):
    p = m.params
    key = service_key(p)
    wanted = wanted_addresses(p['addresses'], key[0])
    client = m.client()
    if not client.supports_laddr:
        raise IpvsError(_ipvs.NO_LADDR)
    current = []
    if client.service(key, with_stats=False) is None:
        missing = "virtual service %s does not exist; create it first (lvs.ipvs.ipvs_service)" % service_text(key)
        if p['state'] == 'absent':
            m.finish(False, dict(laddrs=[]), dict(laddrs=[]), laddrs=[])
        if not m.check_mode:
            m.fail(missing)
        m.module.warn(missing + "; check mode assumes an earlier task creates it")
    else:
        current = [a.address for a in client.laddrs(key)]
    if p['state'] == 'present':
        ops = [_ipvs.op_add_laddr(key, a) for a in wanted if a not in current]
        gone = [a for a in current if a not in wanted] if p['purge'] else []
        after = [a for a in current if a not in gone] + [a for a in wanted if a not in current]
    else:
        gone = [a for a in wanted if a in current]
        ops = []
        after = [a for a in current if a not in gone]
    ops += [_ipvs.op_delete_laddr(key, a) for a in gone]
    if ops and not m.check_mode:
        client.apply_or_raise(ops)
        after = [a.address for a in client.laddrs(key)]
    m.finish(bool(ops), dict(laddrs=current), dict(laddrs=after), laddrs=after)


def main():
    spec = dict(SERVICE_ID_SPEC)
    spec.update(
        addresses=dict(type='list', elements='str', default=[]),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        purge=dict(type='bool', default=False),
    )
    IpvsModule(argument_spec=spec, **SERVICE_ID_CONSTRAINTS).run(run)


if __name__ == '__main__':
    main()
