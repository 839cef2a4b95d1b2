# -*- coding: utf-8 -*-
# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters of the drain and undrain playbooks: which services of a director a
real server serves (from the kernel's table, or from the inventory), as
lvs.ipvs.ipvs_table `services` entries. Addresses are compared the way the
kernel compares them (2001:DB8::0:1 is 2001:db8::1), not as strings."""

from __future__ import absolute_import, division, print_function

import ipaddress

from ansible.errors import AnsibleFilterError

__metaclass__ = type


def _ip(value, what):
    try:
        return ipaddress.ip_address(str(value).strip('[]'))
    except ValueError:
        raise AnsibleFilterError('%s must be an IPv4 or IPv6 address, got %r' % (what, value))


def _port(value, what):
    if value is None or value == '':
        return None
    try:
        port = int(value)
    except (TypeError, ValueError):
        port = -1
    if not 0 <= port <= 65535:
        raise AnsibleFilterError('%s must be a port number (0 to 65535), got %r' % (what, value))
    return port


def _identity(svc):
    """The keys that name a service, in ipvs_table's vocabulary."""
    if svc.get('fwmark'):
        return dict(fwmark=int(svc['fwmark']), family=svc.get('family') or 'ipv4')
    return dict(vip=svc['vip'], vport=int(svc['vport']), protocol=svc.get('protocol') or 'tcp')


def _key(svc):
    """A comparable name of a service, from the kernel's view or an inventory entry."""
    if svc.get('fwmark'):
        return ('fwmark', int(svc['fwmark']), svc.get('family') or 'ipv4')
    return (svc.get('protocol') or 'tcp', _ip(svc['vip'], 'vip'), int(svc['vport']))


def service_text(svc):
    if svc.get('fwmark'):
        return 'FWM %d%s' % (int(svc['fwmark']), ' (IPv6)' if svc.get('family') == 'ipv6' else '')
    ip = _ip(svc['vip'], 'vip')
    return '%s %s:%d' % ((svc.get('protocol') or 'tcp').upper(), '[%s]' % ip if ip.version == 6 else ip, int(svc['vport']))


def _declared_rport(svc, srv):
    """The port a server entry of lvs_services means (left out: the service's port, as ipvs_table reads it)."""
    if srv.get('rport') is not None:
        return int(srv['rport'])
    return 0 if svc.get('fwmark') else int(svc.get('vport') or 0)


def drain_services(services, rip, rport=None, timeout=300, inactive=False, timeout_ok=False):
    """ipvs_table `services` that drain real server `rip` (`rport`: only that port) in every
    service of the kernel's table (ipvs_info's `services`) that has it, and wait for it."""
    want, port = _ip(rip, 'rip'), _port(rport, 'rport')
    out = []
    for svc in services or []:
        hits = [s for s in svc.get('servers') or []
                if _ip(s['rip'], 'rip') == want and (port is None or int(s['rport']) == port)]
        if hits:
            out.append(dict(_identity(svc), servers=[
                dict(rip=s['rip'], rport=int(s['rport']), state='drained', wait_for_drain=True,
                     drain_timeout=int(timeout), drain_inactive=bool(inactive), drain_timeout_ok=bool(timeout_ok))
                for s in hits]))
    return out


def undrain_services(declared, rip, rport=None, current=None):
    """What puts real server `rip` back as the inventory declares it.

    `declared`: the director's lvs_services (the load_balancer role's variable);
    `current`: the kernel's services (ipvs_info), to name those where the server
    stays drained because the inventory does not list it there.
    Returns {services: ipvs_table entries (the service as declared, with only this
    server, at its declared weight), kept_drained: [texts], not_declared: [texts]}."""
    want, port = _ip(rip, 'rip'), _port(rport, 'rport')
    services, kept, restored = [], [], set()   # restored: (service, rport) the inventory speaks for
    for svc in declared or []:
        if (svc.get('state') or 'present') != 'present':
            continue
        hits = []
        for srv in svc.get('servers') or []:
            if _ip(srv['rip'], 'rip') != want or (port is not None and _declared_rport(svc, srv) != port):
                continue
            restored.add((_key(svc), _declared_rport(svc, srv)))
            if (srv.get('state') or 'present') != 'present' or srv.get('weight') == 0:
                kept.append('%s (the inventory declares it %s)'
                            % (service_text(svc), srv.get('state') if srv.get('state') not in (None, 'present')
                               else 'with weight 0'))
                continue
            # A weight left out would keep the drained server's 0.
            hits.append(dict(srv, state='present', weight=int(srv['weight'] if srv.get('weight') is not None else 1)))
        if hits:
            entry = dict((k, v) for k, v in svc.items() if k != 'servers')
            entry['servers'] = hits
            services.append(entry)
    not_declared = []
    for svc in current or []:
        for srv in svc.get('servers') or []:
            if (_ip(srv['rip'], 'rip') == want and (port is None or int(srv['rport']) == port)
                    and srv.get('weight') == 0 and (_key(svc), int(srv['rport'])) not in restored):
                not_declared.append(service_text(svc))
    return dict(services=services, kept_drained=kept, not_declared=not_declared)


class FilterModule(object):

    def filters(self):
        return dict(drain_services=drain_services, undrain_services=undrain_services)
