# -*- coding: utf-8 -*-
# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This is a private module_util of lvs.ipvs: it may change without notice.
"""The whole table at once (ipvs_table): the desired table from options or a
file, the plan that gets the kernel there (every op with the op that undoes
it), applying it atomically, and a lock per network namespace."""

from __future__ import absolute_import, division, print_function

import errno
import fcntl
import functools
import json
import os
import re
import time

from ansible_collections.lvs.ipvs.plugins.module_utils import _ipvs, _save
from ansible_collections.lvs.ipvs.plugins.module_utils._errors import ApplyError, IpvsError
from ansible_collections.lvs.ipvs.plugins.module_utils._model import (
    DAEMON_ROLES, FAMILIES, F_USER_MASK, PROTOCOLS, SCHED_FLAG_CHOICES, ZERO_STATS, normalize_ip, service_text,
)
from ansible_collections.lvs.ipvs.plugins.module_utils._netns import netns_path
from ansible_collections.lvs.ipvs.plugins.module_utils._drain import DRAIN_SPEC, DrainWait, drain_request
from ansible_collections.lvs.ipvs.plugins.module_utils._drain import missing as missing_drain
from ansible_collections.lvs.ipvs.plugins.module_utils._options import (
    OptionError, SERVER_SPEC, server_from_params, service_key,
)
from ansible_collections.lvs.ipvs.plugins.module_utils._plan import (
    TIMEOUT_NAMES, desired_daemon, desired_servers, desired_service, desired_timeouts, plan_daemon, plan_servers,
)

__metaclass__ = type

# ---------------------------------------------------------------- option specs (ipvs_service's vocabulary)

TABLE_SERVER_SPEC = dict(SERVER_SPEC, state=dict(type='str', default='present', choices=['present', 'absent', 'drained']),
                         **DRAIN_SPEC)
TABLE_SERVICE_SPEC = dict(
    vip=dict(type='str'),
    vport=dict(type='int'),
    protocol=dict(type='str', default='tcp', choices=list(PROTOCOLS)),
    fwmark=dict(type='int'),
    family=dict(type='str', choices=list(FAMILIES)),
    state=dict(type='str', default='present', choices=['present', 'absent']),
    scheduler=dict(type='str'),
    sched_flags=dict(type='list', elements='str', choices=list(SCHED_FLAG_CHOICES)),
    persistent=dict(type='bool'),
    persistence_timeout=dict(type='int'),
    netmask=dict(type='str'),
    pe=dict(type='str'),
    one_packet=dict(type='bool'),
    servers=dict(type='list', elements='dict', options=TABLE_SERVER_SPEC),
    laddrs=dict(type='list', elements='str'),
)
TIMEOUTS_SPEC = dict((name, dict(type='int')) for name in TIMEOUT_NAMES)
DAEMON_SPEC = dict(
    role=dict(type='str', required=True, choices=list(DAEMON_ROLES)),
    state=dict(type='str', default='present', choices=['present', 'absent']),
    mcast_interface=dict(type='str'),
    syncid=dict(type='int'),
    sync_maxlen=dict(type='int'),
    mcast_group=dict(type='str'),
    mcast_port=dict(type='int'),
    mcast_ttl=dict(type='int'),
)
FORMATS = ('ipvsadm', 'yaml', 'json')


# ---------------------------------------------------------------- the desired table

class Desired:
    """What the table should be: service specs, timeouts {name: s}, daemons
    {role: Daemon or None}, and the file's own -C (purge) and -Z (zero)."""

    def __init__(self, specs=(), timeouts=None, daemons=None, clear=False, zero=False, daemon_paths=None):
        self.specs = list(specs)
        self.timeouts = timeouts or {}
        self.daemons = daemons or {}
        self.clear = clear
        self.zero = zero
        self.daemon_paths = daemon_paths or {}  # role -> the option path that named it, for messages
        # The reading of the table an ipvsadm file's lines were looked up in: only
        # from_rules() sets it, with the RulesSpecs' looked_up.
        self.lookup_table = None

    def plans_from(self, table):
        """Name the reading of the table the plan starts from: services whose lines
        were all found among another reading's are compared like any other."""
        if self.lookup_table is not None and self.lookup_table is not table:
            for spec in self.specs:
                spec.looked_up = False
            self.lookup_table = None


