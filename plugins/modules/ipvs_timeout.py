#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ipvs_timeout
short_description: Set the IPVS connection timeouts
version_added: 0.1.0
description:
  - Sets the timeouts of IPVS connections for TCP sessions, TCP sessions after a FIN, and UDP,
    like C(ipvsadm --set tcp tcpfin udp). An omitted value is left as it is.
extends_documentation_fragment:
  - lvs.ipvs._common
  - lvs.ipvs._common.ATTRIBUTES
  - lvs.ipvs._common.RESOURCE_MODULE
options:
  tcp:
    description: Timeout of established TCP connections, in seconds (kernel default 900).
    type: int
  tcpfin:
    description: Timeout of TCP connections after a FIN, in seconds (kernel default 120).
    type: int
  udp:
    description: Timeout of UDP connections, in seconds (kernel default 300).
    type: int
author:
  - lvs.ipvs contributors (@lvs-ipvs)
'''

EXAMPLES = r'''
- name: Shorter TCP and UDP timeouts for a busy director
  lvs.ipvs.ipvs_timeout:
    tcp: 600
    udp: 60
  become: true
'''

RETURN = r'''
timeouts:
  description: The timeouts after the task (as they would be, in check mode), in seconds.
  returned: always
  type: dict
  sample: {tcp: 600, tcpfin: 120, udp: 60}
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
from ansible_collections.lvs.ipvs.plugins.module_utils._plan import TIMEOUT_NAMES, desired_timeouts


def run(m):
    wanted = desired_timeouts(m.params)
    client = m.client()
    before = dict(client.timeouts()._asdict())
    after = dict(before, **wanted)
    changed = after != before
    if changed and not m.check_mode:
        client.apply_or_raise([_ipvs.op_set_timeouts(**wanted)])
        after = dict(client.timeouts()._asdict())
    m.finish(changed, before, after, timeouts=after)


def main():
    IpvsModule(argument_spec=dict((name, dict(type='int')) for name in TIMEOUT_NAMES),
               required_one_of=[TIMEOUT_NAMES]).run(run)


if __name__ == '__main__':
    main()
