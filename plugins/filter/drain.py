# -*- coding: utf-8 -*-
# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters of the drain and undrain playbooks: which services of a director a
real server serves (from the kernel's table, or from the inventory), as
lvs.ipvs.ipvs_table `services` entries. Addresses are compared the way the
kernel compares them (2001:DB8::0:1 is 2001:db8::1), not as strings."""

from __future__ import absolute_import, division, print_function

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.lvs.ipvs.plugins.module_utils._model import normalize_ip
from ansible_collections.lvs.ipvs.plugins.module_utils._model import service_text as key_text

__metaclass__ = type


def _address(value, what):
    """(family, canonical text) of an address (the collection's own parser)."""
    try:
        return normalize_ip(value)
    except ValueError:
        raise AnsibleFilterError('%s must be an IPv4 or IPv6 address, got %r' % (what, value))


def _ip(value, what):
    return _address(value, what)[1]


def _port(value, what):
    if value is None or value == '':
        return None
    try:
        port = -1 if isinstance(value, bool) else int(value)
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
    """The model's key of a service (module_utils/_model.py), from the kernel's view or an inventory entry."""
    if svc.get('fwmark'):
        return (svc.get('family') or 'ipv4', None, None, None, int(svc['fwmark']))
    family, vip = _address(svc['vip'], 'vip')
    return (family, svc.get('protocol') or 'tcp', vip, int(svc['vport']), None)


def service_text(svc):
    return key_text(_key(svc))


def _declared_rport(svc, srv):
    """The port a server entry of lvs_services means (left out: the service's port, as ipvs_table reads it)."""
    if srv.get('rport') is not None:
        return int(srv['rport'])
    return 0 if svc.get('fwmark') else int(svc.get('vport') or 0)


def _bool(value, what):
    try:
        return boolean(value, strict=True)
    except TypeError:
        raise AnsibleFilterError('%s must be true or false, got %r' % (what, value))


def _live_servers(svc, want, port):
    return [s for s in svc.get('servers') or []
            if _ip(s['rip'], 'rip') == want and (port is None or int(s['rport']) == port)]


def drain_services(services, rip, rport=None, wait=True, timeout=300, inactive=False, timeout_ok=False):
    """ipvs_table `services` that drain real server `rip` (`rport`: only that port) in every
    service of the kernel's table (ipvs_info's `services`) that has it, and (`wait`) wait for it."""
    want, port = _ip(rip, 'rip'), _port(rport, 'rport')
    waiting = {}
    if _bool(wait, 'wait'):
        try:
            seconds = int(timeout)
        except (TypeError, ValueError):
            seconds = -1
        if seconds < 0 or isinstance(timeout, bool):
            raise AnsibleFilterError('timeout must be a number of seconds, got %r' % (timeout,))
        timeout = seconds
        waiting = dict(wait_for_drain=True, drain_timeout=timeout, drain_inactive=_bool(inactive, 'inactive'),
                       drain_timeout_ok=_bool(timeout_ok, 'timeout_ok'))
    out = []
    for svc in services or []:
        hits = _live_servers(svc, want, port)
        if hits:
            out.append(dict(_identity(svc), servers=[dict(rip=s['rip'], rport=int(s['rport']), state='drained', **waiting)
                                                     for s in hits]))
    return out


def undrain_services(declared, rip, rport=None, current=None):
    """What puts real server `rip` back as the inventory declares it.

    `declared`: the director's lvs_services (the load_balancer role's variable);
    `current`: the kernel's services (ipvs_info). Only services that are live are
    touched, and only in this server: a live server gets its declared weight (1 when
    the inventory gives none), one the live service lacks is added as declared.
    Returns {services: ipvs_table entries (the service's identity, this server only),
    kept_drained: [texts: declared drained or with weight 0], not_declared: [texts: live
    services where it is drained but the inventory does not list it], not_live:
    [texts: declared services the director does not run; lvs.ipvs.site creates them]}."""
    want, port = _ip(rip, 'rip'), _port(rport, 'rport')
    live = dict((_key(svc), svc) for svc in current or [])
    services, kept, not_live, spoken = [], [], [], set()   # spoken: (service, rport) the inventory speaks for
    for svc in declared or []:
        if (svc.get('state') or 'present') != 'present':
            continue
        key = _key(svc)
        have = live.get(key)
        hits = []
        for srv in svc.get('servers') or []:
            rp = _declared_rport(svc, srv)
            if _ip(srv['rip'], 'rip') != want or (port is not None and rp != port):
                continue
            spoken.add((key, rp))
            if (srv.get('state') or 'present') != 'present' or srv.get('weight') == 0:
                kept.append('%s (the inventory declares it %s)'
                            % (service_text(svc), srv.get('state') if srv.get('state') not in (None, 'present')
                               else 'with weight 0'))
                continue
            weight = int(srv['weight'] if srv.get('weight') is not None else 1)
            if have is None:
                continue
            if any(int(s['rport']) == rp for s in _live_servers(have, want, None)):
                hits.append(dict(rip=srv['rip'], rport=rp, weight=weight, state='present'))
            else:
                hits.append(dict(srv, weight=weight, state='present'))
        if have is None and any(k == key for k, _rp in spoken):
            not_live.append(service_text(svc))
        if hits:
            services.append(dict(_identity(svc), servers=hits))
    not_declared = []
    for key, svc in live.items():
        for srv in _live_servers(svc, want, port):
            if srv.get('weight') == 0 and (key, int(srv['rport'])) not in spoken:
                not_declared.append(service_text(svc))
    return dict(services=services, kept_drained=kept, not_declared=not_declared, not_live=not_live)


class FilterModule(object):

    def filters(self):
        return dict(drain_services=drain_services, undrain_services=undrain_services)
