#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ipvs_service
short_description: Manage an IPVS virtual service, and optionally all its real servers
version_added: 0.1.0
description:
  - Creates, updates or removes an IPVS virtual service, like C(ipvsadm -A), C(-E) and C(-D);
    zeroes its counters like C(ipvsadm -Z -t ...).
  - With O(servers), one task owns the service's real servers too; with O(purge_servers) it
    removes the ones not listed. All changes go to the kernel in one pipelined batch.
  - Options left out keep what the service has; on creation they take the defaults below. An update
    changes only the flags it is asked about (persistence, one-packet, scheduler flags).
extends_documentation_fragment:
  - lvs.ipvs._service
  - lvs.ipvs._common
  - lvs.ipvs._common.ATTRIBUTES
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
    details:
      - With O(zero_stats=true), counters are zeroed and the task reports a change whenever traffic has
        moved them since.
options:
  state:
    description: Whether the service exists. Removing it removes its real servers.
    type: str
    choices: [present, absent]
    default: present
  scheduler:
    description:
      - Scheduler name (C(rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh twos) or any other the
        kernel has). V(wlc) on creation when left out.
    type: str
  sched_flags:
    description:
      - Scheduler flags. V(sh-fallback) and V(sh-port) only with the V(sh) scheduler,
        V(mh-fallback) and V(mh-port) only with V(mh); V(flag-1) to V(flag-3) are the raw bits.
      - Given, the list replaces the service's scheduler flags; V([]) clears them.
    type: list
    elements: str
    choices: [flag-1, flag-2, flag-3, sh-fallback, sh-port, mh-fallback, mh-port]
  persistent:
    description: Whether a client keeps going to the same real server. V(false) on creation.
    type: bool
  persistence_timeout:
    description:
      - Persistence timeout in seconds, 1 to 2678400; needs O(persistent=true).
      - 360 (ipvsadm's default) when a service becomes persistent without it.
    type: int
  netmask:
    description:
      - Persistence granularity; needs O(persistent=true). For IPv4 a dotted mask (V(255.255.255.0))
        or a prefix length (V(24)); for IPv6 a prefix length from 1 to 128.
      - A full mask (one address) when left out on creation.
    type: str
  pe:
    description:
      - Persistence engine, for example V(sip); needs O(persistent=true). V('') removes it.
    type: str
  one_packet:
    description: One-packet scheduling (each UDP datagram scheduled on its own); UDP or firewall-mark services only.
    type: bool
  zero_stats:
    description: Zero the counters of this service and its real servers (reported as a change only when they were not zero).
    type: bool
    default: false
  servers:
    description:
      - Real servers of the service, each with the options of M(lvs.ipvs.ipvs_server) (O(servers[].state)
        may be V(present), V(drained) or V(absent)). Real servers not listed are kept unless
        O(purge_servers=true).
      - As for the service itself, options a listed real server leaves out keep what it has; a new
        real server gets the defaults.
    type: list
    elements: dict
    suboptions:
      rip:
        description: Real server address.
        type: str
        required: true
      rport:
        description: Real server port; see M(lvs.ipvs.ipvs_server).
        type: int
      forward:
        description: Forwarding method; see M(lvs.ipvs.ipvs_server). V(dr) for a new real server when left out.
        type: str
        choices: [masq, local, tun, dr, bypass, fnat]
      weight:
        description: Weight, 0 to 2147483647. 1 for a new real server when left out.
        type: int
      u_threshold:
        description: Upper connection threshold (0 = none). 0 for a new real server when left out.
        type: int
      l_threshold:
        description: Lower connection threshold (0 = none). 0 for a new real server when left out.
        type: int
      tun_type:
        description: Tunnel type with O(servers[].forward=tun).
        type: str
        choices: [ipip, gue, gre]
      tun_port:
        description: GUE tunnel port.
        type: int
      tun_csum:
        description: Tunnel checksum mode.
        type: str
        choices: [nocsum, csum, remcsum]
      state:
        description: V(present), V(drained) (weight 0, existing connections finish) or V(absent).
        type: str
        choices: [present, absent, drained]
        default: present
  purge_servers:
    description: Remove real servers that O(servers) does not list.
    type: bool
    default: false
author:
  - lvs.ipvs contributors (@lvs-ipvs)
'''

EXAMPLES = r'''
- name: A web service with two NAT real servers, owned by this task
  lvs.ipvs.ipvs_service:
    vip: 192.0.2.10
    vport: 80
    scheduler: wrr
    servers:
      - {rip: 10.0.0.2, forward: masq, weight: 3}
      - {rip: 10.0.0.3, forward: masq, weight: 1}
    purge_servers: true
  become: true

- name: Persistent HTTPS by /24 of the client, source hashing on ports
  lvs.ipvs.ipvs_service:
    vip: 192.0.2.10
    vport: 443
    scheduler: sh
    sched_flags: [sh-port]
    persistent: true
    persistence_timeout: 600
    netmask: 255.255.255.0
  become: true

- name: An IPv6 firewall-mark service
  lvs.ipvs.ipvs_service:
    fwmark: 7
    family: ipv6
    scheduler: rr
  become: true

- name: Remove a service
  lvs.ipvs.ipvs_service:
    vip: 192.0.2.10
    vport: 8080
    state: absent
  become: true
'''

RETURN = r'''
service:
  description: The service after the task (as it would be, in check mode) with its real servers, in
    M(lvs.ipvs.ipvs_info)'s shape; null when absent.
  returned: always
  type: dict
  sample: {family: ipv4, protocol: tcp, vip: 192.0.2.10, vport: 80, scheduler: wrr, sched_flags: [],
           persistent: false, persistence_timeout: 0, netmask: 255.255.255.255, pe: null, one_packet: false,
           servers: [{rip: 10.0.0.2, rport: 80, family: ipv4, forward: masq, weight: 3, u_threshold: 0,
                      l_threshold: 0, tun_type: null, tun_port: null, tun_csum: null, active_conns: 0,
                      inactive_conns: 0, persist_conns: 0}]}
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
from ansible_collections.lvs.ipvs.plugins.module_utils._model import config_dict, service_dict
from ansible_collections.lvs.ipvs.plugins.module_utils._options import (
    FNAT_UNSUPPORTED, SERVER_SPEC, SERVICE_ID_CONSTRAINTS, SERVICE_ID_SPEC, service_key,
)
from ansible_collections.lvs.ipvs.plugins.module_utils._plan import (
    desired_servers, desired_service, has_counts, plan_servers,
)


def run(m):
    p = m.params
    key = service_key(p)
    wanted = desired_servers(p['servers'], key)  # every option checked before the kernel is asked anything
    client = m.client()
    if any(srv.forward == 'fnat' for srv, _s in wanted) and not client.supports_laddr:
        m.fail(FNAT_UNSUPPORTED)
    current = client.service(key)
    current_servers = client.servers(key) if current is not None else None
    if current_servers is None:  # absent, or deleted while being read
        current, current_servers = None, []
    before = service_dict(current, current_servers) if current is not None else None

    ops = []
    if p['state'] == 'absent':
        if current is not None:
            ops.append(_ipvs.op_delete_service(key))
        after_svc, after_servers = None, []
    else:
        desired, mask = desired_service(p, key, current)
        wanted = desired_servers(p['servers'], key, current_servers)
        if current is None:
            ops.append(_ipvs.op_add_service(desired))
        elif current.config() != desired.config():
            ops.append(_ipvs.op_edit_service(desired, mask))
        server_ops, after_servers = plan_servers(key, wanted, current_servers, p['purge_servers'])
        ops.extend(server_ops)
        after_svc = desired
        if p['zero_stats'] and current is not None and has_counts(current, current_servers):
            ops.append(_ipvs.op_zero(key))

    if ops and not m.check_mode:
        client.apply_or_raise(ops)
        after_svc = client.service(key) if p['state'] == 'present' else None
        after_servers = (client.servers(key) if after_svc is not None else None) or []
    after = service_dict(after_svc, after_servers, False, False) if after_svc is not None else None
    m.finish(bool(ops), config_dict(before), config_dict(after), service=after)


def main():
    server_options = dict(SERVER_SPEC)
    server_options['state'] = dict(type='str', default='present', choices=['present', 'absent', 'drained'])
    spec = dict(SERVICE_ID_SPEC)
    spec.update(
        state=dict(type='str', default='present', choices=['present', 'absent']),
        scheduler=dict(type='str'),
        sched_flags=dict(type='list', elements='str',
                         choices=['flag-1', 'flag-2', 'flag-3', 'sh-fallback', 'sh-port', 'mh-fallback', 'mh-port']),
        persistent=dict(type='bool'),
        persistence_timeout=dict(type='int'),
        netmask=dict(type='str'),
        pe=dict(type='str'),
        one_packet=dict(type='bool'),
        zero_stats=dict(type='bool', default=False),
        servers=dict(type='list', elements='dict', options=server_options),
        purge_servers=dict(type='bool', default=False),
    )
    IpvsModule(argument_spec=spec, **SERVICE_ID_CONSTRAINTS).run(run)


if __name__ == '__main__':
    main()
