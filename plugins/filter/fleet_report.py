# -*- coding: utf-8 -*-
# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""lvs.ipvs.fleet_report and lvs.ipvs.fleet_report_html: many directors' IPVS facts as one report.

fleet_report() turns {host: {cluster, ipvs | error}} into plain JSON-able data: every director's
services, and a summary of what needs a look (drift between the directors of a cluster, drained
servers, services no server takes new connections for, sync daemons without a partner, hosts that
could not be read). fleet_report_html() renders that report as one self-contained page: inline CSS
and SVG, nothing loaded from anywhere, under a Content-Security-Policy that would block it if it tried.
Documentation: fleet_report.yml and fleet_report_html.yml next to this file.
"""

from __future__ import annotations

import datetime
import html
import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

FLAGS = ('drift', 'timeout_drift', 'drained_servers', 'services_without_server', 'unpaired_daemons',
         'failed_hosts')
FLAG_TITLES = {
    'drift': 'Table drift',
    'timeout_drift': 'Timeout drift',
    'drained_servers': 'Drained servers',
    'services_without_server': 'Services without a server',
    'unpaired_daemons': 'Unpaired sync daemons',
    'failed_hosts': 'Failed hosts',
}
# Where a sync daemon sends or listens when it was started without a group or port (ip_vs_sync.c).
DEFAULT_MCAST_GROUP = '224.0.0.81'
DEFAULT_MCAST_PORT = 8848
STAT_KEYS = ('conns', 'inpkts', 'outpkts', 'inbytes', 'outbytes')
RATE_KEYS = ('cps', 'inpps', 'outpps', 'inbps', 'outbps')


# ---------------------------------------------------------------- the report data

def _plain(value):
    """JSON-able copy of `value` with plain types (no Ansible-tagged subclasses)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or kind is float or value is None:
        return value
    if kind is dict:
        return {str(k): _plain(v) for k, v in value.items()}
    if kind is list:
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


def _natural(text):
    return [int(part) if part.isdigit() else part for part in re.split(r'(\d+)', text)]


def addr_port(addr, port):
    addr = str(addr)
    return '[%s]:%s' % (addr, port) if ':' in addr else '%s:%s' % (addr, port)


def service_id(svc):
    """How ipvsadm -Ln names a service: 'TCP 192.0.2.10:80', 'UDP [2001:db8::53]:53', 'FWM 5 IPv6'."""
    if svc.get('fwmark'):
        return 'FWM %s%s' % (svc['fwmark'], ' IPv6' if svc.get('family') == 'ipv6' else '')
    return '%s %s' % (str(svc.get('protocol') or '?').upper(), addr_port(svc.get('vip'), svc.get('vport')))


def server_id(srv):
    return addr_port(srv.get('rip'), srv.get('rport'))


def _rule_lines(rules):
    return [line.strip() for line in str(rules).splitlines() if line.strip()]


def _line_order(line):
    """-A and -a lines of one service together, the service first."""
    words = line.split()
    return (words[1:3], 0 if words[:1] == ['-A'] else 1, line)


def _director(host, cluster, ipvs):
    services = []
    for svc in ipvs.get('services') or []:
        svc = dict(svc)
        servers = []
        for srv in svc.get('servers') or []:
            srv = dict(srv)
            srv['id'] = server_id(srv)
            srv['drained'] = srv.get('weight') == 0
            servers.append(srv)
        svc['servers'] = servers
        svc['id'] = service_id(svc)
        svc['available'] = any(not s['drained'] for s in servers)
        services.append(svc)
    return {
        'host': host,
        'cluster': cluster,
        'version': ipvs.get('version'),
        'conn_table_size': ipvs.get('conn_table_size'),
        'timeouts': ipvs.get('timeouts'),
        'daemons': ipvs.get('daemons'),
        'rules': ipvs.get('rules'),
        'services': services,
    }


def _drift(cluster, directors):
    """Lines of `ipvsadm -Sn` not every director of the cluster has; None when they agree."""
    compared = [d for d in directors if d['rules'] is not None]
    if len(compared) < 2:
        return None
    sets = {d['host']: set(_rule_lines(d['rules'])) for d in compared}
    union = set().union(*sets.values())
    common = set.intersection(*sets.values())
    if union == common:
        return None
    lines = [{'line': line,
              'present': [h for h in sets if line in sets[h]],
              'absent': [h for h in sets if line not in sets[h]]}
             for line in sorted(union - common, key=_line_order)]
    return {
        'cluster': cluster,
        'directors': list(sets),
        'lines': lines,
        'by_director': {h: {'extra': sorted(sets[h] - common, key=_line_order),
                            'missing': sorted(union - sets[h], key=_line_order)} for h in sets},
    }


def _timeout_drift(cluster, directors):
    values = {d['host']: d['timeouts'] for d in directors if d['timeouts'] is not None}
    if len(values) < 2:
        return None
    keys = sorted(set().union(*(t.keys() for t in values.values())))
    differs = [k for k in keys if len(set(repr(t.get(k)) for t in values.values())) > 1]
    if not differs:
        return None
    return {'cluster': cluster, 'timeouts': values, 'differs': differs}


