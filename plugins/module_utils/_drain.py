# -*- coding: utf-8 -*-
# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This is a private module_util of lvs.ipvs: it may change without notice.
"""Waiting for drained real servers to lose their connections (wait_for_drain).

A drained server (weight 0) gets no new connections; the ones it has end when
their clients close them or the kernel expires them. The kernel's own counters
(active and inactive connections of the real server) say when that happened,
so waiting is polling them, one dump of each service's real servers a round.
"""

from __future__ import absolute_import, division, print_function

import time

from ansible_collections.lvs.ipvs.plugins.module_utils._model import addr_port, service_text
from ansible_collections.lvs.ipvs.plugins.module_utils._options import INT_MAX, OptionError, in_range

__metaclass__ = type

# Documented in the lvs.ipvs._service.DRAIN doc fragment; defaults applied in drain_request().
DRAIN_SPEC = dict(
    wait_for_drain=dict(type='bool'),
    drain_timeout=dict(type='int'),
    drain_inactive=dict(type='bool'),
    drain_timeout_ok=dict(type='bool'),
)
DRAIN_TIMEOUT = 300     # seconds, when drain_timeout is left out (None means "not given" in the spec)
POLL_INTERVAL = 1.0


class DrainWait:
    """One drained real server to wait for."""

    __slots__ = ('key', 'rip', 'rport', 'family', 'timeout', 'inactive', 'timeout_ok')

    def __init__(self, key, srv, timeout, inactive, timeout_ok):
        self.key = key
        self.rip, self.rport, self.family = srv.rip, srv.rport, srv.family
        self.timeout = timeout
        # The kernel's UDP entries never close: they only expire, so all of them count.
        self.inactive = inactive or key[1] == 'udp'
        self.timeout_ok = timeout_ok

    def text(self):
        return 'real server %s of %s' % (addr_port(self.family, self.rip, self.rport), service_text(self.key))


def drain_request(p, state, where=''):
    """(timeout, inactive, timeout_ok) when options `p` ask to wait for a drain, else None.
    The drain_* options without wait_for_drain, or waiting for anything but a drain, are errors:
    a wait the operator believes in but that never happens is worse than a failed task."""
    wait = p.get('wait_for_drain')
    if not wait:
        given = [where + n for n in DRAIN_SPEC if n != 'wait_for_drain' and p.get(n) is not None]
        if given:
            raise OptionError("%s only appl%s with %swait_for_drain=true"
                              % (', '.join(given), 'ies' if len(given) == 1 else 'y', where))
        return None
    if state != 'drained':
        raise OptionError("%swait_for_drain=true needs %sstate=drained (it waits for the connections of a "
                          "drained real server to end), got state=%s" % (where, where, state))
    timeout = p.get('drain_timeout')
    timeout = DRAIN_TIMEOUT if timeout is None else in_range(where + 'drain_timeout', timeout, 0, INT_MAX)
    return timeout, bool(p.get('drain_inactive')), bool(p.get('drain_timeout_ok'))


def missing(key, srv, servers, where=''):
    """The error for waiting on the drain of a real server the service does not have
    (`servers`: the service's real servers, None when the service does not exist):
    draining nothing and reporting success would hide a typo or a missing rport."""
    text = 'real server %s' % addr_port(srv.family, srv.rip, srv.rport)
    if servers is None:
        return OptionError("%swait_for_drain=true: virtual service %s does not exist, so %s has nothing to drain"
                           % (where, service_text(key), text))
    others = sorted(addr_port(s.family, s.rip, s.rport) for s in servers if s.rip == srv.rip)
    hint = ('; it has %s (give %srport)' % (', '.join(others), where)) if others else ''
    return OptionError("%swait_for_drain=true: %s is not a real server of %s, so there is nothing to drain%s"
                       % (where, text, service_text(key), hint))


def wait(client, waits, poll=POLL_INTERVAL):
    """Poll the kernel until each of `waits` (DrainWait) has no connection left
    that counts, or its drain_timeout passed, or it is back in rotation (someone
    gave it a weight again). Returns one result dict per wait, in order: what was
    left when the wait ended and how long it took."""
    clock, sleep = time.monotonic, time.sleep
    start = clock()
    results = [None] * len(waits)
    pending = list(range(len(waits)))
    while pending:
        elapsed = clock() - start
        still = []
        servers = {}
        for i in pending:
            w = waits[i]
            if w.key not in servers:
                servers[w.key] = dict((s.key, s) for s in client.servers(w.key, with_stats=False) or ())
            srv = servers[w.key].get((w.rip, w.rport))
            active = srv.active_conns if srv is not None else 0
            inactive = srv.inactive_conns if srv is not None else 0
            left = active + (inactive if w.inactive else 0)
            undrained = srv is not None and srv.weight != 0
            if left == 0 or undrained or elapsed >= w.timeout:
                results[i] = dict(
                    service=service_text(w.key), rip=w.rip, rport=w.rport, drained=left == 0 and not undrained,
                    waited=round(elapsed, 1), active_conns=active, inactive_conns=inactive,
                    persist_conns=srv.persist_conns if srv is not None else 0, gone=srv is None,
                    weight=srv.weight if srv is not None else None)
            else:
                still.append(i)
        pending = still
        if pending:
            remaining = min(waits[i].timeout for i in pending) - (clock() - start)
            sleep(max(0.0, min(poll, remaining)))
    return results


def failures(waits, results):
    """A failure message for the waits that did not end drained (and may not), else None."""
    out = []
    for w, r in zip(waits, results):
        if r['drained']:
            continue
        if r['weight']:
            out.append('%s got weight %d back while its connections were being waited for (another run or a '
                       'hand edit put it back in rotation)' % (w.text(), r['weight']))
        elif not w.timeout_ok:
            out.append('%s still has %d active and %d inactive connections after drain_timeout=%d s; it stays '
                       'drained (weight 0). Raise drain_timeout, or set drain_timeout_ok=true to accept the '
                       'connections left' % (w.text(), r['active_conns'], r['inactive_conns'], w.timeout))
    return '; '.join(out) or None