class VocabularySpec:
    """A service in ipvs_service's vocabulary: options left out keep what exists."""

    __slots__ = ('key', 'where', 'state', 'entry', 'laddrs', 'drains')
    looked_up = False

    def __init__(self, entry, where):
        self.entry = entry
        self.where = where
        self.state = entry.get('state') or 'present'
        try:
            self.key = service_key(entry)
        except OptionError as e:
            raise OptionError('%s%s' % (where, e))
        self.laddrs = entry.get('laddrs')
        self.drains = []    # (servers[] index, drain_request())
        for i, item in enumerate(entry.get('servers') or ()):
            if any(item.get(name) is not None for name in DRAIN_SPEC):
                at = '%sservers[%d].' % (where, i)
                request = drain_request(item, item.get('state') or 'present', at)
                if request is not None:
                    if self.state == 'absent':
                        raise OptionError("%swait_for_drain=true: %sstate=absent removes the service and its "
                                          "real servers at once" % (at, where))
                    self.drains.append((i, request))

    def drain_waits(self):
        """(option path, DrainWait) of each listed server that asks to wait for its drain."""
        items = self.entry['servers']
        return [('%sservers[%d].' % (self.where, i), DrainWait(self.key, server_from_params(items[i], self.key), *request))
                for i, request in self.drains]

    def resolve(self, current, current_servers):
        svc, mask = desired_service(self.entry, self.key, current, self.where)
        wanted = desired_servers(self.entry.get('servers'), self.key, current_servers, self.where)
        return svc, mask, wanted


class RulesSpec:
    """A service of an ipvsadm restore file: every value is given (ipvsadm's defaults applied).
    `looked_up`: its lines were all found among restore_blocks() of the table the plan
    starts from, so they name the service as it is and some of its real servers as they are."""

    __slots__ = ('key', 'state', 'svc', 'servers', 'laddrs', 'looked_up')

    def __init__(self, svc, servers, looked_up=False):
        self.key = svc.key
        self.svc = svc
        self.servers = servers
        self.state = 'present'
        self.laddrs = None
        self.looked_up = looked_up

    @property
    def where(self):
        # Only errors read it: a table has thousands of services.
        return 'src: %s: ' % self.svc.text()

    def resolve(self, current, current_servers):
        return self.svc, F_USER_MASK, [(srv, 'present') for srv in self.servers]

    def drain_waits(self):
        return []


def check_drains(desired, current):
    """The DrainWaits of `desired`, once each names a real server that exists
    (`current`: {key: (Service, [Server])}); OptionError for one that does not."""
    waits = []
    for spec in desired.specs:
        for where, w in spec.drain_waits():
            have = current.get(w.key)
            servers = have[1] if have is not None else None
            if servers is None or not any(s.rip == w.rip and s.rport == w.rport for s in servers):
                raise missing_drain(w.key, w, servers, where)
            waits.append(w)
    return waits


def from_options(services, timeouts, daemons, where='', validate=None):
    """Desired of the module's options (or of a YAML/JSON file's mapping).
    `validate(spec, value, where)` checks entries that did not pass through
    Ansible's own argument validation (those read from a file)."""
    specs, seen = [], {}
    for i, entry in enumerate(services or []):
        at = '%sservices[%d].' % (where, i)
        if validate:
            entry = validate(TABLE_SERVICE_SPEC, entry, at)
        spec = VocabularySpec(entry, at)
        if spec.key in seen:
            raise OptionError("%sservices[%d] and %sservices[%d] name the same service %s"
                              % (where, seen[spec.key], where, i, service_text(spec.key)))
        seen[spec.key] = i
        specs.append(spec)
    if validate and timeouts is not None:
        timeouts = validate(TIMEOUTS_SPEC, timeouts, where + 'timeouts.')
    wanted_timeouts = desired_timeouts(timeouts, where + 'timeouts.')
    wanted_daemons, paths = {}, {}
    for i, d in enumerate(daemons or []):
        at = '%sdaemons[%d].' % (where, i)
        if validate:
            d = validate(DAEMON_SPEC, d, at)
        paths[d['role']] = at
        if d['role'] in wanted_daemons:
            raise OptionError("%sdaemons lists the %s daemon twice" % (where, d['role']))
        if (d.get('state') or 'present') == 'present':
            if not d.get('mcast_interface'):
                raise OptionError("%smcast_interface is required for a running daemon" % at)
            wanted_daemons[d['role']] = desired_daemon(d, at)
        else:
            wanted_daemons[d['role']] = None
    return Desired(specs, wanted_timeouts, wanted_daemons, daemon_paths=paths)