def _daemon_endpoint(d):
    return (str(d.get('mcast_group') or DEFAULT_MCAST_GROUP), int(d.get('mcast_port') or DEFAULT_MCAST_PORT))


def _unpaired_daemons(cluster, directors, unseen):
    """Masters without a backup of their sync ID on another director (a backup of ID 0 takes
    every ID), on the same group and port, and backups without such a master."""
    daemons = [(d['host'], dict(x)) for d in directors for x in d['daemons'] or ()]
    out = []
    for host, dmn in daemons:
        role = dmn.get('role')
        if role not in ('master', 'backup'):
            continue
        other = 'backup' if role == 'master' else 'master'
        syncid = int(dmn.get('syncid') or 0)
        where = _daemon_endpoint(dmn)

        def matches(x, syncid=syncid, role=role):
            xid = int(x.get('syncid') or 0)
            return xid == syncid or (role == 'master' and xid == 0) or (role == 'backup' and syncid == 0)

        partners = [(h, x) for h, x in daemons if h != host and x.get('role') == other and matches(x)]
        if any(_daemon_endpoint(x) == where for _h, x in partners):
            continue
        reason = 'no %s of sync ID %d on %s on another director of %s' % (other, syncid, addr_port(*where), cluster)
        elsewhere = ['%s on %s' % (h, addr_port(*_daemon_endpoint(x))) for h, x in partners]
        if elsewhere:
            reason += ' (a %s of that ID listens elsewhere: %s)' % (other, ', '.join(elsewhere)) if role == 'master' \
                else ' (a %s of that ID sends elsewhere: %s)' % (other, ', '.join(elsewhere))
        if unseen:
            reason += '; not seen: %s' % ', '.join(unseen)
        out.append({'cluster': cluster, 'director': host, 'role': role, 'syncid': syncid,
                    'mcast_interface': dmn.get('mcast_interface'), 'mcast_group': where[0],
                    'mcast_port': where[1], 'reason': reason})
    return out


def fleet_report(hosts_data, generated_at=None):
    """The report of {host: {'cluster': str, 'ipvs': facts} or {'cluster': str, 'error': str}}."""
    if not isinstance(hosts_data, Mapping):
        raise AnsibleFilterError('fleet_report: the input must be a dictionary of hosts, not %s' % type(hosts_data).__name__)
    if generated_at is None:
        generated_at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')
    clusters = {}
    failed = []
    for host in sorted(hosts_data, key=lambda h: _natural(str(h))):
        entry = hosts_data[host]
        if not isinstance(entry, Mapping):
            raise AnsibleFilterError('fleet_report: the entry of host %s must be a dictionary, not %s'
                                     % (host, type(entry).__name__))
        entry = _plain(entry)
        host = str(host)
        cluster = entry.get('cluster')
        if cluster is None or cluster == '':
            cluster = 'default'
        elif not isinstance(cluster, str):
            raise AnsibleFilterError('fleet_report: the cluster of host %s must be a string, not %s'
                                     % (host, type(cluster).__name__))
        cl = clusters.setdefault(cluster, {'name': cluster, 'directors': {}, 'failed': []})
        ipvs = entry.get('ipvs')
        if entry.get('error') or not isinstance(ipvs, Mapping):
            error = entry.get('error') or 'no IPVS facts were gathered'
            failed.append({'host': host, 'cluster': cluster, 'error': str(error)})
            cl['failed'].append(host)
            continue
        cl['directors'][host] = _director(host, cluster, ipvs)

    flags = {name: [] for name in FLAGS}
    flags['failed_hosts'] = failed
    notes = []
    for name in sorted(clusters, key=_natural):
        cl = clusters[name]
        directors = list(cl['directors'].values())
        drift = _drift(name, directors)
        if drift:
            flags['drift'].append(drift)
        if len(directors) > 1:
            notes += ['%s: rules not gathered, not compared with the other directors of %s' % (d['host'], name)
                      for d in directors if d['rules'] is None]
        tdrift = _timeout_drift(name, directors)
        if tdrift:
            flags['timeout_drift'].append(tdrift)
        for d in directors:
            for svc in d['services']:
                for srv in svc['servers']:
                    if srv['drained']:
                        flags['drained_servers'].append({
                            'cluster': name, 'director': d['host'], 'service': svc['id'], 'server': srv['id'],
                            'weight': srv.get('weight'), 'forward': srv.get('forward'),
                            'active_conns': srv.get('active_conns'), 'inactive_conns': srv.get('inactive_conns')})
                if not svc['available']:
                    n = len(svc['servers'])
                    flags['services_without_server'].append({
                        'cluster': name, 'director': d['host'], 'service': svc['id'], 'servers': n,
                        'reason': 'no real servers' if not n else
                        ('its real server has weight 0' if n == 1 else 'all %d real servers have weight 0' % n)})
        unseen = list(cl['failed']) + [d['host'] for d in directors if d['daemons'] is None]
        flags['unpaired_daemons'] += _unpaired_daemons(name, directors, unseen)

    directors = [d for cl in clusters.values() for d in cl['directors'].values()]
    summary = {
        'clusters': len(clusters),
        'directors': len(directors) + len(failed),
        'reporting': len(directors),
        'failed': len(failed),
        'services': sum(len(d['services']) for d in directors),
        'servers': sum(len(s['servers']) for d in directors for s in d['services']),
        'counts': {name: len(flags[name]) for name in FLAGS},
        'ok': not any(flags.values()),
        'flags': flags,
        'notes': notes,
    }
    # Built from _plain() copies of the input: plain already.
    return {
        'generated_at': str(generated_at),
        'summary': summary,
        'clusters': {name: clusters[name] for name in sorted(clusters, key=_natural)},
    }


