# -*- coding: utf-8 -*-
# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This is a private module_util of lvs.ipvs: it may change without notice.
"""From options to changes: the desired service and real servers (options
left out keep what exists; defaults apply on creation), and the ops that get
the kernel there. Shared by ipvs_service and ipvs_table."""

from __future__ import absolute_import, division, print_function

import re

from ansible_collections.lvs.ipvs.plugins.module_utils import _ipvs
from ansible_collections.lvs.ipvs.plugins.module_utils._model import (
    DEFAULT_PERSISTENCE_TIMEOUT, Daemon, F_ONEPACKET, F_PERSISTENT, F_SCHED_MASK, ZERO_STATS, make_service,
    normalize_netmask, sched_flags_bits, service_text,
)
from ansible_collections.lvs.ipvs.plugins.module_utils._errors import IpvsError
from ansible_collections.lvs.ipvs.plugins.module_utils._options import OptionError, in_range, ip_option, server_from_params

__metaclass__ = type

MAX_PERSISTENCE_TIMEOUT = 86400 * 31


def desired_service(p, key, current, where=''):
    """The service as the options want it, from `current` (or creation defaults), and the flag mask.
    `where` prefixes option names in messages (e.g. "services[3].")."""
    p = _Options(p)
    base = current or make_service(*key[:5], scheduler='wlc')
    family, protocol, _vip, vport, fwmark = key
    try:
        return _desired_service(p, key, base, family, protocol, vport, fwmark)
    except OptionError as e:
        if where:
            raise OptionError("%s%s" % (where, e))
        raise


class _Options(dict):
    """Options as a dict where a missing key reads as None (YAML entries leave keys out)."""

    def __missing__(self, name):
        return None


def _desired_service(p, key, base, family, protocol, vport, fwmark):
    scheduler = p['scheduler'] if p['scheduler'] is not None else base.scheduler
    if not re.match(r'^[a-z0-9_]{1,15}$', scheduler):
        raise OptionError("scheduler must be a kernel scheduler name such as rr, wrr, wlc or sh, got %r" % scheduler)
    flags, mask = base.flags, 0
    if p['persistent'] is not None:
        flags = (flags & ~F_PERSISTENT) | (F_PERSISTENT if p['persistent'] else 0)
        mask |= F_PERSISTENT
    if p['one_packet'] is not None:
        if p['one_packet'] and not fwmark and protocol != 'udp':
            raise OptionError("one_packet is only for UDP or firewall-mark services, not %s" % service_text(key))
        flags = (flags & ~F_ONEPACKET) | (F_ONEPACKET if p['one_packet'] else 0)
        mask |= F_ONEPACKET
    if p['sched_flags'] is not None:
        try:
            bits = sched_flags_bits(p['sched_flags'], scheduler)
        except ValueError as e:
            raise OptionError("sched_flags: %s" % e)
        flags = (flags & ~F_SCHED_MASK) | bits
        mask |= F_SCHED_MASK
    persistent = bool(flags & F_PERSISTENT)
    for name in ('persistence_timeout', 'netmask', 'pe'):
        if p[name] not in (None, '') and not persistent:
            raise OptionError("%s needs persistent: true" % name)
    if not fwmark and not vport and not persistent:
        raise OptionError("vport 0 (all ports) needs persistent: true, as in ipvsadm")
    timeout = base.timeout
    if p['persistence_timeout'] is not None:
        if not 1 <= p['persistence_timeout'] <= MAX_PERSISTENCE_TIMEOUT:
            raise OptionError("persistence_timeout must be between 1 and %d seconds, got %d"
                              % (MAX_PERSISTENCE_TIMEOUT, p['persistence_timeout']))
        timeout = p['persistence_timeout']
    elif persistent and not timeout:
        timeout = DEFAULT_PERSISTENCE_TIMEOUT
    netmask = base.netmask
    if p['netmask'] is not None:
        try:
            netmask = normalize_netmask(p['netmask'], family)
        except ValueError as e:
            raise OptionError("netmask: %s" % e)
    pe = base.pe if p['pe'] is None else (p['pe'] or None)
    if pe is not None and not re.match(r'^[a-z0-9_]{1,16}$', pe):
        raise OptionError("pe must be a persistence engine name such as sip, got %r" % pe)
    return base._replace(scheduler=scheduler, flags=flags, timeout=timeout, netmask=netmask, pe=pe,
                         stats=None, rates=None), mask


