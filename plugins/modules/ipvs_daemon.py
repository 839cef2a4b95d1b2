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
    description: Sync ID (0 to 255) that tells this cluster's messages apart; 0 accepts any ID on a backup.
    type: int
    default: 0
  sync_maxlen:
    description:
      - Largest sync message payload, in bytes (up to 65507). The kernel's default follows the
        interface MTU (1472 for an MTU of 1500).
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

from ansible_collections.lvs.ipvs.plugins.module_utils import _ipvs
from ansible_collections.lvs.ipvs.plugins.module_utils._common import IpvsModule
from ansible_collections.lvs.ipvs.plugins.module_utils._errors import IpvsError
from ansible_collections.lvs.ipvs.plugins.module_utils._model import Daemon, daemon_dict
from ansible_collections.lvs.ipvs.plugins.module_utils._options import OptionError, in_range, ip_option

DEFAULT_GROUP = '224.0.0.81'
DEFAULT_PORT = 8848
SETTINGS = ('sync_maxlen', 'mcast_group', 'mcast_port', 'mcast_ttl')
RANGES = dict(syncid=(0, 255), sync_maxlen=(1, 65507), mcast_port=(1, 65535), mcast_ttl=(1, 255))


def desired_daemon(p):
    for name, (low, high) in RANGES.items():
        in_range(name, p[name], low, high)
    ifname = p['mcast_interface']
    if not ifname or len(ifname) > 15 or '/' in ifname or ' ' in ifname:
        raise OptionError("mcast_interface must be an interface name of 1 to 15 characters, got %r" % (ifname,))
    group = None
    if p['mcast_group'] is not None:
        family, group = ip_option('mcast_group', p['mcast_group'])
        first = int(group.split('.')[0]) if family == 'ipv4' else None
        if (family == 'ipv4' and not 224 <= first <= 239) or (family == 'ipv6' and not group.startswith('ff')):
            raise OptionError("mcast_group: %s is not a multicast address" % group)
    return Daemon(p['role'], ifname, p['syncid'], p['sync_maxlen'], group, p['mcast_port'], p['mcast_ttl'])


def completed(asked, current, mtu):
    """The daemon to start: settings left out keep what the running one has
    (its sync_maxlen only on the same interface), or else get the kernel's
    defaults (start_sync_thread()), so that check mode predicts exactly."""
    def kept(name):
        value = getattr(asked, name)
        if value is None and current is not None and (name != 'sync_maxlen'
                                                       or current.mcast_interface == asked.mcast_interface):
            value = getattr(current, name)
        return value
    group = kept('mcast_group') or DEFAULT_GROUP
    headers = 48 if ':' in group else 28  # the IPv6 or IPv4 header, and UDP's
    return asked._replace(sync_maxlen=kept('sync_maxlen') or mtu - headers, mcast_group=group,
                          mcast_port=kept('mcast_port') or DEFAULT_PORT, mcast_ttl=kept('mcast_ttl') or 1)


def satisfies(current, desired):
    """A running daemon matches when every setting asked for is what it has."""
    return all(getattr(desired, f) is None or getattr(desired, f) == getattr(current, f) for f in Daemon._fields)


def run(m):
    p = m.params
    asked = desired_daemon(p) if p['state'] == 'present' else None
    client = m.client()
    mtu = None
    if asked is not None:
        mtu = client.interface_mtu(asked.mcast_interface)
        if mtu is None:
            raise OptionError("mcast_interface: there is no network interface %r in %s"
                              % (asked.mcast_interface, "network namespace %r" % p['netns'] if p['netns'] else "this host"))
    current = next((d for d in client.daemons() if d.role == p['role']), None)
    stop = start = None
    if asked is None:
        if current is not None:
            stop = _ipvs.op_stop_daemon(p['role'])
        after = None
    elif current is not None and satisfies(current, asked):
        after = current
    else:
        if current is not None:
            stop = _ipvs.op_stop_daemon(p['role'])  # the kernel cannot change a running daemon
        after = completed(asked, current, mtu)
        start = _ipvs.op_start_daemon(after)
    if (stop or start) and not m.check_mode:
        if stop:
            client.apply_or_raise([stop])
        if start:
            start_replacing(client, start, current)
        after = next((d for d in client.daemons() if d.role == p['role']), None)
    before_d = daemon_dict(current) if current is not None else None
    after_d = daemon_dict(after) if after is not None else None
    result = dict(daemon=after_d)
    if stop and start:
        result['msg'] = 'the %s sync daemon was restarted to change its settings' % p['role']
    m.finish(bool(stop or start), before_d, after_d, **result)


def start_replacing(client, start, previous):
    """Start the daemon; if the kernel refuses, start the one it replaces again."""
    try:
        client.apply_or_raise([start])
    except IpvsError as e:
        if previous is None:
            raise
        try:
            client.apply_or_raise([_ipvs.op_start_daemon(previous)])
        except IpvsError as again:
            e.message = "%s; starting the previous %s sync daemon again failed too: %s" % (e, previous.role, again)
            raise e
        e.message = "%s; the previous %s sync daemon was started again with its old settings" % (e, previous.role)
        raise


def main():
    IpvsModule(
        argument_spec=dict(
            state=dict(type='str', default='present', choices=['present', 'absent']),
            role=dict(type='str', required=True, choices=['master', 'backup']),
            mcast_interface=dict(type='str'),
            syncid=dict(type='int', default=0),
            sync_maxlen=dict(type='int'),
            mcast_group=dict(type='str'),
            mcast_port=dict(type='int'),
            mcast_ttl=dict(type='int'),
        ),
        required_if=[('state', 'present', ['mcast_interface'])],
    ).run(run)


if __name__ == '__main__':
    main()