# ---------------------------------------------------------------- the HTML page

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

CSS = """
:root{--fg:#1e293b;--muted:#64748b;--line:#e2e8f0;--head:#f1f5f9;--bg:#fff;--page:#f8fafc;--accent:#1d4ed8;
--ok:#166534;--ok-bg:#dcfce7;--warn:#92400e;--warn-bg:#fef3c7;--bad:#991b1b;--bad-bg:#fee2e2;
--mono:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono","Liberation Mono",monospace}
*{box-sizing:border-box}
body{margin:0;background:var(--page);color:var(--fg);
font:13px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue","DejaVu Sans",Arial,sans-serif}
main{max-width:1240px;margin:0 auto;padding:20px 24px 40px}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
h1{font-size:22px;margin:0 0 2px}h2{font-size:17px;margin:28px 0 10px;padding-bottom:4px;border-bottom:2px solid var(--line)}
h3{font-size:15px;margin:0}h4{font-size:14px;margin:0}
code,pre,.mono{font-family:var(--mono);font-size:12px}
.meta{color:var(--muted);margin:0 0 16px}
.tiles{display:grid;grid-template-columns:repeat(6,1fr);gap:10px;margin:0 0 14px}
.tile{display:block;background:var(--bg);border:1px solid var(--line);border-left:5px solid var(--ok);border-radius:6px;
padding:8px 12px;color:var(--fg)}
.tile .n{font-size:24px;font-weight:650;font-variant-numeric:tabular-nums}.tile .l{color:var(--muted)}
.tile.warn{border-left-color:#d97706}.tile.bad{border-left-color:#dc2626}
.tile.warn .n{color:var(--warn)}.tile.bad .n{color:var(--bad)}.tile.ok .n{color:var(--ok)}
.card{background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:12px 14px;margin:0 0 12px}
.allok{background:var(--ok-bg);color:var(--ok);border-color:#bbf7d0;font-weight:600}
.flag h3{margin-bottom:8px}.flag.bad h3{color:var(--bad)}.flag.warn h3{color:var(--warn)}
table{border-collapse:collapse;width:100%;background:var(--bg)}
th,td{padding:3px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top;white-space:nowrap}
thead th{background:var(--head);font-weight:600;color:#334155;border-bottom:1px solid #cbd5e1}
thead tr.group th{font-weight:500;color:var(--muted);text-transform:uppercase;font-size:10.5px;letter-spacing:.04em;
border-bottom:none;padding-bottom:0;text-align:center}
thead tr.group th[colspan]:not(:empty){border-bottom:1px solid #cbd5e1}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.wrap{white-space:normal}td pre{margin:0;white-space:pre-wrap;font-size:12px}
.scroll{overflow-x:auto}table.service{font-size:12.5px}table.service tr>:first-child{width:230px}table.service td.num{min-width:52px}
tfoot td{font-weight:600;border-top:1px solid #cbd5e1;border-bottom:none;background:#fafafa}
tr.drained td{background:var(--warn-bg)}
table.service-list{font-size:12.5px}.service.short .meta{margin:0 0 6px}
.diff td.line{font-family:var(--mono);font-size:12px;white-space:pre}
.tag{display:inline-block;padding:0 6px;margin:1px 2px 1px 0;border-radius:9px;font-size:11.5px;line-height:17px;
background:var(--head);color:#334155;border:1px solid var(--line)}
.tag.has{background:#dbeafe;border-color:#bfdbfe;color:#1e3a8a}.tag.lacks{background:#f1f5f9;color:var(--muted);
text-decoration:line-through}
.tag.warn{background:var(--warn-bg);border-color:#fde68a;color:var(--warn)}
.tag.bad{background:var(--bad-bg);border-color:#fecaca;color:var(--bad)}.tag.ok{background:var(--ok-bg);
border-color:#bbf7d0;color:var(--ok)}
td.differs{background:var(--warn-bg);font-weight:600}
nav.toc{margin:0 0 8px;color:var(--muted)}
.director{background:var(--bg);border:1px solid var(--line);border-radius:8px;margin:0 0 18px;overflow:hidden}
.director>header{display:flex;flex-wrap:wrap;gap:4px 18px;align-items:baseline;padding:10px 14px;background:var(--head);
border-bottom:1px solid var(--line)}
.director>header .facts{color:var(--muted)}
.director.failed>header{background:var(--bad-bg)}.director.failed pre{margin:10px 14px;white-space:pre-wrap;color:var(--bad)}
.service{padding:10px 14px 12px;border-bottom:1px solid var(--line)}
.service:last-of-type{border-bottom:none}
.service>header{display:flex;flex-wrap:wrap;gap:4px 10px;align-items:baseline;margin:0 0 6px}
.service>header h4{font-family:var(--mono);font-size:13.5px}
.service>header .facts{color:var(--muted)}
svg.chart{display:block;margin:8px 0 0;max-width:100%;height:auto}
svg.chart text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;font-size:11px;fill:#334155}
svg.chart text.addr{font-family:var(--mono)}svg.chart text.head{font-weight:600;fill:#1e293b}
svg.chart text.val{fill:var(--muted);font-variant-numeric:tabular-nums}
svg.chart .track{fill:#f1f5f9}svg.chart .act{fill:#1d4ed8}svg.chart .inact{fill:#93c5fd}
svg.chart .conns{fill:#0f766e}svg.chart .inb{fill:#7c3aed}svg.chart .outb{fill:#c4b5fd}
svg.chart text.drained{fill:var(--warn)}
details{margin:0;padding:8px 14px;border-top:1px solid var(--line)}summary{cursor:pointer;color:var(--muted)}
details pre{margin:6px 0 0;padding:8px;background:var(--head);border-radius:4px;overflow:auto}
footer{margin-top:24px;color:var(--muted);font-size:12px}
@media (max-width:900px){.tiles{grid-template-columns:repeat(3,1fr)}}
@media print{body{background:#fff}.director,.card{break-inside:avoid-page}}
"""