def desired_servers(items, key, current=None, where=''):
    """[(Server, state)] of a servers option, validated, without duplicates.
    Options a listed server leaves out keep what the `current` one has
    (`current`: the service's real servers, [] for a new service; None: not
    known yet, see server_from_params())."""
    by_key = dict((s.key, s) for s in current or ())
    lookup = (lambda rip, rport: by_key.get((rip, rport))) if current is not None else None
    out, seen = [], {}
    for i, item in enumerate(items or []):
        srv = server_from_params(item, key, where='%sservers[%d].' % (where, i), current=lookup)
        if srv.key in seen:
            raise OptionError("%sservers[%d] and %sservers[%d] are the same real server %s"
                              % (where, seen[srv.key], where, i, srv.text()[len('real server '):]))
        seen[srv.key] = i
        out.append((srv, item.get('state') or 'present'))
    return out


def plan_servers(key, wanted, current, purge):
    """Ops that bring `current` servers to `wanted`, and the servers after them."""
    ops, after = [], []
    by_key = dict((s.key, s) for s in current)
    listed = set()
    for srv, state in wanted:
        srv_key = srv.key
        listed.add(srv_key)
        have = by_key.get(srv_key)
        if state == 'present':
            if have is None:
                ops.append(_ipvs.op_add_server(key, srv))
                after.append(srv)
                continue
            if have[:10] != srv[:10]:        # config(), without two method calls per server
                ops.append(_ipvs.op_edit_server(key, srv))
            after.append(with_counts(srv, have))
        elif state == 'drained' and have is not None:
            drained = have._replace(weight=0)
            if have.weight != 0:
                ops.append(_ipvs.op_edit_server(key, drained))
            after.append(drained)
        elif state == 'absent' and have is not None:
            ops.append(_ipvs.op_delete_server(key, have))
    for have in current:
        if have.key not in listed:
            if purge:
                ops.append(_ipvs.op_delete_server(key, have))
            else:
                after.append(have)
    return ops, after


def with_counts(srv, have):
    """srv with the connection counts of the server it replaces (check mode's prediction)."""
    if have is None or have[10:13] == srv[10:13]:
        return srv
    # _replace() by position: it costs several times more, once per real server of a table.
    return tuple.__new__(type(srv), srv[:10] + have[10:13] + srv[13:])


def has_counts(svc, servers):
    return any(s.stats not in (None, ZERO_STATS) for s in [svc] + list(servers))


# ---------------------------------------------------------------- sync daemons

DEFAULT_GROUP = '224.0.0.81'
DEFAULT_PORT = 8848
DAEMON_RANGES = dict(syncid=(0, 255), sync_maxlen=(1, 65507), mcast_port=(1, 65535), mcast_ttl=(1, 255))


def desired_daemon(p, where=''):
    """The Daemon options `p` ask for (settings left out are None)."""
    p = _Options(p)
    for name, (low, high) in DAEMON_RANGES.items():
        in_range(where + name, p[name], low, high)
    ifname = p['mcast_interface']
    if not ifname or len(ifname) > 15 or '/' in ifname or ' ' in ifname:
        raise OptionError("%smcast_interface must be an interface name of 1 to 15 characters, got %r" % (where, ifname))
    group = None
    if p['mcast_group'] is not None:
        family, group = ip_option(where + 'mcast_group', p['mcast_group'])
        first = int(group.split('.')[0]) if family == 'ipv4' else None
        if (family == 'ipv4' and not 224 <= first <= 239) or (family == 'ipv6' and not group.startswith('ff')):
            raise OptionError("%smcast_group: %s is not a multicast address" % (where, group))
    return Daemon(p['role'], ifname, p['syncid'], p['sync_maxlen'], group, p['mcast_port'], p['mcast_ttl'])


def kernel_sync_maxlen(role, group, maxlen, mtu):
    """The sync_maxlen the kernel keeps (start_sync_thread()): one given is clamped (a backup's
    to at least 1024); left out, a master's follows an MTU of 1500 whatever the interface's,
    a backup's the interface's MTU clamped to 1500..65535."""
    headers = 48 if ':' in group else 28  # the IPv6 or IPv4 header, and UDP's
    if maxlen:
        return min(max(maxlen, 1024 if role == 'backup' else 1), 65535 - headers)
    return (min(max(mtu, 1500), 65535) if role == 'backup' else 1500) - headers


