# -*- coding: utf-8 -*-
# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This is a private module_util of lvs.ipvs: it may change without notice.
"""Option specs shared by the resource modules, and their validation into the model.

Every check here runs before the kernel is touched, and every failure names
the option and what it accepts (documented in the lvs.ipvs._service and
lvs.ipvs._service.SERVER doc fragments, which match these specs one to one).
"""

from __future__ import absolute_import, division, print_function

from ansible.module_utils.common.validation import check_type_bool, check_type_int, check_type_list

from ansible_collections.lvs.ipvs.plugins.module_utils._model import (
    FAMILIES, FORWARD, PROTOCOLS, TUN_CSUM, TUN_TYPES, make_server, normalize_ip, service_text,
)

__metaclass__ = type

INT_MAX = 0x7fffffff


FNAT_UNSUPPORTED = "forward=fnat needs a FULLNAT kernel (such as Alibaba LVS); this kernel has no FULLNAT support"


class OptionError(ValueError):
    """A bad option value; the message names the option and what it accepts."""


SERVICE_ID_SPEC = dict(
    vip=dict(type='str'),
    vport=dict(type='int'),
    protocol=dict(type='str', default='tcp', choices=list(PROTOCOLS)),
    fwmark=dict(type='int'),
    family=dict(type='str', choices=list(FAMILIES)),
)
SERVICE_ID_CONSTRAINTS = dict(
    mutually_exclusive=[('fwmark', 'vip'), ('fwmark', 'vport')],
    required_one_of=[('vip', 'fwmark')],
    required_by={'vip': 'vport'},
)

SERVER_SPEC = dict(
    rip=dict(type='str', required=True),
    rport=dict(type='int'),
    forward=dict(type='str', choices=list(FORWARD)),
    weight=dict(type='int'),
    u_threshold=dict(type='int'),
    l_threshold=dict(type='int'),
    tun_type=dict(type='str', choices=list(TUN_TYPES)),
    tun_port=dict(type='int'),
    tun_csum=dict(type='str', choices=list(TUN_CSUM)),
)


def in_range(name, value, low, high):
    """value, unless it is outside low..high (None passes)."""
    if value is not None and not low <= value <= high:
        raise OptionError("%s must be between %d and %d, got %d" % (name, low, high, value))
    return value


def ip_option(name, value):
    """(family, canonical address) of option `name`."""
    try:
        return normalize_ip(value)
    except ValueError as e:
        raise OptionError("%s: %s" % (name, e))


def service_key(params):
    """The service named by vip/vport/protocol or fwmark (and family)."""
    family = params.get('family')
    if params.get('fwmark') is not None:
        given = [n for n in ('vip', 'vport') if params.get(n) is not None]
        if given:
            raise OptionError("fwmark names the service on its own; it cannot go with %s" % ' or '.join(given))
        in_range('fwmark', params['fwmark'], 1, 0xffffffff)
        return (family or 'ipv4', None, None, None, params['fwmark'])
    if params.get('vip') is None:
        raise OptionError("one of vip (with vport) or fwmark is required to name the service")
    if params.get('vport') is None:
        raise OptionError("vip needs vport (0 for all ports of a persistent service)")
    vip_family, vip = ip_option('vip', params['vip'])
    if family and family != vip_family:
        raise OptionError("family is %s but vip %s is an %s address" % (family, vip, vip_family))
    vport = in_range('vport', params['vport'], 0, 65535)
    return (vip_family, params.get('protocol') or 'tcp', vip, vport, None)


# What a real server gets on creation for the options left out.
SERVER_DEFAULTS = dict(forward='dr', weight=1, u_threshold=0, l_threshold=0)
TUNNEL_OPTIONS = ('tun_type', 'tun_port', 'tun_csum')