def _e(value):
    return html.escape('' if value is None else str(value), quote=True)


def human_bytes(n):
    """1536 -> '1.5 KiB'; None -> '–'."""
    if n is None:
        return '\u2013'
    n = float(n)
    for unit in ('B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'):
        if abs(n) < 1024 or unit == 'PiB':
            return '%d %s' % (n, unit) if unit == 'B' else '%.1f %s' % (n, unit)
        n /= 1024
    return '%.1f EiB' % n  # pragma: no cover


def human_count(n):
    """Thousands separated by thin spaces: 1234567 -> '1 234 567'; None -> '–'."""
    if n is None:
        return '\u2013'
    return '{:,}'.format(int(n)).replace(',', '\u2009')


def human_rate(n):
    return '\u2013' if n is None else human_bytes(n) + '/s'


def short_count(n):
    """Chart labels: 950, 12.3k, 4.5M."""
    n = int(n or 0)
    for div, suffix in ((10 ** 9, 'G'), (10 ** 6, 'M'), (10 ** 3, 'k')):
        if abs(n) >= div:
            return '%.1f%s' % (n / div, suffix)
    return str(n)


def _num(value, fmt=human_count, title=None):
    t = ' title="%s"' % _e(title) if title else ''
    return '<td class="num"%s>%s</td>' % (t, _e(fmt(value)))


def _tag(text, cls=''):
    return '<span class="tag%s">%s</span>' % (' ' + cls if cls else '', _e(text))


def _table(head, rows, cls=''):
    h = ''.join('<th%s>%s</th>' % (' class="num"' if num else '', _e(t)) for t, num in head)
    return '<table class="%s"><thead><tr>%s</tr></thead><tbody>%s</tbody></table>' % (_e(cls), h, ''.join(rows))


def _flag_section(name, count, body, severity, seen, cluster=None):
    """A summary section of one flag; the first of each flag gets the id the tiles link to."""
    ident = '' if name in seen else ' id="flag-%s"' % name
    seen.add(name)
    title = FLAG_TITLES[name] + (' in %s' % cluster if cluster is not None else '')
    return ('<section class="card flag %s"%s data-flag="%s"%s><h3>%s (%d)</h3>%s</section>'
            % (severity, ident, name, ' data-cluster="%s"' % _e(cluster) if cluster is not None else '',
               _e(title), count, body))


SEVERITY = {'drift': 'bad', 'timeout_drift': 'warn', 'drained_servers': 'warn', 'services_without_server': 'bad',
            'unpaired_daemons': 'bad', 'failed_hosts': 'bad'}


