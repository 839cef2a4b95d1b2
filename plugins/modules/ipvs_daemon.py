#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ipvs_daemon
short_description: Run or stop the IPVS connection synchronisation daemon
version_added: 0.1.0
description:
  - Starts or stops the kernel's connection sync daemon in the V(master) role (sends connection
    state by multicast) or the V(backup) role (receives it), like C(ipvsadm --start-daemon) and
    C(--stop-daemon). A master and a backup may run at the same time.
  - The kernel cannot change a running daemon; when its settings differ from the ones asked, the
    module stops and restarts it, and the diff shows both.
extends_documentation_fragment:
  - lvs.ipvs._common
  - lvs.ipvs._common.ATTRIBUTES
  - lvs.ipvs._common.RESOURCE_MODULE
options:
  state:
    description: Whether the daemon of O(role) runs.
    type: str
    choices: [present, absent]
    default: present
  role:
    description: Which daemon.
    type: str
    choices: [master, backup]
    required: true
  mcast_interface:
    description: Interface the multicast messages are sent or received on. Required with O(state=present).
    type: str
  syncid:
    description:
      - Sync ID (0 to 255) that tells this cluster's messages apart; 0 accepts any ID on a backup.
      - Left out, a running daemon keeps its ID; a new one gets 0.
    type: int
  sync_maxlen:
    description:
      - Largest sync message payload, in bytes (up to 65507; 65487 with an IPv6 group). The kernel's
        default is 1472 for a master whatever the interface (20 less with an IPv6 group), and follows
        the interface MTU for a backup (1472 for an MTU of 1500); a backup takes at least 1024.
      - Left out, a daemon restarted on the same interface keeps its value.
    type: int
  mcast_group:
    description:
      - Multicast group, IPv4 or IPv6. The kernel's default is 224.0.0.81.
      - Left out, a restarted daemon keeps its group (as for O(mcast_port) and O(mcast_ttl)).
    type: str
  mcast_port:
    description: UDP port of the multicast messages, 1 to 65535. The kernel's default is 8848.
    type: int
  mcast_ttl:
    description: TTL of the multicast messages, 1 to 255. The kernel's default is 1.
    type: int
notes:
  - Real servers of another address family than their service cannot be used while a daemon runs.
author:
  - lvs.ipvs contributors (@lvs-ipvs)
'''

EXAMPLES = r'''
- name: Master on the active director
  lvs.ipvs.ipvs_daemon:
    role: master
    mcast_interface: eth1
    syncid: 7
  become: true

- name: Backup on the standby, on a dedicated group
  lvs.ipvs.ipvs_daemon:
    role: backup
    mcast_interface: eth1
    syncid: 7
    mcast_group: 239.1.1.7
    mcast_port: 8849
  become: true
'''

RETURN = r'''
daemon:
  description: The daemon of O(role) after the task (as it would be, in check mode), in
    M(lvs.ipvs.ipvs_info)'s shape; null when stopped.
  returned: always
  type: dict
  sample: {role: master, mcast_interface: eth1, syncid: 7, sync_maxlen: 1472, mcast_group: 224.0.0.81,
           mcast_port: 8848, mcast_ttl: 1}
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
msg:
  description: Says that a running daemon was restarted, when changing its settings needed that.
  returned: when the daemon was restarted
  type: str
  sample: the master sync daemon was restarted to change its settings
'''

from ansible_collections.lvs.ipvs.plugins.module_utils._common import IpvsModule
from ansible_collections.lvs.ipvs.plugins.module_utils._model import daemon_dict
from ansible_collections.lvs.ipvs.plugins.module_utils._plan import apply_daemon_change, desired_daemon, plan_daemon


def run(m):
    p = m.params
    asked = desired_daemon(p) if p['state'] == 'present' else None
    client = m.client()
    current, stop, start, after = plan_daemon(client, p['role'], asked, p['netns'])
    if (stop or start) and not m.check_mode:
        apply_daemon_change(client, stop, start, current)
        after = next((d for d in client.daemons() if d.role == p['role']), None)
    before_d = daemon_dict(current) if current is not None else None
    after_d = daemon_dict(after) if after is not None else None
    result = dict(daemon=after_d)
    if stop and start:
        result['msg'] = 'the %s sync daemon was restarted to change its settings' % p['role']
    m.finish(bool(stop or start), before_d, after_d, **result)


def main():
    IpvsModule(
        argument_spec=dict(
            state=dict(type='str', default='present', choices=['present', 'absent']),
            role=dict(type='str', required=True, choices=['master', 'backup']),
            mcast_interface=dict(type='str'),
            syncid=dict(type='int'),
            sync_maxlen=dict(type='int'),
            mcast_group=dict(type='str'),
            mcast_port=dict(type='int'),
            mcast_ttl=dict(type='int'),
        ),
        required_if=[('state', 'present', ['mcast_interface'])],
    ).run(run)


if __name__ == '__main__':
    main()
