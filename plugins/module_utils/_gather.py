# -*- coding: utf-8 -*-
# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This is a private module_util of lvs.ipvs: it may change without notice.
"""What ipvs_info returns (and ipvs_facts as the ipvs fact), shaped from the
client's model objects: the modules' options, their checks, and the reading."""

from __future__ import absolute_import, division, print_function

from ansible_collections.lvs.ipvs.plugins.module_utils import _ip_vs_conn, _save
from ansible_collections.lvs.ipvs.plugins.module_utils._model import (
    daemon_dict, laddr_dict, service_dict, service_order,
)
from ansible_collections.lvs.ipvs.plugins.module_utils._options import OptionError, in_range, ip_option

__metaclass__ = type

SERVICE_PARTS = frozenset(('services', 'stats', 'rates', 'laddrs'))

GATHER_CHOICES = ['info', 'services', 'stats', 'rates', 'timeouts', 'daemons', 'laddrs', 'rules', 'connections']
GATHER_DEFAULT = ['info', 'services', 'stats', 'rates', 'timeouts', 'daemons', 'laddrs']

# The options of ipvs_info and ipvs_facts (documented once, in the lvs.ipvs._info doc fragment).
INFO_ARGS = dict(
    gather=dict(type='list', elements='str', choices=GATHER_CHOICES, default=GATHER_DEFAULT),
    vip=dict(type='str'),
    vport=dict(type='int'),
    protocol=dict(type='str', choices=['tcp', 'udp', 'sctp']),
    fwmark=dict(type='int'),
    family=dict(type='str', choices=['ipv4', 'ipv6']),
)
INFO_CONSTRAINTS = dict(
    mutually_exclusive=[('fwmark', 'vip'), ('fwmark', 'vport'), ('fwmark', 'protocol')],
)


def service_matches(svc, family=None, vip=None, vport=None, protocol=None, fwmark=None):
    if family is not None and svc.family != family:
        return False
    if fwmark is not None:
        return svc.fwmark == fwmark
    return ((vip is None or svc.vip == vip)
            and (vport is None or svc.vport == vport)
            and (protocol is None or svc.protocol == protocol))


def gather(client, what, family=None, vip=None, vport=None, protocol=None, fwmark=None):
    """The `ipvs` result of ipvs_info for the set of parts `what`."""
    out = {}
    if 'info' in what:
        info = client.info()
        out['version'] = info.version
        out['conn_table_size'] = info.conn_table_size
    if what & (SERVICE_PARTS | {'rules'}):
        with_stats = bool(what & {'stats', 'rates'})
        services = [s for s in client.services(with_stats)
                    if service_matches(s, family, vip, vport, protocol, fwmark)]
        servers = client.servers_of([s.key for s in services], with_stats)
        services = sorted((s for s in services if s.key in servers), key=service_order)
        if what & SERVICE_PARTS:
            out['services'] = [service_dict(s, servers[s.key], 'stats' in what, 'rates' in what)
                               for s in services]
        if 'laddrs' in what:
            out['laddr_supported'] = client.supports_laddr
            if client.supports_laddr:
                for svc, d in zip(services, out['services']):
                    d['laddrs'] = [laddr_dict(a) for a in client.laddrs(svc.key)]
        if 'rules' in what:
            out['rules'] = _save.emit([(s, servers[s.key]) for s in services])
    if 'timeouts' in what:
        out['timeouts'] = dict(client.timeouts()._asdict())
    if 'daemons' in what:
        out['daemons'] = [daemon_dict(d) for d in client.daemons()]
    if 'connections' in what:
        out['connections'] = [row for row in client.connections()
                              if _ip_vs_conn.matches(row, vip, vport, protocol)]
    return out


def gather_params(m):
    """The `ipvs` dict for the options of an IpvsModule built with INFO_ARGS:
    the filters are checked (OptionError) before the kernel is asked anything."""
    p = m.params
    vip = ip_option('vip', p['vip']) if p['vip'] is not None else (None, None)
    if p['family'] and vip[0] and p['family'] != vip[0]:
        raise OptionError("family is %s but vip %s is an %s address" % (p['family'], vip[1], vip[0]))
    in_range('vport', p['vport'], 0, 65535)
    in_range('fwmark', p['fwmark'], 1, 0xffffffff)
    filters = dict(family=p['family'] or vip[0], vip=vip[1], vport=p['vport'],
                   protocol=p['protocol'], fwmark=p['fwmark'])
    return gather(m.client(), set(p['gather']), **filters)