def _summary_html(report, anchors):
    s = report['summary']
    flags = s['flags']
    tiles = []
    for name in FLAGS:
        n = len(flags[name])
        cls = SEVERITY[name] if n else 'ok'
        inner = '<div class="n">%d</div><div class="l">%s</div>' % (n, _e(FLAG_TITLES[name]))
        if n:
            tiles.append('<a class="tile %s" href="#flag-%s" data-flag="%s">%s</a>' % (cls, name, name, inner))
        else:
            tiles.append('<div class="tile ok" data-flag="%s">%s</div>' % (name, inner))
    out = ['<section id="summary"><div class="tiles">%s</div>' % ''.join(tiles)]
    seen = set()
    if s['ok']:
        out.append('<div class="card allok" data-flag="none">No drift, no drained servers, every service has a '
                   'server for new connections, every sync daemon has a partner, every director was read.</div>')

    def dlink(cluster, host):
        a = anchors.get((cluster, host))
        return '<a href="#%s">%s</a>' % (a, _e(host)) if a else _e(host)

    def slink(cluster, host, service):
        a = anchors.get((cluster, host, service))
        return '<a class="mono" href="#%s">%s</a>' % (a, _e(service)) if a else '<span class="mono">%s</span>' % _e(service)

    for d in flags['drift']:
        rows = ['<tr><td class="line">%s</td><td>%s</td><td>%s</td></tr>'
                % (_e(x['line']), ''.join(_tag(h, 'has') for h in x['present']),
                   ''.join(_tag(h, 'lacks') for h in x['absent']))
                for x in d['lines']]
        body = ('<p>Cluster <b>%s</b>: the tables of %s differ in %d line(s) of <code>ipvsadm -Sn</code>.</p>'
                % (_e(d['cluster']), ', '.join(dlink(d['cluster'], h) for h in d['directors']), len(d['lines'])))
        body += _table([('Line (ipvsadm -Sn)', False), ('Present on', False), ('Absent on', False)], rows, 'diff')
        out.append(_flag_section('drift', len(d['lines']), body, 'bad', seen, d['cluster']))
    for t in flags['timeout_drift']:
        keys = sorted(set().union(*(v.keys() for v in t['timeouts'].values())))
        rows = ['<tr><td>%s</td>%s</tr>' % (dlink(t['cluster'], h), ''.join(
            '<td class="num%s">%s s</td>' % (' differs' if k in t['differs'] else '', _e(v.get(k))) for k in keys))
            for h, v in t['timeouts'].items()]
        body = '<p>Cluster <b>%s</b>: the directors\u2019 connection timeouts differ (%s).</p>' % (
            _e(t['cluster']), _e(', '.join(t['differs'])))
        body += _table([('Director', False)] + [(k, True) for k in keys], rows)
        out.append(_flag_section('timeout_drift', len(t['differs']), body, 'warn', seen, t['cluster']))
    if flags['drained_servers']:
        rows = ['<tr><td>%s</td><td>%s</td><td>%s</td><td class="mono">%s</td><td>%s</td>%s%s%s</tr>'
                % (_e(x['cluster']), dlink(x['cluster'], x['director']), slink(x['cluster'], x['director'], x['service']),
                   _e(x['server']), _e(x['forward']), _num(x['weight']), _num(x['active_conns']),
                   _num(x['inactive_conns']))
                for x in flags['drained_servers']]
        body = ('<p>Real servers with weight 0 take no new connections; their open connections run on.</p>'
                + _table([('Cluster', False), ('Director', False), ('Service', False), ('Real server', False),
                          ('Forward', False), ('Weight', True), ('Active', True), ('Inactive', True)], rows))
        out.append(_flag_section('drained_servers', len(flags['drained_servers']), body, 'warn', seen))
    if flags['services_without_server']:
        rows = ['<tr><td>%s</td><td>%s</td><td>%s</td>%s<td>%s</td></tr>'
                % (_e(x['cluster']), dlink(x['cluster'], x['director']), slink(x['cluster'], x['director'], x['service']),
                   _num(x['servers']), _e(x['reason']))
                for x in flags['services_without_server']]
        body = ('<p>No real server of these services takes new connections: new clients are refused.</p>'
                + _table([('Cluster', False), ('Director', False), ('Service', False), ('Servers', True),
                          ('Why', False)], rows))
        out.append(_flag_section('services_without_server', len(flags['services_without_server']), body, 'bad', seen))
    if flags['unpaired_daemons']:
        rows = ['<tr><td>%s</td><td>%s</td><td>%s</td>%s<td>%s</td><td class="mono">%s</td><td class="wrap">%s</td></tr>'
                % (_e(x['cluster']), dlink(x['cluster'], x['director']), _e(x['role']), _num(x['syncid']),
                   _e(x['mcast_interface']), _e(addr_port(x['mcast_group'], x['mcast_port'])), _e(x['reason']))
                for x in flags['unpaired_daemons']]
        body = ('<p>Connection sync needs a master and a backup of the same sync ID on different directors.</p>'
                + _table([('Cluster', False), ('Director', False), ('Role', False), ('Sync ID', True),
                          ('Interface', False), ('Group', False), ('Problem', False)], rows))
        out.append(_flag_section('unpaired_daemons', len(flags['unpaired_daemons']), body, 'bad', seen))
    if flags['failed_hosts']:
        rows = ['<tr><td>%s</td><td>%s</td><td class="wrap"><pre>%s</pre></td></tr>'
                % (_e(x['host']), _e(x['cluster']), _e(x['error'])) for x in flags['failed_hosts']]
        body = _table([('Host', False), ('Cluster', False), ('Error', False)], rows)
        out.append(_flag_section('failed_hosts', len(flags['failed_hosts']), body, 'bad', seen))
    if s['notes']:
        out.append('<div class="card"><b>Notes</b><ul>%s</ul></div>' % ''.join('<li>%s</li>' % _e(n) for n in s['notes']))
    out.append('</section>')
    return ''.join(out)


