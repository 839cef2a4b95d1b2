#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ipvs_table
short_description: The whole IPVS table in one task, applied atomically
version_added: 0.1.0
description:
  - Takes the entire desired virtual-server table (services, their real servers and FULLNAT local addresses, timeouts,
    sync daemons), computes the difference from the kernel's, and applies it in one pipelined batch; the way to
    manage hundreds or thousands of services, where one task per real server would take hours.
  - The table comes from O(services) in M(lvs.ipvs.ipvs_service)'s vocabulary, or from a file on the managed host
    (O(src)), which holds C(ipvsadm-save) / C(ipvsadm -Sn) output, a hand-written C(ipvsadm -R) file, YAML or JSON.
  - Also empties the table like C(ipvsadm -C) (O(state=flushed)) and zeroes every counter like C(ipvsadm -Z)
    (O(zero_stats)), and writes a file that C(ipvsadm -R) restores completely (O(export)).
  - Changes are made in place (a weight change is an edit, never a delete and re-add), so traffic keeps flowing.
  - As in every module of this collection, options left out of a listed service or real server keep what it has;
    defaults apply when it is created. An C(ipvsadm) file states every value (C(ipvsadm)'s defaults fill in).
  - Runs against one network namespace take turns (a lock per namespace), so two runs at once end with one of the
    two tables complete, never a mix.
extends_documentation_fragment:
  - lvs.ipvs._common
  - lvs.ipvs._common.ATTRIBUTES
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff is the table as C(ipvsadm -Sn) writes it (with C(-x)/C(-y) thresholds), followed by the timeouts and
        daemons as C(ipvsadm -R) lines.
  idempotent:
    support: full
    details:
      - With O(zero_stats=true), counters are zeroed and the task reports a change whenever traffic has moved them since.
options:
  services:
    description:
      - The desired services, each with the options of M(lvs.ipvs.ipvs_service) and its real servers.
      - Services not listed are kept unless O(purge=true).
      - Mutually exclusive with O(src).
    type: list
    elements: dict
    suboptions:
      vip:
        description: Virtual address; with O(services[].vport). Or O(services[].fwmark).
        type: str
      vport:
        description: Virtual port, 0 to 65535.
        type: int
      protocol:
        description: Protocol of an address service.
        type: str
        choices: [tcp, udp, sctp]
        default: tcp
      fwmark:
        description: Firewall mark that names the service instead of an address.
        type: int
      family:
        description: Address family; needed only for an IPv6 firewall-mark service.
        type: str
        choices: [ipv4, ipv6]
      state:
        description: V(absent) removes the service (and its real servers).
        type: str
        choices: [present, absent]
        default: present
      scheduler:
        description: Scheduler name. V(wlc) on creation when left out.
        type: str
      sched_flags:
        description: Scheduler flags; see M(lvs.ipvs.ipvs_service).
        type: list
        elements: str
        choices: [flag-1, flag-2, flag-3, sh-fallback, sh-port, mh-fallback, mh-port]
      persistent:
        description: Persistence. V(false) on creation when left out.
        type: bool
      persistence_timeout:
        description: Persistence timeout in seconds; see M(lvs.ipvs.ipvs_service).
        type: int
      netmask:
        description: Persistence granularity; see M(lvs.ipvs.ipvs_service).
        type: str
      pe:
        description: Persistence engine, such as V(sip); V('') removes it.
        type: str
      one_packet:
        description: One-packet scheduling (UDP or firewall-mark services).
        type: bool
      servers:
        description:
          - Real servers. Those not listed are kept unless O(purge=true).
        type: list
        elements: dict
        suboptions:
          rip:
            description: Real server address.
            type: str
            required: true
          rport:
            description: Real server port; see M(lvs.ipvs.ipvs_server).
            type: int
          forward:
            description: Forwarding method. V(dr) for a new real server when left out.
            type: str
            choices: [masq, local, tun, dr, bypass, fnat]
          weight:
            description: Weight, 0 to 2147483647. 1 for a new real server when left out.
            type: int
          u_threshold:
            description: Upper connection threshold (0 = none).
            type: int
          l_threshold:
            description: Lower connection threshold (0 = none).
            type: int
          tun_type:
            description: Tunnel type with O(services[].servers[].forward=tun).
            type: str
            choices: [ipip, gue, gre]
          tun_port:
            description: GUE tunnel port.
            type: int
          tun_csum:
            description: Tunnel checksum mode.
            type: str
            choices: [nocsum, csum, remcsum]
          state:
            description: V(present), V(drained) (weight 0, existing connections finish) or V(absent).
            type: str
            choices: [present, absent, drained]
            default: present
          wait_for_drain:
            description:
              - With O(services[].servers[].state=drained), wait until the real server has no active connections
                left (and no inactive ones with O(services[].servers[].drain_inactive=true), or on a UDP service),
                polling the kernel every second, after the table is applied and outside the lock. All drained
                servers are waited for at once; RV(drains) reports each.
              - The real server must exist; one the service does not have fails the task before anything is
                changed (a typo, or a NAT server given without its O(services[].servers[].rport)).
              - A server given a weight again while it is waited for (by another run) fails the task.
              - Not in check mode (nothing is drained there).
            type: bool
          drain_timeout:
            description:
              - Seconds to wait at most (300 when left out). When they pass with connections left, the task fails (the server stays
                drained) unless O(services[].servers[].drain_timeout_ok=true).
              - Only with O(services[].servers[].wait_for_drain=true).
            type: int
          drain_inactive:
            description:
              - Also wait for the inactive connections (closing, C(TIME_WAIT), UDP) to expire.
              - Only with O(services[].servers[].wait_for_drain=true).
            type: bool
          drain_timeout_ok:
            description:
              - A drain that times out is reported in RV(drains) but does not fail the task.
              - Only with O(services[].servers[].wait_for_drain=true).
            type: bool
      laddrs:
        description:
          - FULLNAT local addresses of the service (FULLNAT kernels only). Those not listed are kept unless O(purge=true).
        type: list
        elements: str
  src:
    description:
      - A file on the managed host with the desired table. Mutually exclusive with O(services).
      - In C(ipvsadm) format, C(-A) and C(-a) lines (long or short options) as C(ipvsadm-save) writes them or as a
        restore file has them, and the C(-C), C(-Z), C(--set), C(--start-daemon) and C(--stop-daemon) lines
        C(ipvsadm -R) accepts; a C(-C) line means O(purge=true), a C(-Z) line O(zero_stats=true).
      - In YAML or JSON, a list of services as O(services) takes them, or a mapping with C(services), C(timeouts) and
        C(daemons) as the options of the same names.
      - A malformed file fails with the line number (C(ipvsadm)) or the path of the bad key (YAML, JSON), and nothing is applied.
    type: path
  format:
    description: Format of O(src); guessed from its content when left out.
    type: str
    choices: [ipvsadm, yaml, json]
  purge:
    description:
      - Remove services that the desired table does not name, and, within the services it names, real servers and
        local addresses it does not list. Without it nothing that is not named is touched.
    type: bool
    default: false
  state:
    description:
      - V(present) makes the table what O(services) or O(src) says.
      - V(flushed) empties the table (C(ipvsadm -C)); O(timeouts) and O(daemons) still apply.
    type: str
    choices: [present, flushed]
    default: present
  zero_stats:
    description: Zero every counter of every service (C(ipvsadm -Z)) after the other changes.
    type: bool
    default: false
  timeouts:
    description: TCP, TCP FIN and UDP timeouts in seconds, as M(lvs.ipvs.ipvs_timeout) takes them; those left out are kept.
    type: dict
    suboptions:
      tcp:
        description: TCP session timeout.
        type: int
      tcpfin:
        description: TCP timeout after a FIN.
        type: int
      udp:
        description: UDP timeout.
        type: int
  daemons:
    description: Sync daemons, as M(lvs.ipvs.ipvs_daemon) takes them. Roles not listed are left as they are.
    type: list
    elements: dict
    suboptions:
      role:
        description: Which daemon.
        type: str
        required: true
        choices: [master, backup]
      state:
        description: Whether it runs.
        type: str
        choices: [present, absent]
        default: present
      mcast_interface:
        description: Interface of the multicast messages; required when it runs.
        type: str
      syncid:
        description: Sync ID, 0 to 255. Left out, a running daemon keeps its ID; a new one gets 0.
        type: int
      sync_maxlen:
        description: Largest sync message payload.
        type: int
      mcast_group:
        description: Multicast group.
        type: str
      mcast_port:
        description: Multicast UDP port.
        type: int
      mcast_ttl:
        description: Multicast TTL.
        type: int
  export:
    description:
      - Also write the resulting table to this file on the managed host, so that C(ipvsadm -R < file) restores it
        completely - it empties the table first (C(-C)), then services, real servers with thresholds and tunnel
        options, timeouts (C(--set)) and sync daemons (C(--start-daemon)). Written only when its content changes,
        which is then a change of the task.
      - Its directory must exist, and be writable when the file has to change; both are checked before the table
        is touched (in check mode too). Should the write still fail after the table changed, the task fails with
        the changes it made listed (RV(applied)).
    type: path
  atomic:
    description:
      - If the kernel refuses any change, undo the ones already applied and fail, leaving the table as it was
        (counters of services and real servers that had to be re-created start again from zero). The failure names
        the object and the reason.
      - V(false) leaves what was applied, and the failure lists it.
    type: bool
    default: true
  lock_timeout:
    description: Seconds to wait for another C(ipvs_table) run on the same network namespace to finish.
    type: int
    default: 300
notes:
  - The result never carries the whole table (thousands of objects through Ansible cost more than the change);
    use M(lvs.ipvs.ipvs_info) to read it.
author:
  - lvs.ipvs contributors (@lvs-ipvs)
'''

EXAMPLES = r'''
- name: The web tier's table, nothing else on the director
  lvs.ipvs.ipvs_table:
    purge: true
    services:
      - vip: 192.0.2.10
        vport: 80
        scheduler: wrr
        servers:
          - {rip: 198.51.100.2, forward: masq, weight: 3}
          - {rip: 198.51.100.3, forward: masq, weight: 1}
      - vip: 192.0.2.10
        vport: 443
        scheduler: sh
        sched_flags: [sh-port]
        persistent: true
        servers:
          - {rip: 198.51.100.2, forward: masq}
    timeouts: {tcp: 900, tcpfin: 120, udp: 300}
    daemons:
      - {role: master, mcast_interface: eth1, syncid: 7}
    export: /etc/ipvsadm.rules
  become: true

- name: Migrate from an ipvsadm-save file (ipvsadm -R, but idempotent and atomic)
  lvs.ipvs.ipvs_table:
    src: /etc/ipvsadm.rules
    purge: true
  become: true

- name: Drain one real server everywhere it serves, in one task, and wait up to 10 minutes for its connections to end
  lvs.ipvs.ipvs_table:
    services:
      - {vip: 192.0.2.10, vport: 80, servers: [{rip: 198.51.100.3, state: drained, wait_for_drain: true,
                                                drain_timeout: 600}]}
      - {vip: 192.0.2.10, vport: 443, servers: [{rip: 198.51.100.3, state: drained, wait_for_drain: true,
                                                 drain_timeout: 600}]}
  become: true

- name: ipvsadm -Z
  lvs.ipvs.ipvs_table:
    zero_stats: true
  become: true

- name: ipvsadm -C
  lvs.ipvs.ipvs_table:
    state: flushed
  become: true
'''

RETURN = r'''
services_added:
  description: Services created.
  returned: always
  type: int
  sample: 2
services_changed:
  description: Services whose scheduler, flags or persistence were changed in place.
  returned: always
  type: int
  sample: 0
services_removed:
  description: Services removed (by O(purge), O(services[].state=absent) or O(state=flushed)).
  returned: always
  type: int
  sample: 1
servers_added:
  description: Real servers added (those of new services included).
  returned: always
  type: int
  sample: 8
servers_changed:
  description: Real servers changed in place (weights, drains, thresholds, forwarding, tunnels).
  returned: always
  type: int
  sample: 1
servers_removed:
  description: Real servers removed from services that stay (those of removed services are not counted).
  returned: always
  type: int
  sample: 0
laddrs_added:
  description: FULLNAT local addresses added.
  returned: always
  type: int
  sample: 0
laddrs_removed:
  description: FULLNAT local addresses removed.
  returned: always
  type: int
  sample: 0
zeroed:
  description: Whether the counters were (or in check mode would be) zeroed.
  returned: always
  type: bool
  sample: false
requests:
  description: Write requests sent to the kernel (0 when nothing changed, and in check mode).
  returned: always
  type: int
  sample: 11
timeouts:
  description: The timeouts after the task (as they would be, in check mode).
  returned: always
  type: dict
  sample: {tcp: 900, tcpfin: 120, udp: 300}
daemons:
  description: The sync daemons after the task, in M(lvs.ipvs.ipvs_info)'s shape.
  returned: always
  type: list
  elements: dict
  sample: [{role: master, mcast_interface: eth1, syncid: 7, sync_maxlen: 1472, mcast_group: 224.0.0.81,
            mcast_port: 8848, mcast_ttl: 1}]
export:
  description: Path of the O(export) file, and whether its content changed.
  returned: when O(export) is given
  type: dict
  sample: {path: /etc/ipvsadm.rules, changed: true}
drains:
  description:
    - One entry per real server that asked to O(services[].servers[].wait_for_drain), in the order listed.
  returned: when a listed real server has O(services[].servers[].wait_for_drain=true), not in check mode
  type: list
  elements: dict
  contains:
    service:
      description: The service, as C(TCP 192.0.2.10:80) or C(FWM 7).
      type: str
    rip:
      description: Real server address.
      type: str
    rport:
      description: Real server port.
      type: int
    drained:
      description: Whether the connections that count reached zero before the timeout.
      type: bool
    waited:
      description: Seconds waited.
      type: float
    active_conns:
      description: Active connections left when the wait ended.
      type: int
    inactive_conns:
      description: Inactive connections left when the wait ended.
      type: int
    persist_conns:
      description: Persistence templates left (they keep sending a client back unless C(expire_quiescent_template)).
      type: int
    gone:
      description: The real server was removed (by someone else) while waiting.
      type: bool
    weight:
      description: Its weight when the wait ended; not 0 when it was put back in rotation meanwhile (the task then fails).
      type: int
  sample: [{service: TCP 192.0.2.10:80, rip: 10.0.0.2, rport: 80, drained: true, waited: 12.0, active_conns: 0,
            inactive_conns: 3, persist_conns: 0, gone: false, weight: 0}]
lock_waited:
  description: Seconds this run waited for another run on the same network namespace (a warning says so too).
  returned: always
  type: float
  sample: 0.0
applied:
  description:
    - On failure with O(atomic=false), when undoing failed, or when the O(export) could not be written after the
      table changed, the changes that stay applied, in words.
  returned: on failure, when changes were left applied
  type: list
  elements: str
  sample: [add virtual service TCP 192.0.2.10:80]
not_applied:
  description: On failure, the changes the kernel refused, each with the reason.
  returned: on failure, when the kernel refused a change
  type: list
  elements: dict
  contains:
    change:
      description: The change, in words.
      type: str
    error:
      description: Why the kernel refused it.
      type: str
  sample: [{change: add virtual service TCP 192.0.2.10:80, error: "scheduler 'nosuch' is not available"}]
not_undone:
  description:
    - On failure with O(atomic=true), the undo steps the kernel refused, each with the reason; the changes they
      belong to stay applied and are listed in RV(applied).
  returned: on failure, when undoing failed
  type: list
  elements: dict
  contains:
    change:
      description: The undo step, in words.
      type: str
    error:
      description: Why the kernel refused it.
      type: str
  sample: [{change: edit real server 10.1.0.2:80 in TCP 192.0.2.10:80, error: the kernel is out of memory}]
'''

import os
import tempfile

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.lvs.ipvs.plugins.module_utils import _drain, _table
from ansible_collections.lvs.ipvs.plugins.module_utils._common import IpvsModule
from ansible_collections.lvs.ipvs.plugins.module_utils._ipvs import NO_LADDR
from ansible_collections.lvs.ipvs.plugins.module_utils._errors import IpvsError
from ansible_collections.lvs.ipvs.plugins.module_utils._model import daemon_dict
from ansible_collections.lvs.ipvs.plugins.module_utils._netlink import gc_paused
from ansible_collections.lvs.ipvs.plugins.module_utils._options import OptionError, check_options
from ansible_collections.lvs.ipvs.plugins.module_utils._save import emit_restore, zeroes


def desired_of(m, source, current=None):
    """The Desired table of the options; `source`: (text, format) of src;
    `current` ([(Service, [Server])]) for an ipvsadm src."""
    p = m.params
    if source is not None:
        def load_yaml(text):
            # Imported here: only YAML files need it, and an import costs a slow host a second.
            try:
                import yaml
            except ImportError:
                m.fail(missing_required_lib('PyYAML', reason='to read a YAML src'))
            try:
                return yaml.safe_load(text)
            except yaml.YAMLError as e:
                raise ValueError(str(e))
        desired = _table.from_text(source[0], source[1], p['src'], check_options, load_yaml, current)
        if p['timeouts'] is not None or p['daemons'] is not None:
            extra = _table.from_options([], p['timeouts'], p['daemons'])
            desired.timeouts.update(extra.timeouts)
            desired.daemons.update(extra.daemons)
            desired.daemon_paths.update(extra.daemon_paths)
        return desired
    return _table.from_options(p['services'], p['timeouts'], p['daemons'], validate=check_options)


def read_current(client, desired, with_stats, purge, table=None):
    """{key: (Service, [Server])} (of `table` when it was read already) and, on
    FULLNAT kernels, {key: [address]} of the services whose local addresses the
    plan may change or has to restore."""
    if table is None:
        table = client.table(with_stats=with_stats)
    desired.plans_from(table)
    current = dict((svc.key, (svc, servers)) for svc, servers in table)
    wanted = [s.key for s in desired.specs if s.laddrs is not None]
    if wanted and not client.supports_laddr:
        raise IpvsError(NO_LADDR)
    laddrs = {}
    if client.supports_laddr:
        # Services that may be removed (and so re-created by an undo) too.
        gone = set(s.key for s in desired.specs if s.state == 'absent')
        keys = list(current) if purge else set(wanted) | gone
        for key in keys:
            if key in current:
                laddrs[key] = [a.address for a in client.laddrs(key)]
    return current, laddrs


def namespace_lock(m):
    return _table.NamespaceLock(m.params['netns'], m.params['lock_timeout'], create=not m.check_mode)


def read_ahead(m, source):
    """(client, lock, table, with stats) read before an ipvsadm src is parsed,
    so that the lines saying what the table has are looked up instead of
    parsed — where that reading cannot come before an error of the file's own:
    IPVS is there already (nothing to load), the lock is free and can be taken,
    the table can be read (root). Else None: the file is parsed first."""
    p = m.params
    if source is None or source[1] != 'ipvsadm':
        return None
    client = m.loaded_client()
    if client is None:
        return None
    try:
        lock = namespace_lock(m).acquire(wait=False)
    except IpvsError:
        return None
    if lock is None:
        return None
    with_stats = p['zero_stats'] or zeroes(source[0])
    try:
        return client, lock, client.table(with_stats=with_stats), with_stats
    except IpvsError:
        lock.release()
        return None
    except BaseException:
        lock.release()
        raise


def export_text(path, after_table, timeouts, daemons):
    """The export of the planned table, checked before the first write, in check
    mode too (the file is written only after the table is changed): it can be
    restored and, where the file has to change, written."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise OptionError("export: the directory %s does not exist" % directory)
    for svc, servers in after_table:
        for srv in servers:
            if srv.forward in ('bypass', 'fnat'):
                raise OptionError("export: %s of %s uses forward=%s, which ipvsadm cannot write or restore"
                                  % (srv.text(), svc.text(), srv.forward))
    text = emit_restore(after_table, timeouts, daemons)
    if not export_holds(path, text):
        if os.path.isdir(path):
            raise OptionError("export: %s is a directory; give the path of a file" % path)
        # A read-only filesystem is refused here as well (EROFS).
        if not os.access(directory, os.W_OK | os.X_OK, effective_ids=os.access in os.supports_effective_ids):
            raise OptionError("export: the directory %s is not writable" % directory)
    return text


def export_holds(path, text):
    try:
        with open(path) as f:
            return f.read() == text
    except (IOError, OSError):
        return False


class _MoveFailed(Exception):
    pass


def _raise_move_failed(msg, **kwargs):
    raise _MoveFailed(msg)


def write_export(m, path, text):
    """(changed) — write `text` to `path` atomically unless it holds it already."""
    if export_holds(path, text):
        return False
    if m.check_mode:
        return True
    directory = os.path.dirname(os.path.abspath(path))
    # This comes after the table's changes: every failure is raised as IpvsError, and reports them (changed,
    # applied). ansible-core before 2.19 reports a failed rename in atomic_move() with fail_json(), which would
    # end the task without them; 2.19 raises a plain Exception.
    fail_json = m.module.fail_json
    m.module.fail_json = _raise_move_failed
    try:
        fd, tmp = tempfile.mkstemp(prefix='.ipvs_table.', dir=directory)
        try:
            with os.fdopen(fd, 'w') as f:
                f.write(text)
            m.module.atomic_move(tmp, os.path.abspath(path))
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except Exception as e:  # pylint: disable=broad-except
        why = getattr(e, 'strerror', None) or str(e)
        if e.__cause__ is not None:
            why = '%s (%s)' % (why, getattr(e.__cause__, 'strerror', None) or e.__cause__)
        raise IpvsError("export: writing %s failed: %s" % (path, why))
    finally:
        m.module.fail_json = fail_json
    return True


def run(m):
    # Tens of thousands of small acyclic objects (the desired table, the current
    # one, ops and replies): the cyclic collector would walk them again and again.
    with gc_paused():
        _run(m)


def _run(m):
    p = m.params
    if p['services'] is not None:
        # The desired table is not echoed back: thousands of entries through Ansible cost more than the change.
        m.echo_args(services='(%d services)' % len(p['services']))
    flushed = p['state'] == 'flushed'
    if flushed and (p['services'] or p['src']):
        raise OptionError("state=flushed empties the table; it takes no services or src")
    source = _table.read_file(p['src'], p['format']) if p['src'] is not None else None
    ahead = read_ahead(m, source)
    if ahead is None:
        desired = desired_of(m, source)
        client, table = m.client(), None
        lock = namespace_lock(m).acquire()
    else:
        client, lock, table, with_stats = ahead
    try:
        if ahead is not None:
            desired = desired_of(m, source, table)
            if desired.zero and not with_stats:
                table = None    # a -Z that zeroes() does not see (quoted): read again, with the counters
        if lock.waited >= 1:
            m.module.warn("waited %.1f s for another ipvs_table run on this network namespace to finish" % lock.waited)
        zero = p['zero_stats'] or desired.zero
        purge = p['purge'] or desired.clear or flushed
        current, laddrs = read_current(client, desired, zero, purge, table)
        waits = _table.check_drains(desired, current)
        before_timeouts = client.timeouts()
        before_daemons = client.daemons()
        plan = _table.plan(client, desired, current, purge=p['purge'], flushed=flushed, zero=zero,
                           current_laddrs=laddrs)
        _table.plan_timeouts(plan, desired.timeouts, before_timeouts)
        _table.plan_daemons(plan, client, desired.daemons, p['netns'], desired.daemon_paths)
        after_table = [plan.after[k] for k in plan.after]
        if p['export']:
            export = export_text(p['export'], after_table, plan.timeouts, plan.daemons)
        changed = bool(_table.ordered(plan)) or plan.zero is not None
        sent = 0
        if changed and not m.check_mode:
            mark = client.sock.requests
            _table.apply(client, plan, atomic=p['atomic'])
            sent = client.sock.requests - mark
        after_timeouts, after_daemons = plan.timeouts, plan.daemons
        if changed and not m.check_mode and (m.module._diff or p['export']):
            after_table = client.table(with_stats=False)
            after_timeouts, after_daemons = client.timeouts(), client.daemons()
            if p['export']:
                export = emit_restore(after_table, after_timeouts, after_daemons)
        result = dict(plan.counts, zeroed=plan.zero is not None, requests=sent, lock_waited=round(lock.waited, 3),
                      timeouts=dict(after_timeouts._asdict()), daemons=[daemon_dict(d) for d in after_daemons])
        if p['export']:
            # Under the lock: the file must describe this run's table, not the next run's.
            export_changed = write_export(m, p['export'], export)
            result['export'] = dict(path=p['export'], changed=export_changed)
            changed = changed or export_changed
    finally:
        lock.release()
    # Outside the lock: waiting only reads, and may take minutes.
    if waits and not m.check_mode:
        try:
            result['drains'] = _drain.wait(client, waits)
        except IpvsError as e:
            m.fail('%s, while waiting for drained real servers' % e, changed=changed, **result)
        late = _drain.failures(waits, result['drains'])
        if late:
            m.fail(late, changed=changed, **result)
    before = after = None
    if m.module._diff:
        before = _table.table_text(list(current.values()), before_timeouts, before_daemons)
        after = _table.table_text(after_table, after_timeouts, after_daemons)
    m.finish(changed, before, after, **result)


def main():
    spec = dict(
        # Documented with suboptions; checked by check_options(), which costs a fraction of
        # Ansible's own checks on thousands of entries.
        services=dict(type='list', elements='dict'),
        src=dict(type='path'),
        format=dict(type='str', choices=list(_table.FORMATS)),
        purge=dict(type='bool', default=False),
        state=dict(type='str', default='present', choices=['present', 'flushed']),
        zero_stats=dict(type='bool', default=False),
        timeouts=dict(type='dict', options=_table.TIMEOUTS_SPEC),
        daemons=dict(type='list', elements='dict', options=_table.DAEMON_SPEC),
        export=dict(type='path'),
        atomic=dict(type='bool', default=True),
        lock_timeout=dict(type='int', default=300),
    )
    IpvsModule(argument_spec=spec, mutually_exclusive=[('services', 'src')]).run(run)


if __name__ == '__main__':
    main()