def from_rules(text, current=None):
    """Desired of an ipvsadm restore file (ipvsadm-save output or hand-written).
    `current`, the table as it is ([(Service, [Server])]), spares the lines that
    say what it already has from being parsed: they are looked up among its own
    (_save.restore_blocks()), and the plan from that reading keeps the services
    whose lines were all found there as they are."""
    known = _save.restore_blocks(current) if current else None
    try:
        rules = _save.parse_rules(text, known=known)
    except _save.RulesError as e:
        raise OptionError("src: %s" % e)
    looked_up = rules.looked_up
    specs = [RulesSpec(svc, servers, svc.key in looked_up) for svc, servers in rules.table]
    timeouts = {}
    if rules.timeouts is not None:
        timeouts = dict((k, v) for k, v in rules.timeouts._asdict().items() if v)
    daemons = dict((role, None) for role in rules.stopped)
    paths = {}
    for d in rules.daemons:
        paths[d['role']] = 'src: --start-daemon %s: ' % d['role']
        daemons[d['role']] = desired_daemon(d, paths[d['role']])
    desired = Desired(specs, timeouts, daemons, clear=rules.clear, zero=rules.zero, daemon_paths=paths)
    if known:
        desired.lookup_table = current
    return desired


def guess_format(text):
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        if line.startswith(('---', '%')):  # a YAML document or directive
            return 'yaml'
        if re.match(r'^(-[A-Za-z]|--[a-z])', line):
            return 'ipvsadm'
        if line[0] in '{[':
            return 'json'
        return 'yaml'
    return 'ipvsadm'  # an empty file: an empty table


def read_file(path, fmt):
    """(text, format) of a file on the managed host."""
    try:
        with open(path) as f:
            text = f.read()
    except (IOError, OSError) as e:
        raise OptionError("src: cannot read %s: %s" % (path, e.strerror or e))
    return text, fmt or guess_format(text)


def from_text(text, fmt, path, validate, load_yaml, current=None):
    """Desired of the text of file `path` in format `fmt`. `current`, the table
    as it is ([(Service, [Server])]), spares an ipvsadm file's lines that say
    what it already has from being parsed."""
    if fmt == 'ipvsadm':
        return from_rules(text, current)
    try:
        data = json.loads(text) if fmt == 'json' else load_yaml(text)
    except ValueError as e:
        raise OptionError("src: %s is not valid %s: %s" % (path, fmt.upper(), e))
    if data is None:
        data = []
    if isinstance(data, list):
        data = dict(services=data)
    if not isinstance(data, dict):
        raise OptionError("src: %s must hold a list of services or a mapping with services, timeouts and daemons"
                          % path)
    unknown = sorted(set(data) - set(('services', 'timeouts', 'daemons')))
    if unknown:
        raise OptionError("src: unknown key %s in %s; accepted: services, timeouts, daemons" % (', '.join(unknown), path))
    for name, kind in (('services', list), ('timeouts', dict), ('daemons', list)):
        if data.get(name) is not None and not isinstance(data[name], kind):
            raise OptionError("src: %s must be a %s" % (name, 'list' if kind is list else 'mapping'))
    return from_options(data.get('services'), data.get('timeouts'), data.get('daemons'), where='src: ',
                        validate=validate)