def _chart(cluster, host, svc):
    """Inline SVG: per real server, connections now (active/inactive), connections since the counters
    were zeroed, and bytes in/out; each column scaled to its own largest value."""
    servers = svc['servers']
    label_w, col_w, row_h, top = 190, 330, 22, 30
    bar_max = col_w - 100
    width = label_w + 3 * col_w
    height = top + len(servers) * row_h + 8 if servers else 26
    attrs = ('class="chart" data-service="%s" data-director="%s" data-cluster="%s" role="img" '
             'aria-label="%s" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d"'
             % (_e(svc['id']), _e(host), _e(cluster),
                _e('Connections and bytes per real server of %s on %s' % (svc['id'], host)),
                width, height, width, height))
    parts = ['<svg %s><title>%s</title>' % (attrs, _e('%s on %s' % (svc['id'], host)))]
    if not servers:
        parts.append('<text x="0" y="16" class="head">No real servers</text></svg>')
        return ''.join(parts)

    def stat(srv, key):
        return (srv.get('stats') or {}).get(key) or 0

    cols = [
        ('Connections now', [('act', 'active', lambda s: s.get('active_conns') or 0),
                             ('inact', 'inactive', lambda s: s.get('inactive_conns') or 0)], short_count),
        ('Connections total', [('conns', 'connections', lambda s: stat(s, 'conns'))], short_count),
        ('Bytes', [('inb', 'in', lambda s: stat(s, 'inbytes')), ('outb', 'out', lambda s: stat(s, 'outbytes'))],
         human_bytes),
    ]
    has_stats = any(s.get('stats') for s in servers)
    parts.append('<text x="0" y="16" class="head">Real server</text>')
    for c, (title, series, fmt) in enumerate(cols):
        x0 = label_w + c * col_w
        parts.append('<text x="%d" y="16" class="head">%s</text>' % (x0, _e(title)))
        lx = x0 + 14 + len(title) * 7
        if len(series) > 1:
            for cls, name, _f in series:
                parts.append('<rect x="%d" y="8" width="9" height="9" class="%s"/><text x="%d" y="16">%s</text>'
                             % (lx, cls, lx + 12, _e(name)))
                lx += 22 + len(name) * 6
        if c and not has_stats:
            parts.append('<text x="%d" y="%d" class="val">no counters gathered</text>' % (x0, top + 12))
    for c, (title, series, fmt) in enumerate(cols):
        if c and not has_stats:
            continue
        x0 = label_w + c * col_w
        top_value = max(sum(f(s) for _c, _n, f in series) for s in servers) or 1
        for i, srv in enumerate(servers):
            y = top + i * row_h
            parts.append('<rect x="%d" y="%d" width="%d" height="14" rx="2" class="track"/>' % (x0, y, bar_max))
            x = x0
            values = []
            for cls, name, f in series:
                v = f(srv)
                values.append('%s %s' % (fmt(v), name))
                w = bar_max * v / top_value
                if w > 0:
                    parts.append('<rect x="%.1f" y="%d" width="%.1f" height="14" rx="2" class="%s"><title>%s</title></rect>'
                                 % (x, y, max(w, 1), cls, _e('%s %s: %s' % (srv['id'], name, v))))
                x += w
            total = sum(f(srv) for _c, _n, f in series)
            parts.append('<text x="%d" y="%d" class="val"><title>%s</title>%s</text>'
                         % (x0 + bar_max + 6, y + 11, _e(', '.join(values)), _e(fmt(total))))
    for i, srv in enumerate(servers):
        y = top + i * row_h
        label = srv['id'] + (' w=0' if srv['drained'] else '')
        short = label if len(label) <= 27 else label[:26] + '\u2026'
        parts.append('<text x="0" y="%d" class="addr%s"><title>%s</title>%s</text>'
                     % (y + 11, ' drained' if srv['drained'] else '', _e(label), _e(short)))
    parts.append('</svg>')
    return ''.join(parts)


def _forward(srv):
    fwd = srv.get('forward') or ''
    if fwd == 'tun' and srv.get('tun_type'):
        fwd += ' (%s%s)' % (srv['tun_type'], ':%s' % srv['tun_port'] if srv.get('tun_port') else '')
    return fwd


