#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ipvs_server
short_description: Manage one real server of an IPVS virtual service
version_added: 0.1.0
description:
  - Adds, updates, drains or removes a real server (destination) of an existing IPVS virtual
    service, like C(ipvsadm -a), C(-e) and C(-d).
  - To own all real servers of a service in one task, use the O(lvs.ipvs.ipvs_service#module:servers)
    option of M(lvs.ipvs.ipvs_service).
  - Options left out keep what an existing real server has; a new one gets the defaults given below
    (the rule of every module of this collection). To put a drained server back in rotation, give its O(weight).
extends_documentation_fragment:
  - lvs.ipvs._service
  - lvs.ipvs._service.SERVER
  - lvs.ipvs._service.DRAIN
  - lvs.ipvs._common
  - lvs.ipvs._common.ATTRIBUTES
  - lvs.ipvs._common.RESOURCE_MODULE
options:
  state:
    description:
      - V(present) adds the real server or updates it to the options given; options left out are kept.
      - V(drained) keeps an existing real server with weight 0, so it gets no new connections while
        its existing ones finish (graceful removal); the other options are not applied. A real
        server that does not exist is left absent.
      - V(absent) removes it; its connections are dropped by the kernel.
    type: str
    choices: [present, absent, drained]
    default: present
author:
  - lvs.ipvs contributors (@lvs-ipvs)
'''

EXAMPLES = r'''
- name: A NAT real server with weight 3
  lvs.ipvs.ipvs_server:
    vip: 192.0.2.10
    vport: 80
    rip: 10.0.0.2
    rport: 8080
    forward: masq
    weight: 3
  become: true

- name: Drain it before maintenance (no new connections, existing ones finish)
  lvs.ipvs.ipvs_server:
    vip: 192.0.2.10
    vport: 80
    rip: 10.0.0.2
    rport: 8080
    state: drained
  become: true

- name: Drain it and wait up to 10 minutes for its active connections to end
  lvs.ipvs.ipvs_server:
    vip: 192.0.2.10
    vport: 80
    rip: 10.0.0.2
    rport: 8080
    state: drained
    wait_for_drain: true
    drain_timeout: 600
  become: true
  register: drain

- name: Say how long it took
  ansible.builtin.debug:
    msg: "drained in {{ drain.drain.waited }} s"

- name: A GUE-tunnelled real server of an IPv6 firewall-mark service
  lvs.ipvs.ipvs_server:
    fwmark: 7
    family: ipv6
    rip: 2001:db8::20
    forward: tun
    tun_type: gue
    tun_port: 6080
    tun_csum: csum
  become: true
'''

RETURN = r'''
server:
  description: The real server as it is after the task (as it would be, in check mode), in
    M(lvs.ipvs.ipvs_info)'s shape; null when absent.
  returned: always
  type: dict
  sample: {rip: 10.0.0.2, rport: 8080, family: ipv4, forward: masq, weight: 3, u_threshold: 0,
           l_threshold: 0, tun_type: null, tun_port: null, tun_csum: null, active_conns: 0,
           inactive_conns: 0, persist_conns: 0}
drain:
  description: How waiting for the drain went (O(wait_for_drain=true)), also when it timed out.
  returned: with O(wait_for_drain=true), not in check mode
  type: dict
  contains:
    service:
      description: The service, as C(TCP 192.0.2.10:80) or C(FWM 7).
      type: str
    rip:
      description: Real server address.
      type: str
    rport:
      description: Real server port.
      type: int
    drained:
      description: Whether the connections that count reached zero before O(drain_timeout).
      type: bool
    waited:
      description: Seconds waited.
      type: float
    active_conns:
      description: Active connections left when the wait ended.
      type: int
    inactive_conns:
      description: Inactive connections left when the wait ended.
      type: int
    persist_conns:
      description: Persistence templates left.
      type: int
    gone:
      description: The real server was removed (by someone else) while waiting.
      type: bool
    weight:
      description: Its weight when the wait ended; not 0 when it was put back in rotation meanwhile (the task then fails).
      type: int
  sample: {service: TCP 192.0.2.10:80, rip: 10.0.0.2, rport: 8080, drained: true, waited: 42.0, active_conns: 0,
           inactive_conns: 5, persist_conns: 0, gone: false, weight: 0}
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

from ansible_collections.lvs.ipvs.plugins.module_utils import _drain, _ipvs
from ansible_collections.lvs.ipvs.plugins.module_utils._common import IpvsModule
from ansible_collections.lvs.ipvs.plugins.module_utils._errors import IpvsError
from ansible_collections.lvs.ipvs.plugins.module_utils._model import config_dict, server_dict, service_text
from ansible_collections.lvs.ipvs.plugins.module_utils._options import (
    FNAT_UNSUPPORTED, SERVER_SPEC, SERVICE_ID_CONSTRAINTS, SERVICE_ID_SPEC, server_from_params, service_key,
)


def run(m):
    p = m.params
    key = service_key(p)
    server_from_params(p, key)  # every option checked before the kernel is asked anything
    drain = _drain.drain_request(p, p['state'])
    client = m.client()
    if p['forward'] == 'fnat' and not client.supports_laddr:
        m.fail(FNAT_UNSUPPORTED)
    servers = client.servers(key, with_stats=False) if client.service(key, with_stats=False) else None
    if servers is None:
        if drain is not None:
            raise _drain.missing(key, server_from_params(p, key), None)
        if p['state'] != 'present':
            m.finish(False, server=None)
        missing = "virtual service %s does not exist; create it first (lvs.ipvs.ipvs_service)" % service_text(key)
        if not m.check_mode:
            m.fail(missing)
        # In check mode an earlier task that would create the service did not run.
        m.module.warn(missing + "; check mode assumes an earlier task creates it")
        after_d = server_dict(server_from_params(p, key, current=lambda rip, rport: None), False, False)
        m.finish(True, {}, config_dict(after_d), server=after_d)
    by_key = dict((s.key, s) for s in servers)
    desired = server_from_params(p, key, current=lambda rip, rport: by_key.get((rip, rport)))
    current = by_key.get(desired.key)
    if drain is not None and current is None:
        raise _drain.missing(key, desired, servers)

    op, after = None, current
    if p['state'] == 'present':
        after = desired if current is None else desired._replace(
            active_conns=current.active_conns, inactive_conns=current.inactive_conns, persist_conns=current.persist_conns)
        if current is None:
            op = _ipvs.op_add_server(key, desired)
        elif current.config() != desired.config():
            op = _ipvs.op_edit_server(key, desired)
    elif p['state'] == 'drained':
        if current is not None and current.weight != 0:
            after = current._replace(weight=0)
            op = _ipvs.op_edit_server(key, after)
    elif current is not None:
        after = None
        op = _ipvs.op_delete_server(key, current)

    if op is not None and not m.check_mode:
        client.apply_or_raise([op])
        if after is not None:
            after = next((s for s in client.servers(key, with_stats=False) or () if s.key == desired.key), None)
    before_d = server_dict(current) if current is not None else None
    after_d = server_dict(after, False, False) if after is not None else None
    result = dict(server=after_d)
    if drain is not None and not m.check_mode:
        waits = [_drain.DrainWait(key, current, *drain)]
        try:
            result['drain'] = _drain.wait(client, waits)[0]
            now = next((s for s in client.servers(key, with_stats=False) or () if s.key == desired.key), None)
        except IpvsError as e:
            m.fail('%s, while waiting for the drain of %s' % (e, waits[0].text()), **result)
        after_d = result['server'] = server_dict(now, False, False) if now is not None else None
        late = _drain.failures(waits, [result['drain']])
        if late:
            m.fail(late, **result)
    m.finish(op is not None, config_dict(before_d), config_dict(after_d), **result)


def main():
    spec = dict(SERVICE_ID_SPEC)
    spec.update(SERVER_SPEC)
    spec['state'] = dict(type='str', default='present', choices=['present', 'absent', 'drained'])
    spec.update(_drain.DRAIN_SPEC)
    IpvsModule(argument_spec=spec, **SERVICE_ID_CONSTRAINTS).run(run)


if __name__ == '__main__':
    main()