# ---------------------------------------------------------------- the plan

class Plan:
    """Ops in the order they are sent, each with the ops that undo it (a list,
    or a function that builds it: only a failed apply needs them), the counts
    users see, and the table as it will be. Daemon stops go first and starts
    last: the kernel refuses a real server of another family than its service
    while a daemon runs, and a daemon while such a server exists."""

    def __init__(self):
        self.ops = []
        self.undo = []
        self.first = []         # (op, undo) sent before the others
        self.last = []          # (op, undo) sent after the others
        self.counts = dict(services_added=0, services_changed=0, services_removed=0,
                           servers_added=0, servers_changed=0, servers_removed=0,
                           laddrs_added=0, laddrs_removed=0)
        self.after = {}         # key -> (Service, [Server])
        self.timeouts = None    # Timeouts after
        self.daemons = []       # [Daemon] after
        self.zero = None        # the zero op, sent only once everything else worked

    def add(self, op, undo, count=None):
        self.ops.append(op)
        self.undo.append(undo)
        if count:
            self.counts[count] += 1


_SERVER_COUNT = {'add-server': 'servers_added', 'edit-server': 'servers_changed', 'del-server': 'servers_removed'}


def _server_undo(key, op, by_key):
    if op.name == 'add-server':
        return [_ipvs.op_delete_server(key, op.args[1])]
    have = by_key[op.args[1].key]
    if op.name == 'edit-server':
        return [_ipvs.op_edit_server(key, have)]
    return [_ipvs.op_add_server(key, have)]


def _recreate(svc, servers, laddrs=()):
    ops = [_ipvs.op_add_service(svc)]
    ops.extend(_ipvs.op_add_server(svc.key, srv) for srv in servers)
    ops.extend(_ipvs.op_add_laddr(svc.key, a) for a in laddrs)
    return ops


def plan(client, desired, current, purge=False, flushed=False, zero=False, current_laddrs=None):
    """The Plan from `current` ({key: (Service, [Server])}, in kernel order) to `desired`.

    Raises OptionError (naming the option) for anything invalid; nothing is sent.
    """
    p = Plan()
    current_laddrs = current_laddrs or {}
    purge = purge or desired.clear
    if flushed:
        if current:
            def undo_flush(current=current):
                undo = []
                for svc, servers in current.values():
                    undo.extend(_recreate(svc, servers, current_laddrs.get(svc.key, ())))
                return undo
            p.add(_ipvs.op_flush(), undo_flush)
            p.counts['services_removed'] = len(current)
        current = {}
    deletes = []
    named = set()
    for spec in desired.specs:
        named.add(spec.key)
        have, have_servers = current.get(spec.key, (None, []))
        if spec.state == 'absent':
            if have is not None:
                deletes.append((have, have_servers))
            continue
        if spec.looked_up and have is not None and (not purge or len(spec.servers) == len(have_servers)):
            # Its lines said what the table has: nothing to send, and the service stays as it is.
            p.after[spec.key] = (have, have_servers)
            continue
        svc, mask, wanted = spec.resolve(have, have_servers)
        if have is None:
            p.add(_ipvs.op_add_service(svc), functools.partial(_undo_add_service, svc.key), 'services_added')
        elif have[:10] != svc[:10]:          # config(), without two method calls per service
            p.add(_ipvs.op_edit_service(svc, mask), [_ipvs.op_edit_service(have)], 'services_changed')
        server_ops, after_servers = plan_servers(spec.key, wanted, have_servers, purge)
        if server_ops:
            by_key = dict((s.key, s) for s in have_servers)
            for op in server_ops:
                p.add(op, functools.partial(_server_undo, spec.key, op, by_key), _SERVER_COUNT[op.name])
        p.after[spec.key] = (svc, after_servers)
        if spec.laddrs is not None:
            _plan_laddrs(p, spec, current_laddrs.get(spec.key, []), purge)
    if purge:
        deletes.extend(v for k, v in current.items() if k not in named)
    for have, have_servers in deletes:
        p.add(_ipvs.op_delete_service(have.key),
              functools.partial(_recreate, have, have_servers, current_laddrs.get(have.key, ())), 'services_removed')
    deleted = set(have.key for have, _servers in deletes)
    for key, value in current.items():
        if key not in p.after and key not in deleted:
            p.after[key] = value
    if zero and any(_has_counts(svc, servers) for svc, servers in current.values()):
        p.zero = _ipvs.op_zero()
    return p


