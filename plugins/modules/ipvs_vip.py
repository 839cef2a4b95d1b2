#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ipvs_vip
short_description: Manage virtual IP addresses on a network interface
version_added: 0.1.0
description:
  - Adds and removes IPv4 and IPv6 addresses on one network interface, as C(ip addr add) and C(ip addr del) do;
    for the virtual addresses (VIPs) of a director, or of a direct-routing real server on C(lo).
  - Optionally creates the interface as a C(dummy) interface and brings it up.
  - Every address is checked before anything is changed; a bad one fails the task naming the option and the value.
  - "Where the kernel refuses a change, the message adds the kernel's own words (netlink extended acknowledgement),
    such as C([kernel: ipv4: Invalid scope value])."
  - IPVS itself is not involved; the module speaks rtnetlink through the C(pyroute2) Python library on the target.
extends_documentation_fragment:
  - lvs.ipvs._common.ATTRIBUTES
  - lvs.ipvs._common.RESOURCE_MODULE
options:
  interface:
    description:
      - Name of the network interface, such as C(lo), C(eth0) or C(vip0).
      - 1 to 15 bytes, without C(/), C(:), C(%) or white space. The kernel takes a name with C(%) (such as
        C(vip%d)) as a template and makes a new name from it, so such a name is refused.
    type: str
    required: true
  kind:
    description:
      - V(dummy) creates the interface as a C(dummy) interface when it does not exist, and brings it up when it is
        down (with O(state=present)). An existing interface of that name must be a C(dummy) interface.
      - Where a new interface would get IPv6 disabled (C(net.ipv6.conf.default.disable_ipv6=1)) or the kernel has no
        IPv6, IPv6 O(addresses) fail the task before anything is changed (in check mode too).
      - Left out, the interface must exist and is used as it is (it is not brought up). If it does not exist,
        O(state=present) fails (in check mode a warning says so instead) and O(state=absent) has nothing to do.
      - The module never deletes an interface, not even an empty C(dummy) one; O(state=absent) removes only
        addresses.
    type: str
    choices: [dummy]
  addresses:
    description:
      - Addresses, IPv4 or IPv6, each C(ADDRESS) or C(ADDRESS/PREFIXLEN). A bare address is a host address, C(/32)
        or C(/128). An address and its prefix length together name one entry, so V(192.0.2.1) and V(192.0.2.1/24)
        are different addresses (IPv4 lets an interface have both).
      - An interface can have an IPv6 address with one prefix length only; with O(state=present), an IPv6 address
        listed with another prefix length than the interface has replaces it.
      - Unspecified (V(0.0.0.0), V(::)) and multicast addresses are refused.
      - IPv6 addresses on an interface that has IPv6 disabled (C(net.ipv6.conf.<interface>.disable_ipv6=1)) or no
        IPv6 at all (an MTU below 1280, a kernel booted with C(ipv6.disable=1)) fail the task before anything is
        changed (in check mode too).
    type: list
    elements: str
    default: []
  state:
    description:
      - V(present) adds the O(addresses) that are missing; V(absent) removes those of O(addresses) that the interface
        has. An interface that does not exist has none, so O(state=absent) on it is a success without change.
    type: str
    choices: [present, absent]
    default: present
  purge:
    description:
      - With O(state=present), also remove every address of the interface that O(addresses) does not list.
        O(addresses=[]) with O(purge=true) removes them all.
      - Purge never removes IPv6 link-local addresses (C(fe80::/10), which the kernel gives an interface when it comes
        up) nor loopback addresses (C(127.0.0.0/8) and C(::1), which C(lo) needs); O(state=absent) removes them when
        O(addresses) lists them.
      - Purge never removes dynamic addresses either, those the kernel does not mark permanent (C(dynamic) in
        C(ip addr show)), such as SLAAC and temporary (privacy) IPv6 addresses, DHCP leases, or any address added
        with a finite lifetime. Whatever made them would add them again. O(state=absent) removes them when
        O(addresses) lists them.
      - Ignored with O(state=absent).
    type: bool
    default: false
  netns:
    description:
      - Network namespace to work in. Interfaces and their addresses are separate in every network namespace.
      - A name as created by C(ip netns add) (looked up under C(/run/netns/)), or a path such as C(/proc/1234/ns/net)
        or C(/var/run/docker/netns/abc). A namespace that does not exist is an error; it is not created.
      - Omitted, the module works in the namespace it runs in.
      - Entering another namespace needs C(CAP_SYS_ADMIN).
    type: str
requirements:
  - Linux, with C(CONFIG_DUMMY) in the kernel for O(kind=dummy).
  - The C(pyroute2) Python library on the target. pyroute2 0.9 and later need Python 3.9; on Python 3.8, use
    pyroute2 older than 0.9 (a later one fails at import, which the module reports as a missing pyroute2).
  - C(CAP_NET_ADMIN) on the target (run with privilege escalation, C(become), or as root).
