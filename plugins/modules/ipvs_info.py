#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ipvs_info
short_description: Gather the IPVS (LVS) table, counters, timeouts, sync daemons and connections
version_added: 0.1.0
description:
  - Reads what the kernel's IP Virtual Server is doing over one netlink socket (one dump of the services,
    then one of the real servers of each); C(ipvsadm) is not needed.
  - Services are listed by family, firewall mark, protocol, address and port, and the real servers of each
    by address and port, so results of different hosts and runs compare line by line. A service deleted
    while it is read (by keepalived or another run) is left out.
  - Returns everything under one key, RV(ipvs), in the vocabulary the other C(lvs.ipvs) modules take.
    It sets no host facts; M(lvs.ipvs.ipvs_facts) returns the same as the fact C(ipvs).
  - Covers C(ipvsadm -Ln) with C(--stats), C(--rate), C(--thresholds), C(--persistent-conn),
    C(--tun-info), C(--timeout), C(--daemon), C(-c), and C(ipvsadm -Sn) (O(gather=rules)).
extends_documentation_fragment:
  - lvs.ipvs._common
  - lvs.ipvs._common.ATTRIBUTES
  - lvs.ipvs._common.INFO_MODULE
  - lvs.ipvs._info
seealso:
  - module: lvs.ipvs.ipvs_facts
    description: The same reading, returned as the host fact C(ipvs) (for fact caching and C(hostvars)).
  - name: ipvsadm(8)
    description: The classic IPVS administration tool.
    link: https://man7.org/linux/man-pages/man8/ipvsadm.8.html
author:
  - lvs.ipvs contributors (@lvs-ipvs)
'''

EXAMPLES = r'''
- name: Read the whole IPVS state
  lvs.ipvs.ipvs_info:
  become: true
  register: lb

- name: Show each service with its real servers
  ansible.builtin.debug:
    msg: "{{ item.protocol | default('fwm') }} {{ item.vip | default(item.fwmark) }} -> {{ item.servers | map(attribute='rip') | list }}"
  loop: "{{ lb.ipvs.services }}"

- name: Counters of one service only
  lvs.ipvs.ipvs_info:
    vip: 192.0.2.10
    vport: 80
    protocol: tcp
    gather: [services, stats, rates]
  become: true

- name: The table as ipvsadm-save text, and the connections of a container's namespace
  lvs.ipvs.ipvs_info:
    gather: [rules, connections]
    netns: lb1
  become: true
  register: saved

- name: Keep the rules for review
  ansible.builtin.copy:
    content: "{{ saved.ipvs.rules }}"
    dest: /root/ipvs.rules
'''

RETURN = r'''
ipvs:
  description: What was gathered. Keys appear only for what O(gather) asked.
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
      description: Virtual services with their real servers.
      returned: when O(gather) has V(services), V(stats) or V(rates)
      type: list
      elements: dict
      contains:
        family:
          description: Address family.
          type: str
          sample: ipv4
        protocol:
          description: V(tcp), V(udp) or V(sctp); absent for a firewall-mark service.
          type: str
          sample: tcp
        vip:
          description: Virtual address; absent for a firewall-mark service.
          type: str
          sample: 192.0.2.10
        vport:
          description: Virtual port; absent for a firewall-mark service.
          type: int
          sample: 80
        fwmark:
          description: Firewall mark; present only for a firewall-mark service.
          type: int
          sample: 1
        scheduler:
          description: Scheduler name.
          type: str
          sample: wrr
        sched_flags:
          description: Scheduler flags, named as ipvsadm names them for the scheduler.
          type: list
          elements: str
          sample: [sh-port]
        persistent:
          description: Whether the service is persistent.
          type: bool
        persistence_timeout:
          description: Persistence timeout in seconds (the kernel keeps 0 for services that never were persistent).
          type: int
          sample: 360
        netmask:
          description: Persistence granularity; a dotted mask for IPv4, a prefix length for IPv6.
          type: str
          sample: 255.255.255.255
        pe:
          description: Persistence engine, or null.
          type: str
          sample: sip
        one_packet:
          description: One-packet scheduling (UDP).
          type: bool
        stats:
          description: Counters (keys conns, inpkts, outpkts, inbytes, outbytes).
          returned: when O(gather) has V(stats)
          type: dict
          sample: {conns: 40, inpkts: 240, outpkts: 200, inbytes: 16000, outbytes: 24000}
        rates:
          description: Rates per second (keys cps, inpps, outpps, inbps, outbps).
          returned: when O(gather) has V(rates)
          type: dict
          sample: {cps: 2, inpps: 12, outpps: 10, inbps: 800, outbps: 1200}
        laddrs:
          description: FULLNAT local addresses (address, family, port_conflict, conn_counts).
          returned: when O(gather) has V(laddrs) and the kernel supports them
          type: list
          elements: dict
        servers:
          description: Real servers.
          type: list
          elements: dict
          contains:
            rip:
              description: Real server address.
              type: str
              sample: 10.0.0.2
            rport:
              description: Real server port.
              type: int
              sample: 80
            family:
              description: Address family of the real server (differs from the service's only for tunnels).
              type: str
              sample: ipv4
            forward:
              description: Forwarding method.
              type: str
              sample: masq
              choices: [masq, dr, tun, local, bypass, fnat]
            weight:
              description: Weight.
              type: int
              sample: 3
            u_threshold:
              description: Upper connection threshold (0 = none).
              type: int
            l_threshold:
              description: Lower connection threshold (0 = none).
              type: int
            tun_type:
              description: Tunnel type for O(ignore:forward=tun), else null.
              type: str
              sample: gue
            tun_port:
              description: GUE tunnel port, else null.
              type: int
              sample: 6080
            tun_csum:
              description: Tunnel checksum mode for GUE and GRE tunnels, else null.
              type: str
              sample: nocsum
            active_conns:
              description: Active connections.
              type: int
            inactive_conns:
              description: Inactive connections.
              type: int
            persist_conns:
              description: Persistent connection templates.
              type: int
            stats:
              description: Counters, as for the service.
              returned: when O(gather) has V(stats)
              type: dict
            rates:
              description: Rates, as for the service.
              returned: when O(gather) has V(rates)
              type: dict
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
      description:
        - Entries of the kernel's connection table. C(lip) and C(lport) appear on FULLNAT kernels,
          C(pe_name) and C(pe_data) for connections of a persistence engine.
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
    m.exit(changed=False, ipvs=gather_params(m))


def main():
    IpvsModule(argument_spec=INFO_ARGS, **INFO_CONSTRAINTS).run(run)


if __name__ == '__main__':
    main()
