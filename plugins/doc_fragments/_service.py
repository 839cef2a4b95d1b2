# -*- coding: utf-8 -*-
# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    # Service identity (module_utils/_options.py SERVICE_ID_SPEC).
    DOCUMENTATION = r'''
options:
  vip:
    description:
      - Virtual IPv4 or IPv6 address of the service.
      - Required unless O(fwmark) names the service; needs O(vport).
    type: str
  vport:
    description:
      - Virtual port, 0 to 65535. Port 0 (all ports) needs a persistent service, as in C(ipvsadm).
    type: int
  protocol:
    description:
      - Protocol of an address service. Ignored with O(fwmark).
    type: str
    choices: [tcp, udp, sctp]
    default: tcp
  fwmark:
    description:
      - Firewall mark (1 to 4294967295) that names the service instead of O(vip), O(vport) and O(protocol).
    type: int
  family:
    description:
      - Address family. Derived from O(vip); needed only for an IPv6 firewall-mark service.
    type: str
    choices: [ipv4, ipv6]
'''

    # Real-server options (module_utils/_options.py SERVER_SPEC and SERVER_DEFAULTS).
    SERVER = r'''
options:
  rip:
    description:
      - Address of the real server, IPv4 or IPv6. Another family than the service's is accepted
        only with O(forward=tun), as the kernel requires.
    type: str
    required: true
  rport:
    description:
      - Port of the real server. Defaults to O(vport).
      - With O(forward=dr) or O(forward=tun) the real server receives the service port unchanged,
        so O(rport) may only repeat O(vport) (firewall-mark services excepted).
    type: int
  forward:
    description:
      - Forwarding method. V(dr) direct routing (C(-g)), V(masq) NAT (C(-m)), V(tun) tunnelling
        (C(-i)), V(local) the director itself, V(bypass), and V(fnat) on FULLNAT kernels only.
      - Left out, an existing real server keeps its method; a new one gets V(dr).
    type: str
    choices: [masq, local, tun, dr, bypass, fnat]
  weight:
    description:
      - Weight, 0 to 2147483647. 0 sends no new connections.
      - Left out, an existing real server keeps its weight (a drained one stays at 0); a new one gets 1.
    type: int
  u_threshold:
    description:
      - Upper connection threshold; above it the server gets no new connections. 0 means none.
      - Left out, an existing real server keeps its threshold; a new one gets 0.
    type: int
  l_threshold:
    description:
      - Lower connection threshold at which an overloaded server is used again. Needs O(u_threshold)
        at least as high. 0 means none.
      - Left out, an existing real server keeps its threshold; a new one gets 0.
    type: int
  tun_type:
    description:
      - Tunnel type for O(forward=tun). Left out, an existing tunnel keeps its type; a new one is V(ipip).
    type: str
    choices: [ipip, gue, gre]
  tun_port:
    description:
      - Remote port of a V(gue) tunnel; required for it and only for it. Left out, a GUE tunnel keeps its port.
    type: int
  tun_csum:
    description:
      - Tunnel checksum mode for V(gue) and V(gre) tunnels (V(remcsum) only for V(gue)). Left out, a tunnel
        of the same type keeps its mode; a new one gets V(nocsum).
    type: str
    choices: [nocsum, csum, remcsum]
'''

    # Waiting for a drain (module_utils/_drain.py DRAIN_SPEC).
    DRAIN = r'''
options:
  wait_for_drain:
    description:
      - With O(state=drained), wait until the real server has no active connections left (and no inactive
        ones with O(drain_inactive=true), or on a UDP service, whose entries never close), polling the kernel
        every second. RV(drain) reports how long it took and what was left. A real server that was drained
        already is waited for too (and the task reports no change).
      - The real server must exist; one the service does not have fails the task before anything is changed
        (a typo, or a NAT server given without its O(rport)).
      - A server given a weight again while it is waited for (by another run) fails the task.
      - Not in check mode (nothing is drained there).
      - On a persistent service, clients with a persistence template keep reaching the drained server until the
        template expires, unless the C(net.ipv4.vs.expire_quiescent_template) sysctl is 1 (the
        C(lvs.ipvs.load_balancer) role sets it).
    type: bool
  drain_timeout:
    description:
      - Seconds to wait at most (300 when left out). When they pass with connections left, the task fails (the real server stays
        drained) unless O(drain_timeout_ok=true).
      - Only with O(wait_for_drain=true).
    type: int
  drain_inactive:
    description:
      - Also wait for the inactive connections (closing, C(TIME_WAIT), UDP) to expire.
      - Only with O(wait_for_drain=true).
    type: bool
  drain_timeout_ok:
    description:
      - A drain that times out is reported in RV(drain) but does not fail the task.
      - Only with O(wait_for_drain=true).
    type: bool
'''