notes:
  - Results and diffs leave out IPv6 link-local addresses unless O(addresses) names them; the kernel adds one
    when an interface comes up, so it cannot be predicted in check mode.
  - Removing a primary IPv4 address makes the kernel drop the secondary addresses of its subnet, unless
    C(net.ipv4.conf.<interface>.promote_secondaries) (or C(net.ipv4.conf.all.promote_secondaries)) is set. Where
    secondaries of that subnet are to stay, the module sets C(net.ipv4.conf.<interface>.promote_secondaries=1) for the
    time of the removal and puts the old value back, so that the kernel makes one of them the primary address and
    keeps them all, without interruption.
  - Where that sysctl cannot be written (C(/proc/sys) read-only, as in many containers), the kernel drops them and
    the module adds them back right away as they were (label, peer, broadcast, scope, flags, and the lifetimes they
    had left), with a warning; there is a short interruption. A secondary that cannot be added back fails the task
    and is named in RV(not_applied).
  - The module is in the action group C(lvs.ipvs.ipvs), so O(netns) can be set once for all modules of this
    collection with C(module_defaults).
seealso:
  - module: lvs.ipvs.ipvs_service
author:
  - lvs.ipvs contributors (@lvs-ipvs)
'''

EXAMPLES = r'''
- name: A dummy interface with the director's VIPs, and no other addresses
  lvs.ipvs.ipvs_vip:
    interface: vip0
    kind: dummy
    addresses:
      - 192.0.2.10            # 192.0.2.10/32
      - 198.51.100.1/24
      - 2001:db8::10          # 2001:db8::10/128
    purge: true
  become: true

- name: The VIP on lo of a direct-routing real server (127.0.0.1/8 and ::1 are never purged)
  lvs.ipvs.ipvs_vip:
    interface: lo
    addresses: [192.0.2.10]
    purge: true
  become: true

- name: Take one VIP away (the interface stays)
  lvs.ipvs.ipvs_vip:
    interface: vip0
    addresses: [192.0.2.10]
    state: absent
  become: true

- name: In a network namespace
  lvs.ipvs.ipvs_vip:
    netns: lb
    interface: vip0
    kind: dummy
    addresses: [10.0.0.1]
  become: true
'''

RETURN = r'''
interface:
  description: The interface.
  returned: success
  type: str
  sample: vip0
created:
  description: Whether the task created the interface (in check mode, whether it would).
  returned: success
  type: bool
  sample: true
up:
  description: Whether the interface is administratively up after the task (as it would be, in check mode).
  returned: success
  type: bool
  sample: true
added:
  description: The addresses the task added (would add, in check mode), as C(ADDRESS/PREFIXLEN), in the order of RV(addresses).
  returned: success
  type: list
  elements: str
  sample: [192.0.2.10/32, 2001:db8::10/128]
removed:
  description: The addresses the task removed (would remove, in check mode), in the order of RV(addresses).
  returned: success
  type: list
  elements: str
  sample: [192.0.2.99/32]
addresses:
  description:
    - The addresses of the interface after the task (as they would be, in check mode), as C(ADDRESS/PREFIXLEN),
      IPv4 before IPv6, each by address, then prefix length. IPv6 link-local addresses are left out unless
      O(addresses) names them.
    - Empty when the interface does not exist.
  returned: success
  type: list
  elements: str
  sample: [192.0.2.10/32, 198.51.100.1/24, 2001:db8::10/128]
diff:
  description: With C(--diff), the interface before and after the task.
  returned: when diff mode is on
  type: dict
  contains:
    before:
      description: C(interface), C(exists), C(up) and C(addresses) before the task.
      type: dict
    after:
      description:
        - C(interface), C(exists), C(up) and C(addresses) after the task (as they would be, in check mode); the same
          as RV(diff.before) when the task changes nothing.
        - In check mode, an interface that does not exist and is to get addresses (O(kind) left out) is shown as
          existing, as an earlier task is assumed to create it.
      type: dict
  sample:
    before: {interface: vip0, exists: false, up: false, addresses: []}
    after: {interface: vip0, exists: true, up: true, addresses: [192.0.2.10/32]}
applied:
  description:
    - On failure, the changes the kernel carried out before the one that failed, in words such as
      C(add 192.0.2.10/32 to vip0). The task then reports C(changed=true).
    - It may be empty, when the first write failed with an uncertain outcome (the netlink socket failed during it,
      so the request may have reached the kernel); the task reports C(changed=true) then too.
    - A C(set net.ipv4.conf.<interface>.promote_secondaries=1) in it means that the old value could not be put back.
  returned: on failure, once the task has started to write (a change was made, or may have been)
  type: list
  elements: str
  sample: [create dummy interface vip0, bring up interface vip0]
not_applied:
  description:
    - On failure, the changes that failed, each with the reason; more than one where several secondary IPv4
      addresses could not be added back.
  returned: on failure, when a change failed
  type: list
  elements: dict
  contains:
    change:
      description: The change, in words.
      type: str
    error:
      description: Why the kernel refused it.
      type: str
  sample: [{change: add 198.51.100.2/24 to vip0,
            error: "cannot add 198.51.100.2/24 to vip0: Invalid argument [kernel: ipv4: Invalid scope value]"}]
'''

from ansible_collections.lvs.ipvs.plugins.module_utils._vip import VipModule, run


def main():
    VipModule(argument_spec=dict(
        interface=dict(type='str', required=True),
        kind=dict(type='str', choices=['dummy']),
        addresses=dict(type='list', elements='str', default=[]),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        purge=dict(type='bool', default=False),
    )).run(run)


if __name__ == '__main__':
    main()