def _service_html(cluster, host, svc, anchor):
    facts = [_tag(svc.get('scheduler') or '?')]
    facts += [_tag(f) for f in svc.get('sched_flags') or []]
    if svc.get('persistent'):
        p = 'persistent %s s' % svc.get('persistence_timeout')
        if svc.get('netmask') not in (None, '255.255.255.255', '128'):
            p += ' mask %s' % svc['netmask']
        facts.append(_tag(p))
    if svc.get('pe'):
        facts.append(_tag('pe %s' % svc['pe']))
    if svc.get('one_packet'):
        facts.append(_tag('one-packet'))
    drained = sum(1 for s in svc['servers'] if s['drained'])
    facts.append(_tag('%d real server%s' % (len(svc['servers']), '' if len(svc['servers']) == 1 else 's')))
    if drained:
        facts.append(_tag('%d drained' % drained, 'warn'))
    if not svc['available']:
        facts.append(_tag('no server takes new connections', 'bad'))
    # Persistence templates only where there can be any; packet rates in the byte rates' tooltips.
    persist = bool(svc.get('persistent') or any(s.get('persist_conns') for s in svc['servers']))
    head = [('Real server', False), ('Forward', False), ('Weight', True), ('Active', True), ('Inactive', True)]
    head += [('Persist', True)] if persist else []
    head += [('Conns', True), ('Pkts in', True), ('Pkts out', True), ('Bytes in', True), ('Bytes out', True),
             ('Conn/s', True), ('In/s', True), ('Out/s', True)]
    group = ('<tr class="group"><th colspan="3"></th><th colspan="%d" class="num">Connections now</th>'
             '<th colspan="5" class="num">Since counters were zeroed</th><th colspan="3" class="num">Rates</th></tr>'
             % (3 if persist else 2))
    hrow = ''.join('<th%s>%s</th>' % (' class="num"' if num else '', _e(t)) for t, num in head)

    def counters(obj):
        st, rt = obj.get('stats'), obj.get('rates')
        cells = [_num(st.get(k) if st else None) for k in ('conns', 'inpkts', 'outpkts')]
        cells += [_num(st.get(k) if st else None, human_bytes, '%s bytes' % st.get(k) if st else None)
                  for k in ('inbytes', 'outbytes')]
        cells.append(_num(rt.get('cps') if rt else None, title='connections per second' if rt else None))
        cells += [_num(rt.get(k) if rt else None, human_rate,
                       '%s bytes/s, %s packets/s' % (rt.get(k), rt.get(pk)) if rt else None)
                  for k, pk in (('inbps', 'inpps'), ('outbps', 'outpps'))]
        return ''.join(cells)

    def now(objs):
        cells = [_num(sum(s.get(k) or 0 for s in objs)) for k in ('active_conns', 'inactive_conns')]
        return ''.join(cells + ([_num(sum(s.get('persist_conns') or 0 for s in objs))] if persist else []))

    rows = []
    for srv in svc['servers']:
        limits = []
        if srv.get('u_threshold'):
            limits.append('upper threshold %s' % srv['u_threshold'])
        if srv.get('l_threshold'):
            limits.append('lower threshold %s' % srv['l_threshold'])
        rows.append('<tr data-server="%s"%s><td class="mono">%s%s</td><td>%s</td>%s%s%s</tr>' % (
            _e(srv['id']), ' class="drained"' if srv['drained'] else '', _e(srv['id']),
            ' ' + _tag('drained', 'warn') if srv['drained'] else '', _e(_forward(srv)),
            _num(srv.get('weight'), title=', '.join(limits) or None), now([srv]), counters(srv)))
    if not rows:
        rows.append('<tr><td colspan="%d" class="wrap">No real servers.</td></tr>' % len(head))
    foot = '<tfoot><tr><td>Service</td><td></td><td></td>%s%s</tr></tfoot>' % (now(svc['servers']), counters(svc))
    table = ('<div class="scroll"><table class="service" data-service="%s" data-director="%s" data-cluster="%s"><thead>%s<tr>%s</tr></thead>'
             '<tbody>%s</tbody>%s</table></div>' % (_e(svc['id']), _e(host), _e(cluster), group, hrow, ''.join(rows), foot))
    return ('<section class="service" id="%s" data-service="%s" data-director="%s"><header><h4>%s</h4>'
            '<span class="facts">%s</span></header>%s%s</section>'
            % (anchor, _e(svc['id']), _e(host), _e(svc['id']), ''.join(facts), table, _chart(cluster, host, svc)))


def _short_services_html(cluster, host, services, anchors, max_services):
    """One row per service, for the services of a director beyond max_services."""
    rows = []
    for svc in services:
        servers = svc['servers']
        st = svc.get('stats') or {}
        drained = sum(1 for v in servers if v['drained'])
        rows.append('<tr id="%s" class="short-service%s" data-service="%s" data-director="%s"><td class="mono">%s</td>'
                    '<td>%s</td>%s%s%s%s%s%s%s</tr>' % (
                        anchors[(cluster, host, svc['id'])], '' if svc['available'] else ' drained', _e(svc['id']),
                        _e(host), _e(svc['id']), _e(svc.get('scheduler')), _num(len(servers)), _num(drained),
                        _num(sum(v.get('active_conns') or 0 for v in servers)),
                        _num(sum(v.get('inactive_conns') or 0 for v in servers)), _num(st.get('conns')),
                        _num(st.get('inbytes'), human_bytes), _num(st.get('outbytes'), human_bytes)))
    head = [('Service', False), ('Scheduler', False), ('Servers', True), ('Drained', True), ('Active', True),
            ('Inactive', True), ('Conns', True), ('Bytes in', True), ('Bytes out', True)]
    return ('<section class="service short"><p class="meta">%d more services, one line each (the page shows the '
            'first %d of a director in full: max_services).</p><div class="scroll">%s</div></section>'
            % (len(services), max_services, _table(head, rows, 'service-list')))


