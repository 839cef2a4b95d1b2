# -*- coding: utf-8 -*-
# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    # What ipvs_info and ipvs_facts read, and their filters (module_utils/_gather.py INFO_ARGS
    # and INFO_CONSTRAINTS).
    DOCUMENTATION = r'''
options:
  gather:
    description:
      - What to read.
      - V(info) is the IPVS version and connection table size; V(services) the virtual services and
        their real servers; V(stats) and V(rates) add counters and rates to each service and real
        server; V(timeouts) the TCP, TCP FIN and UDP timeouts; V(daemons) the connection sync
        daemons; V(laddrs) the FULLNAT local addresses of each service (only on kernels that have
        them); V(rules) the table as C(ipvsadm -Sn) text; V(connections) the connection table.
    type: list
    elements: str
    choices: [info, services, stats, rates, timeouts, daemons, laddrs, rules, connections]
    default: [info, services, stats, rates, timeouts, daemons, laddrs]
  vip:
    description:
      - Only services (and connections) with this virtual IPv4 or IPv6 address.
      - Mutually exclusive with O(fwmark).
    type: str
  vport:
    description:
      - Only services (and connections) on this port.
      - Mutually exclusive with O(fwmark).
    type: int
  protocol:
    description:
      - Only services (and connections) of this protocol.
      - Mutually exclusive with O(fwmark).
    type: str
    choices: [tcp, udp, sctp]
  fwmark:
    description:
      - Only the service with this firewall mark. Connections are not filtered by it (the kernel's
        connection table does not record marks).
    type: int
  family:
    description:
      - Only services of this address family.
    type: str
    choices: [ipv4, ipv6]
'''