def _undo_add_service(key):
    return [_ipvs.op_delete_service(key)]


def _plan_laddrs(p, spec, have, purge):
    family = spec.key[0]
    wanted = []
    for i, value in enumerate(spec.laddrs):
        try:
            af, addr = normalize_ip(value)
        except ValueError as e:
            raise OptionError("%sladdrs[%d]: %s" % (spec.where, i, e))
        if af != family:
            raise OptionError("%sladdrs[%d]: %s is %s but the service is %s" % (spec.where, i, addr, af, family))
        if addr not in wanted:
            wanted.append(addr)
    for addr in wanted:
        if addr not in have:
            p.add(_ipvs.op_add_laddr(spec.key, addr), [_ipvs.op_delete_laddr(spec.key, addr)], 'laddrs_added')
    if purge:
        for addr in have:
            if addr not in wanted:
                p.add(_ipvs.op_delete_laddr(spec.key, addr), [_ipvs.op_add_laddr(spec.key, addr)], 'laddrs_removed')


def _has_counts(svc, servers):
    return any(s.stats not in (None, ZERO_STATS) for s in [svc] + list(servers))


def plan_timeouts(p, wanted, current):
    """Timeouts: one set op for the ones that differ (0 leaves the others)."""
    after = current._replace(**wanted)
    if after != current:
        changed = dict((k, v) for k, v in wanted.items() if getattr(current, k) != v)
        p.add(_ipvs.op_set_timeouts(**changed), [_ipvs.op_set_timeouts(*current)])
    p.timeouts = after
    return after != current


def plan_daemons(p, client, wanted, netns=None, where=None):
    """Daemons of the roles named; each restart is a stop and a start."""
    changed = False
    after = dict((d.role, d) for d in client.daemons())
    for role in DAEMON_ROLES:
        if role not in wanted:
            continue
        at = (where or {}).get(role, 'daemons[%s].' % role)
        current, stop, start, new = plan_daemon(client, role, wanted[role], netns, at)
        if stop:
            p.first.append((stop, [_ipvs.op_start_daemon(current)]))
        if start:
            p.last.append((start, [_ipvs.op_stop_daemon(role)]))
        changed = changed or bool(stop or start)
        if new is None:
            after.pop(role, None)
        else:
            after[role] = new
    p.daemons = [after[r] for r in DAEMON_ROLES if r in after]
    return changed


# ---------------------------------------------------------------- applying

def ordered(p):
    """[(op, undo)] in the order they are sent."""
    return p.first + list(zip(p.ops, p.undo)) + p.last


def apply(client, p, atomic=True):
    """Send the plan. On any refusal, undo what was applied (atomic) and raise
    ApplyError naming the first failure; with atomic=False leave it applied.
    Counters are zeroed last, once everything else worked (that is not undone)."""
    steps = ordered(p)
    ops = [op for op, _undo in steps]
    mark = len(client.applied)
    errors = client.apply(ops) if ops else []
    failed = [(op, e) for op, e in zip(ops, errors) if e is not None]
    if failed:
        done = [(op, undo) for (op, undo), e in zip(steps, errors) if e is None]
        if not atomic:
            raise ApplyError(failed, [op for op, _u in done])
        undo_ops, owner = [], []
        for op, undo in reversed(done):
            if callable(undo):
                undo = undo()
            undo_ops.extend(undo)
            owner.extend([op] * len(undo))
        undo_errors = client.apply(undo_ops) if undo_ops else []
        stuck = [(u, e) for u, e in zip(undo_ops, undo_errors) if e is not None]
        # What stays applied: the changes whose undo did not (entirely) work.
        left = []
        for u, e, op in zip(undo_ops, undo_errors, owner):
            if e is not None and op not in left:
                left.append(op)
        del client.applied[mark:]
        client.applied.extend(op for op, _undo in done if op in left)
        error = ApplyError(failed, [])
        if stuck:
            error.not_undone = stuck
            error.message += ("; undoing the %d changes already made failed for %d of them (first: %s), so the "
                              "table is partly changed" % (len(done), len(left), stuck[0][1]))
        else:
            error.message += ("; the %d changes already made were undone, the table is as it was" % len(done)
                              if done else "; nothing was changed")
        raise error
    if p.zero is not None:
        client.apply_or_raise([p.zero])