def server_from_params(p, key, where='', current=None):
    """The Server that options `p` describe for service `key`.

    Options left out keep what the real server has (`current`, a function
    (rip, rport) -> Server or None); on creation they take SERVER_DEFAULTS.
    With `current` None the real servers are not known yet (the checks made
    before the kernel is asked anything): a check that depends on an option
    left out (forward, a threshold) is left to the call that knows them.
    `where` prefixes option names in messages (e.g. "servers[2].").
    """
    def opt(name):
        return where + name

    family, rip = ip_option(opt('rip'), p['rip'])
    svc_family, _proto, _vip, vport, fwmark = key
    rport = in_range(opt('rport'), p.get('rport'), 0, 65535)
    known = current is not None
    have = current(rip, (vport or 0) if rport is None else rport) if known else None
    if p.get('state') in ('absent', 'drained'):
        # Only the identity matters to remove or drain (and the server may be gone already).
        return have or make_server(rip, (vport or 0) if rport is None else rport, family=family,
                                   forward='tun' if family != svc_family else 'dr')
    base = dict(SERVER_DEFAULTS) if known else {}
    if have is not None:
        base = dict(forward=have.forward, weight=have.weight, u_threshold=have.u_threshold,
                    l_threshold=have.l_threshold)
        if have.forward == 'tun':
            base.update(tun_type=have.tun_type, tun_port=have.tun_port, tun_csum=have.tun_csum)

    def value(name):
        return p.get(name) if p.get(name) is not None else base.get(name)

    forward = value('forward')  # None: left out, and whether the real server exists is not known yet
    if family != svc_family and forward not in ('tun', None):
        raise OptionError("%s %s is %s but the service %s is %s: a real server of another address family "
                          "needs forward=tun" % (opt('rip'), rip, family, service_text(key), svc_family))
    if not fwmark and forward in ('dr', 'tun'):
        if rport is not None and rport != vport:
            raise OptionError("%s=%d: with forward=%s the real server receives the service port %d unchanged "
                              "(leave %s out, or use forward=masq to map ports)"
                              % (opt('rport'), rport, forward, vport, opt('rport')))
        rport = vport
    elif rport is None:
        rport = vport or 0
    weight = in_range(opt('weight'), value('weight'), 0, INT_MAX)
    u_th = in_range(opt('u_threshold'), value('u_threshold'), 0, INT_MAX)
    l_th = in_range(opt('l_threshold'), value('l_threshold'), 0, INT_MAX)
    if l_th and u_th is not None and (not u_th or l_th > u_th):
        raise OptionError("%s (%d) needs a %s at least as high" % (opt('l_threshold'), l_th, opt('u_threshold')))
    if forward is None:
        tun_type = tun_port = tun_csum = None  # checked once the real server's method is known
    elif forward != 'tun':
        given = [n for n in TUNNEL_OPTIONS if p.get(n) is not None]
        if given:
            raise OptionError("%s only apply to forward=tun, not forward=%s"
                              % (', '.join(opt(n) for n in given), forward))
        tun_type = tun_port = tun_csum = None
    else:
        # A tunnel type given anew resets the port and checksum it does not name.
        tun_type = p.get('tun_type') or base.get('tun_type') or 'ipip'
        same_type = tun_type == base.get('tun_type')
        tun_port = p.get('tun_port') if p.get('tun_port') is not None else (base.get('tun_port') if same_type else None)
        tun_csum = p.get('tun_csum') if p.get('tun_csum') is not None else (base.get('tun_csum') if same_type else None)
        if tun_type == 'gue':
            if tun_port is None:
                raise OptionError("%s=gue needs %s (the remote GUE port)" % (opt('tun_type'), opt('tun_port')))
            in_range(opt('tun_port'), tun_port, 1, 65535)
        elif p.get('tun_port') is not None:
            raise OptionError("%s is only for tun_type=gue, not %s" % (opt('tun_port'), tun_type))
        if p.get('tun_csum') is not None:
            if tun_type == 'ipip':
                raise OptionError("%s is only for tun_type=gue or gre" % opt('tun_csum'))
            if tun_type == 'gre' and tun_csum == 'remcsum':
                raise OptionError("%s=remcsum is only for tun_type=gue" % opt('tun_csum'))
        if tun_type == 'gre' and tun_csum == 'remcsum':
            tun_csum = None
    return make_server(rip, rport, family=family, forward=forward, weight=weight, u_threshold=u_th,
                       l_threshold=l_th, tun_type=tun_type, tun_port=tun_port, tun_csum=tun_csum)


# ---------------------------------------------------------------- options of many entries

def _check_str(value):
    if isinstance(value, (dict, list, tuple, set)):
        raise TypeError("%r is not a string" % (value,))
    return value if isinstance(value, str) else str(value)


_CHECKS = dict(str=_check_str, int=check_type_int, bool=check_type_bool, list=check_type_list)


def check_options(spec, value, where):
    """`value` checked and completed against an argument spec (type, elements,
    choices, required, default, nested options), as Ansible checks a task's
    options but at a fraction of its cost: ipvs_table takes thousands of entries.
    Messages name the entry's path (`where`, e.g. "services[3].")."""
    if not isinstance(value, dict):
        raise OptionError("%s must be a mapping, not %r" % (where.rstrip('.') or 'the entry', value))
    unknown = [k for k in value if k not in spec]
    if unknown:
        raise OptionError("%s: unsupported option%s %s; accepted: %s"
                          % (where.rstrip('.'), 's' if len(unknown) > 1 else '', ', '.join(sorted(map(str, unknown))),
                             ', '.join(sorted(spec))))
    out = {}
    for name, s in spec.items():
        v = value.get(name)
        if v is None:
            if s.get('required'):
                raise OptionError("%s%s is required" % (where, name))
            out[name] = s.get('default')
            continue
        kind = s.get('type', 'str')
        try:
            v = _CHECKS[kind](v)
        except (TypeError, ValueError) as e:
            raise OptionError("%s%s must be of type %s: %s" % (where, name, kind, e))
        if kind == 'list' and s.get('elements') == 'dict':
            v = [check_options(s['options'], item, '%s%s[%d].' % (where, name, i)) for i, item in enumerate(v)]
        elif kind == 'list' and s.get('elements'):
            try:
                v = [_CHECKS[s['elements']](item) for item in v]
            except (TypeError, ValueError) as e:
                raise OptionError("%s%s must be a list of %s: %s" % (where, name, s['elements'], e))
        choices = s.get('choices')
        if choices:
            bad = [x for x in (v if kind == 'list' else [v]) if x not in choices]
            if bad:
                raise OptionError("%s%s must be one of: %s, got: %s"
                                  % (where, name, ', '.join(map(str, choices)), ', '.join(map(str, bad))))
        out[name] = v
    return out
