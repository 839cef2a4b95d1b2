# -*- coding: utf-8 -*-
# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    # The options every lvs.ipvs module takes (module_utils/_common.py COMMON_ARGS).
    DOCUMENTATION = r'''
options:
  netns:
    description:
      - Network namespace to work in. IPVS state is separate in every network namespace.
      - A name as created by C(ip netns add) (looked up under C(/run/netns/)), or a path such
        as C(/proc/1234/ns/net) or C(/var/run/docker/netns/abc).
      - Omitted, the module works in the namespace it runs in.
      - Entering another namespace needs C(CAP_SYS_ADMIN).
    type: str
requirements:
  - Linux with IPVS in the kernel (C(CONFIG_IP_VS)); the C(ip_vs) module is loaded on demand.
  - C(CAP_NET_ADMIN) on the target (run with privilege escalation, C(become), or as root).
notes:
  - The modules speak to the kernel over generic netlink directly; C(ipvsadm) is not needed on the target.
  - All modules of this collection are in the action group C(lvs.ipvs.ipvs), so O(netns) can be set
    once for all of them with C(module_defaults).
'''

    # Attribute documentation (the standard descriptions, as community.general words them).
    ATTRIBUTES = r'''
options: {}
attributes:
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in C(check_mode)), when in diff mode.
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
      - This assumes that the system controlled/queried by the module has not changed in a relevant way.
  action_group:
    description: Use C(group/lvs.ipvs.ipvs) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - lvs.ipvs.ipvs
'''

    INFO_MODULE = r'''
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This action does not modify state.
  diff_mode:
    support: N/A
    details:
      - This action does not modify state.
  idempotent:
    support: full
    details:
      - This action does not modify state.
'''

    # A module that only reads and returns what it read as host facts (ipvs_facts).
    FACTS_MODULE = r'''
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This action does not modify state.
  diff_mode:
    support: N/A
    details:
      - This action does not modify state.
  idempotent:
    support: full
    details:
      - This action does not modify state.
  facts:
    description: Action returns an C(ansible_facts) dictionary that will update existing host facts.
    support: full
'''

    # What every module that changes state supports.
    RESOURCE_MODULE = r'''
options: {}
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
'''