def _director_html(report, cl, d, anchors, max_services):
    host = d['host']
    facts = []
    if d.get('version'):
        facts.append('IPVS %s' % d['version'])
    if d.get('conn_table_size'):
        facts.append('connection table %s' % human_count(d['conn_table_size']))
    if d.get('timeouts'):
        facts.append('timeouts ' + ', '.join('%s %s s' % (k, v) for k, v in d['timeouts'].items()))
    for dmn in d.get('daemons') or []:
        facts.append('sync %s ID %s on %s' % (dmn.get('role'), dmn.get('syncid') or 0, dmn.get('mcast_interface')))
    tags = []
    flags = report['summary']['flags']
    if any(cl['name'] == x['cluster'] and host in x['directors'] for x in flags['drift']):
        tags.append(_tag('drift', 'bad'))
    if any(cl['name'] == x['cluster'] and x['director'] == host for x in flags['unpaired_daemons']):
        tags.append(_tag('unpaired sync daemon', 'bad'))
    detailed, short = d['services'][:max_services], d['services'][max_services:]
    services = ''.join(_service_html(cl['name'], host, svc, anchors[(cl['name'], host, svc['id'])])
                       for svc in detailed) or '<section class="service"><p>No virtual services.</p></section>'
    if short:
        services += _short_services_html(cl['name'], host, short, anchors, max_services)
    rules = ''
    if d.get('rules') is not None:
        rules = '<details><summary>Rules (ipvsadm -Sn)</summary><pre>%s</pre></details>' % _e(d['rules'] or '(empty)\n')
    return ('<article class="director" id="%s" data-director="%s" data-cluster="%s"><header><h3>%s</h3>%s'
            '<span class="facts">%s</span></header>%s%s</article>'
            % (anchors[(cl['name'], host)], _e(host), _e(cl['name']), _e(host), ''.join(tags),
               _e(' \u00b7 '.join(facts)), services, rules))


def fleet_report_html(report, title='IPVS fleet report', max_services=200):
    """The report of fleet_report() as one self-contained HTML page; per director, the first
    `max_services` services in full (table and chart), the others one line each."""
    if not isinstance(report, Mapping) or 'summary' not in report or 'clusters' not in report:
        raise AnsibleFilterError('fleet_report_html: the input must be the result of lvs.ipvs.fleet_report')
    try:
        max_services = int(max_services)
    except (TypeError, ValueError):
        raise AnsibleFilterError('fleet_report_html: max_services must be a number, not %r' % (max_services,))
    if max_services < 0:
        raise AnsibleFilterError('fleet_report_html: max_services must be 0 or more, not %d' % max_services)
    report = _plain(report)
    anchors = {}
    for ci, cl in enumerate(report['clusters'].values(), 1):
        anchors[(cl['name'],)] = 'cluster-%d' % ci
        for di, d in enumerate(cl['directors'].values(), 1):
            anchors[(cl['name'], d['host'])] = 'director-%d-%d' % (ci, di)
            for si, svc in enumerate(d['services'], 1):
                anchors.setdefault((cl['name'], d['host'], svc['id']), 'service-%d-%d-%d' % (ci, di, si))
    s = report['summary']
    meta = '%d cluster%s \u00b7 %d director%s%s \u00b7 %d services \u00b7 %d real servers \u00b7 generated %s' % (
        s['clusters'], '' if s['clusters'] == 1 else 's', s['directors'], '' if s['directors'] == 1 else 's',
        ' (%d not read)' % s['failed'] if s['failed'] else '', s['services'], s['servers'], report['generated_at'])
    toc = []
    body = []
    for cl in report['clusters'].values():
        a = anchors[(cl['name'],)]
        links = ', '.join('<a href="#%s">%s</a>' % (anchors[(cl['name'], h)], _e(h)) for h in cl['directors'])
        if cl['failed']:
            links += (', ' if links else '') + ', '.join('<span class="tag bad">%s</span>' % _e(h) for h in cl['failed'])
        toc.append('<div><a href="#%s"><b>%s</b></a>: %s</div>' % (a, _e(cl['name']), links))
        body.append('<section class="cluster" id="%s" data-cluster="%s"><h2>Cluster %s</h2>' % (a, _e(cl['name']), _e(cl['name'])))
        for d in cl['directors'].values():
            body.append(_director_html(report, cl, d, anchors, max_services))
        for host in cl['failed']:
            err = next((x['error'] for x in s['flags']['failed_hosts'] if x['host'] == host), '')
            body.append('<article class="director failed" data-director="%s" data-cluster="%s"><header><h3>%s</h3>%s'
                        '</header><pre>%s</pre></article>' % (_e(host), _e(cl['name']), _e(host),
                                                              _tag('not read', 'bad'), _e(err)))
        body.append('</section>')
    return ''.join([
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="%s">' % _e(CSP),
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="generator" content="lvs.ipvs.fleet_report_html">',
        '<title>%s</title><style>%s</style></head><body><main>' % (_e(title), CSS),
        '<header><h1>%s</h1><p class="meta">%s</p></header>' % (_e(title), _e(meta)),
        _summary_html(report, anchors),
        '<h2>Directors</h2><nav class="toc">%s</nav>' % ''.join(toc),
        ''.join(body),
        '<footer>Written by lvs.ipvs.fleet_report. Counters run since each director\u2019s counters were last '
        'zeroed; rates are the kernel\u2019s two-second estimates. Drift compares the tables in '
        '<code>ipvsadm -Sn</code> form (no counters, no thresholds).</footer>',
        '</main></body></html>\n',
    ])


class FilterModule:
    """lvs.ipvs fleet report filters."""

    def filters(self):
        return {
            'fleet_report': fleet_report,
            'fleet_report_html': fleet_report_html,
        }