# ---------------------------------------------------------------- the lock

LOCK_DIRS = ('/run/lvs.ipvs', '/var/run/lvs.ipvs')


class NamespaceLock:
    """An exclusive flock per network namespace (by the namespace's inode), so
    that two runs against one table take turns instead of mixing. The lock
    files live in a directory only root can write (no one else can hold or
    replace them). `create=False` (check mode) locks only a file that exists."""

    def __init__(self, netns, timeout, create=True):
        path = netns_path(netns) or '/proc/self/ns/net'
        try:
            st = os.stat(path)
            ident = '%x-%x' % (st.st_dev, st.st_ino)
        except OSError:
            ident = re.sub(r'[^A-Za-z0-9_.-]', '_', netns or 'self')
        self.directory = LOCK_DIRS[0] if os.path.isdir(os.path.dirname(LOCK_DIRS[0])) else LOCK_DIRS[1]
        self.path = os.path.join(self.directory, 'table-%s.lock' % ident)
        self.timeout = timeout
        self.create = create
        self.fd = None
        self.waited = 0.0

    def acquire(self, wait=True):
        """self, once locked; without `wait`, None when another run holds the lock."""
        flags = os.O_RDWR | getattr(os, 'O_NOFOLLOW', 0) | getattr(os, 'O_CLOEXEC', 0)
        try:
            if self.create:
                if not os.path.isdir(self.directory):
                    os.mkdir(self.directory, 0o700)
                flags |= os.O_CREAT
            self.fd = os.open(self.path, flags, 0o600)
        except OSError as e:
            if not self.create and e.errno == errno.ENOENT:
                return self  # check mode, and no run has ever locked: nothing to wait for
            if e.errno in (errno.EACCES, errno.EPERM):
                return self  # not root: the kernel will refuse the run anyway, and say why
            raise IpvsError("cannot open the lock file %s: %s" % (self.path, e.strerror))
        start = time.time()
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except (IOError, OSError) as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES):
                    self.release()
                    raise IpvsError("cannot lock %s: %s" % (self.path, e.strerror))
            if not wait:
                self.release()
                return None
            if time.time() - start >= self.timeout:
                holder = self._holder()
                self.release()
                raise IpvsError("another ipvs_table run%s has held this network namespace's table for %d seconds "
                                "(lock %s); giving up (lock_timeout)" % (holder, self.timeout, self.path))
            time.sleep(0.05)
        self.waited = time.time() - start
        if self.create:
            os.ftruncate(self.fd, 0)
            os.write(self.fd, ('%d\n' % os.getpid()).encode())
        return self

    def _holder(self):
        try:
            pid = os.pread(self.fd, 32, 0).decode().strip() if hasattr(os, 'pread') else ''
        except OSError:
            pid = ''
        return ' (pid %s)' % pid if pid.isdigit() else ''

    def release(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def table_text(table, timeouts=None, daemons=()):
    """The table as a reviewer reads it: ipvsadm -Sn lines with thresholds,
    then the timeouts and daemons as ipvsadm -R lines."""
    text = _save.emit(table, thresholds=True)
    if timeouts is not None:
        text += _save.timeouts_rule(timeouts) + '\n'
    for d in daemons:
        text += _save.daemon_rule(d) + '\n'
    return text
