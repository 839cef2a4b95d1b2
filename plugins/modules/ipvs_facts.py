#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ipvs_facts
short_description: Gather the IPVS (LVS) table, counters, timeouts, sync daemons and connections as host facts
version_added: 0.1.0
description:
  - Reads what the kernel's IP Virtual Server is doing, exactly as M(lvs.ipvs.ipvs_info) does (the same
    options, the same reading), and returns it as the host fact C(ipvs) instead of a result key.
  - The fact stays with the host for the rest of the run, so C(hostvars[host].ansible_facts.ipvs) compares
    directors across a play; a fact cache (C(fact_caching) in C(ansible.cfg), or "Use Fact Storage" on an
    AWX or Automation Controller job template) keeps it between runs.
  - Each run replaces the whole C(ipvs) fact with what it read (what O(gather) asked, filtered).
extends_documentation_fragment:
  - lvs.ipvs._common
  - lvs.ipvs._common.ATTRIBUTES
  - lvs.ipvs._common.FACTS_MODULE
  - lvs.ipvs._info
seealso:
  - module: lvs.ipvs.ipvs_info
    description: The same reading returned as RV(lvs.ipvs.ipvs_info#module:ipvs), without setting facts.
author:
  - lvs.ipvs contributors (@lvs-ipvs)
'''

EXAMPLES = r'''
# In a play on all directors (hosts: lvs_directors, as in examples/inventory).
- name: Read each director's IPVS state into its facts
  lvs.ipvs.ipvs_facts:
  become: true

- name: One line per director, from the facts of all of them
  ansible.builtin.debug:
    msg: >-
      {{ item }}: {{ hostvars[item].ansible_facts.ipvs.services | length }} services,
      {{ hostvars[item].ansible_facts.ipvs.services | map(attribute='servers') | flatten | length }} real servers
  loop: "{{ ansible_play_hosts }}"
  run_once: true

- name: The rules only, as ipvsadm -Sn text (this replaces the ipvs fact of the task above)
  lvs.ipvs.ipvs_facts:
    gather: [rules]
  become: true

- name: Directors whose table differs from the first one's
  ansible.builtin.debug:
    msg: "{{ item }} differs from {{ ansible_play_hosts | first }}"
  loop: "{{ ansible_play_hosts }}"
  when: hostvars[item].ansible_facts.ipvs.rules != hostvars[ansible_play_hosts | first].ansible_facts.ipvs.rules
  run_once: true

# AWX or Automation Controller: with "Use Fact Storage" on the job template, each director's
# ansible_facts.ipvs is stored after the job; the host's Facts tab shows it, and later jobs
# (with gather_facts: false) read it from hostvars without touching the directors.
'''

RETURN = r'''
ansible_facts:
  description: The host facts this module sets.
  returned: always
  type: dict
  contains:
    ipvs:
      description:
        - What was gathered, exactly as RV(lvs.ipvs.ipvs_info#module:ipvs) of M(lvs.ipvs.ipvs_info) with the
          same options; see there for the keys of each service, real server, daemon and connection.
        - Keys appear only for what O(gather) asked.
      returned: always
      type: dict
      contains:
        version:
          description: IPVS version of the kernel.
          returned: when O(gather) has V(info)
          type: str
          sample: 1.2.1
        conn_table_size:
          description: Size of the kernel's connection hash table.
          returned: when O(gather) has V(info)
          type: int
          sample: 4096
        services:
          description:
            - Virtual services with their real servers (C(servers)), as
              RV(lvs.ipvs.ipvs_info#module:ipvs.services) describes them.
          returned: when O(gather) has V(services), V(stats) or V(rates)
          type: list
          elements: dict
          sample:
            - {family: ipv4, protocol: tcp, vip: 192.0.2.10, vport: 80, scheduler: wrr, sched_flags: [],
               persistent: false, persistence_timeout: 0, netmask: 255.255.255.255, pe: null, one_packet: false,
               servers: [{rip: 10.0.0.2, rport: 80, family: ipv4, forward: masq, weight: 3, u_threshold: 0,
                          l_threshold: 0, tun_type: null, tun_port: null, tun_csum: null, active_conns: 0,
                          inactive_conns: 0, persist_conns: 0}]}
        laddr_supported:
          description: Whether the kernel has FULLNAT local addresses.
          returned: when O(gather) has V(laddrs)
          type: bool
        timeouts:
          description: Connection timeouts in seconds.
          returned: when O(gather) has V(timeouts)
          type: dict
          sample: {tcp: 900, tcpfin: 120, udp: 300}
        daemons:
          description: Running connection sync daemons.
          returned: when O(gather) has V(daemons)
          type: list
          elements: dict
          sample:
            - {role: master, mcast_interface: eth1, syncid: 7, sync_maxlen: 1472, mcast_group: 224.0.0.81,
               mcast_port: 8848, mcast_ttl: 1}
        rules:
          description: The (filtered) table in C(ipvsadm -Sn) format, one rule per line.
          returned: when O(gather) has V(rules)
          type: str
          sample: "-A -t 192.0.2.10:80 -s wrr\n-a -t 192.0.2.10:80 -r 10.0.0.2:80 -m -w 3\n"
        connections:
          description: Entries of the kernel's connection table, as RV(lvs.ipvs.ipvs_info#module:ipvs.connections).
          returned: when O(gather) has V(connections)
          type: list
          elements: dict
          sample:
            - {protocol: tcp, client: 10.10.0.2, cport: 41234, vip: 10.10.0.1, vport: 80, rip: 10.20.0.2,
               rport: 80, state: TIME_WAIT, expires: 118}
'''

from ansible_collections.lvs.ipvs.plugins.module_utils._common import IpvsModule
from ansible_collections.lvs.ipvs.plugins.module_utils._gather import INFO_ARGS, INFO_CONSTRAINTS, gather_params


def run(m):
    m.exit(changed=False, ansible_facts=dict(ipvs=gather_params(m)))


def main():
    IpvsModule(argument_spec=INFO_ARGS, **INFO_CONSTRAINTS).run(run)


if __name__ == '__main__':
    main()