def completed(asked, current, mtu):
    """The daemon to start: settings left out keep what the running one has
    (its sync_maxlen only on the same interface and group family), or else get
    the kernel's defaults (start_sync_thread()), so that check mode predicts exactly."""
    def kept(name):
        value = getattr(asked, name)
        if value is None and current is not None:
            value = getattr(current, name)
        return value
    group = kept('mcast_group') or DEFAULT_GROUP
    maxlen = asked.sync_maxlen
    if (maxlen is None and current is not None and current.mcast_interface == asked.mcast_interface
            and (':' in group) == (':' in (current.mcast_group or DEFAULT_GROUP))):
        maxlen = current.sync_maxlen
    return asked._replace(syncid=kept('syncid') or 0,
                          sync_maxlen=kernel_sync_maxlen(asked.role, group, maxlen, mtu), mcast_group=group,
                          mcast_port=kept('mcast_port') or DEFAULT_PORT, mcast_ttl=kept('mcast_ttl') or 1)


def satisfies(current, desired):
    """A running daemon matches when every setting asked for is what it has."""
    return all(getattr(desired, f) is None or getattr(desired, f) == getattr(current, f) for f in Daemon._fields)


def plan_daemon(client, role, asked, netns=None, where=''):
    """(current, stop op, start op, daemon after) to get the daemon of `role`
    to `asked` (None: stopped). The interface is checked before anything is
    changed: a typo must not stop a running daemon."""
    if asked is not None:
        mtu = client.interface_mtu(asked.mcast_interface)
        if mtu is None:
            raise OptionError("%smcast_interface: there is no network interface %r %s"
                              % (where, asked.mcast_interface, "in network namespace %r" % netns if netns else "on this host"))
    current = next((d for d in client.daemons() if d.role == role), None)
    if asked is not None and asked.sync_maxlen is not None:
        # Compare and predict what the kernel will keep, or a clamped value never matches.
        group = asked.mcast_group or (current.mcast_group if current is not None else None) or DEFAULT_GROUP
        asked = asked._replace(sync_maxlen=kernel_sync_maxlen(role, group, asked.sync_maxlen, mtu))
    stop = start = None
    if asked is None:
        if current is not None:
            stop = _ipvs.op_stop_daemon(role)
        after = None
    elif current is not None and satisfies(current, asked):
        after = current
    else:
        if current is not None:
            stop = _ipvs.op_stop_daemon(role)  # the kernel cannot change a running daemon
        after = completed(asked, current, mtu)
        start = _ipvs.op_start_daemon(after)
    return current, stop, start, after


def apply_daemon_change(client, stop, start, previous):
    """Stop, then start; if the kernel refuses the new daemon, start the one it replaces again."""
    if stop:
        client.apply_or_raise([stop])
    if start:
        start_replacing(client, start, previous)


def start_replacing(client, start, previous):
    """Start the daemon; if the kernel refuses, start the one it replaces again."""
    try:
        client.apply_or_raise([start])
    except IpvsError as e:
        if previous is None:
            raise
        try:
            client.apply_or_raise([_ipvs.op_start_daemon(previous)])
        except IpvsError as again:
            e.message = "%s; starting the previous %s sync daemon again failed too: %s" % (e, previous.role, again)
            raise e
        e.message = "%s; the previous %s sync daemon was started again with its old settings" % (e, previous.role)
        raise


# ---------------------------------------------------------------- timeouts

# The kernel keeps timeouts in jiffies as an int: seconds * HZ must fit (HZ up to 1000).
MAX_TIMEOUT = 0x7fffffff // 1000
TIMEOUT_NAMES = ('tcp', 'tcpfin', 'udp')


def desired_timeouts(p, where=''):
    """{name: seconds} of the timeouts given."""
    wanted = {}
    for name in TIMEOUT_NAMES:
        value = (p or {}).get(name)
        if value is not None:
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_TIMEOUT:
                raise OptionError("%s%s must be between 1 and %d seconds, got %r" % (where, name, MAX_TIMEOUT, value))
            wanted[name] = value
    return wanted
