"""Benchmark of ipvs_table (and ipvs_info) against ipvsadm, inside the test VM.

Meant to run as root inside the test VM (bench/run-table boots it); it creates and
deletes network namespaces named lvsbench-*, so never run it on a real director.

    bench_table.py [--sizes 1000,5000,20000] [--servers 4] [--loop 200] [--out FILE]

For each size N (N services x M real servers) it measures, in one run:
- ipvsadm -R < file into an empty table, and ipvsadm -Sn;
- the kernel-only floor: the same objects as prebuilt batched requests, sock.run() alone;
- ipvs_table through Ansible (a task of `ansible-playbook`), from the ipvsadm file (src)
  and from `services` (the table in a vars file): apply into an empty table, re-run with
  nothing to change, and (src) a change of 1% of the weights with 1% of the services
  removed; the task's own time is its time less that of a trivial ipvs_info task just
  before it in the same run (Ansible's fixed cost of a task), both timed between tasks
  (for the src apply, re-run and 1% change, also the pair three times more once both
  modules' payloads are built, the median; the apply goes to a new namespace each time,
  and before each change the table is put back, outside its timing);
  the number of write requests each run sent comes from the result;
- the same module runs in-process (module.main() with its arguments), without Ansible;
- ipvs_info gather=services through Ansible (own time) and in-process;
- once: one ipvs_server task per real server, looped over --loop servers.
"""

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, 'tests'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))

from bench_ipvs import NS_PREFIX, in_ns, make_table, ns_add, ns_del, save_of  # noqa: E402 pylint: disable=wrong-import-position
from conftest import collection_path  # noqa: E402 pylint: disable=wrong-import-position

ANSIBLE_ENV = dict(os.environ, ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_COLLECTIONS_PATH=collection_path(),
                   ANSIBLE_HOME=os.environ.get('ANSIBLE_HOME', '/tmp/ansible-home'),
                   ANSIBLE_LOCAL_TEMP=os.environ.get('ANSIBLE_LOCAL_TEMP', '/tmp/ansible-local'),
                   ANSIBLE_REMOTE_TEMP=os.environ.get('ANSIBLE_REMOTE_TEMP', '/tmp/ansible-remote'),
                   ANSIBLE_NOCOLOR='1', ANSIBLE_LOAD_CALLBACK_PLUGINS='1', ANSIBLE_STDOUT_CALLBACK='minimal',
                   ANSIBLE_DEPRECATION_WARNINGS='0')
BIN = os.path.dirname(sys.executable)


def log(msg):
    sys.stderr.write('[%s] %s\n' % (time.strftime('%H:%M:%S'), msg))
    sys.stderr.flush()


def timed(argv, **kw):
    t0 = time.perf_counter()
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False, **kw)
    return time.perf_counter() - t0, p


TIMED_PLAY = """- hosts: localhost
  gather_facts: false
  vars_files: %(vars_files)s
  tasks:
    - ansible.builtin.set_fact: {_t0: "{{ now().timestamp() }}"}
    - lvs.ipvs.ipvs_info: {gather: [info], netns: %(netns)s}
    - ansible.builtin.set_fact: {_t1: "{{ now().timestamp() }}"}
    - lvs.ipvs.%(module)s: %(args)s
      register: _r
    - ansible.builtin.set_fact: {_t2: "{{ now().timestamp() }}"}
%(again)s    - ansible.builtin.copy:
        content: "{{ {'t': [_t0, _t1, _t2%(more)s] | map('float') | list, 'r': _r, 'again': [%(rs)s]} | to_json }}"
        dest: %(out)s
"""

# The same pair again: both modules' payloads are built by then (Ansible builds a
# module's AnsiballZ payload once per run, at its first task: 17-28 s each in the VM,
# BENCHMARKS.md).
# Each pair has its own start: a task that puts the table back (`reset`) may come before it.
AGAIN = """%(reset)s    - ansible.builtin.set_fact: {_t%(s)d: "{{ now().timestamp() }}"}
    - lvs.ipvs.ipvs_info: {gather: [info], netns: %(netns)s}
    - ansible.builtin.set_fact: {_t%(a)d: "{{ now().timestamp() }}"}
    - lvs.ipvs.%(module)s: %(args)s
      register: _r%(b)d
    - ansible.builtin.set_fact: {_t%(b)d: "{{ now().timestamp() }}"}
"""
# The VM's speed drifts by tens of percent within minutes: the median of several pairs.
AGAIN_PAIRS = 3
RERUN_PAIRS = 5     # the re-run's own time is a few seconds, the difference of two 10-25 s tasks


def ansible_task(module, args, netns, vars_file=None, again=0, reset=None, again_args=None):
    """(own time, wall time, result) of one lvs.ipvs.<module> task in an ansible-playbook run:
    its own time is the task's time less that of a trivial ipvs_info task just before it in the
    same run (Ansible's fixed cost of a task), both measured by the controller's clock between
    tasks, so the controller's start-up (a minute in the emulated VM, and noisy) is left out.
    Each of the two is the first task of its module in the run, so each pays for building that
    module's payload. With `again` (a number of pairs), the pair runs that many
    times more and the own time is (first, median, [each]): the median of those and each of them,
    without the payloads' build, as every later task of that module in the run. `reset` (a dict of
    ipvs_table arguments) puts the table back before each of those pairs (outside its timing),
    for a task that changes it: each then sends what the first one sent. `again_args` gives
    each of those pairs its own arguments instead (an apply into an empty table goes to a new
    namespace each time: a namespace's IPVS emptied moments ago takes new real servers at half
    the speed or less, for ipvsadm -R too, BENCHMARKS.md).
    `args` is a dict, or the text of the task's arguments."""
    fd, play = tempfile.mkstemp(suffix='.yml', prefix='bench-play-')
    os.close(fd)
    out = play + '.json'
    fields = dict(vars_files=json.dumps([vars_file] if vars_file else []), netns=netns, module=module,
                  args=args if isinstance(args, str) else json.dumps(args), out=out)
    pairs = again
    fields['reset'] = '    - lvs.ipvs.ipvs_table: %s\n' % json.dumps(reset) if reset else ''
    # Pair i's timestamps: _t(3+3i) before its ipvs_info, _t(4+3i) between the two, _t(5+3i) after.
    each = [json.dumps(a) for a in again_args] if again_args else [fields['args']] * pairs
    fields.update(again=''.join(AGAIN % dict(fields, s=3 + 3 * i, a=4 + 3 * i, b=5 + 3 * i, args=each[i])
                                for i in range(pairs)),
                  more=''.join(', _t%d' % i for i in range(3, 3 + 3 * pairs)),
                  rs=', '.join('_r%d' % (5 + 3 * i) for i in range(pairs)))
    with open(play, 'w') as f:
        f.write(TIMED_PLAY % fields)
    try:
        wall, p = timed([os.path.join(BIN, 'ansible-playbook'), '-i', 'localhost,', '-c', 'local', play],
                        env=ANSIBLE_ENV)
        try:
            with open(out) as f:
                got = json.load(f)
        except (OSError, ValueError):
            raise SystemExit('ansible run failed:\n%s\n%s' % (p.stdout[-3000:], p.stderr[-3000:]))
    finally:
        for path in (play, out):
            if os.path.exists(path):
                os.unlink(path)
    t = got['t']
    own = (t[2] - t[1]) - (t[1] - t[0])
    if again:
        each = [(t[5 + 3 * i] - t[4 + 3 * i]) - (t[4 + 3 * i] - t[3 + 3 * i]) for i in range(pairs)]
        own = (own, sorted(each)[len(each) // 2], each)
        first = got['r']
        assert all(r['changed'] is first['changed'] and r['requests'] == first['requests']
                   for r in got['again']), (first, got['again'])
    return own, wall, got['r']


def ansible_module(module, args):
    """Wall time of a whole `ansible localhost -m lvs.ipvs.<module>` run (start-up included)."""
    dt, p = timed([os.path.join(BIN, 'ansible'), 'localhost', '-i', 'localhost,', '-c', 'local', '-m',
                   'lvs.ipvs.' + module, '-a', json.dumps(args)], env=ANSIBLE_ENV)
    if p.returncode != 0:
        raise SystemExit('ansible run failed:\n%s\n%s' % (p.stdout[-3000:], p.stderr[-3000:]))
    return dt


def in_process(module, args, split=False):
    """Wall time and result of module.main() in this process (no Ansible around it);
    with split, (time until exit_json(), time in exit_json()) instead of the wall time:
    the module's own work, and Ansible's scrubbing and serialising of the result."""
    import importlib
    from ansible.module_utils.basic import AnsibleModule
    from ansible.module_utils.testing import patch_module_args
    mod = importlib.import_module('ansible_collections.lvs.ipvs.plugins.modules.' + module)
    out = io.StringIO()
    exits = []
    real_exit = AnsibleModule.exit_json

    def exit_json(self, **kwargs):
        exits.append(time.perf_counter())
        real_exit(self, **kwargs)
    AnsibleModule.exit_json = exit_json
    try:
        with patch_module_args(args), contextlib.redirect_stdout(out):
            t0 = time.perf_counter()
            try:
                mod.main()
            except SystemExit:
                pass
            t1 = time.perf_counter()
    finally:
        AnsibleModule.exit_json = real_exit
    result = json.loads(out.getvalue())
    if not exits:
        raise SystemExit('%s failed in-process: %s' % (module, result.get('msg')))
    dt = (exits[0] - t0, t1 - exits[0]) if split else t1 - t0
    return dt, result


def spread(seconds):
    return 'each pair: ' + ' / '.join('%.1f' % x for x in seconds)


def services_of(table):
    return [dict(vip=svc.vip, vport=svc.vport, scheduler=svc.scheduler,
                 servers=[dict(rip=s.rip, rport=s.rport, forward=s.forward, weight=s.weight) for s in servers])
            for svc, servers in table]


class Run:
    def __init__(self, args):
        self.args = args
        self.rows = []
        self.work = tempfile.mkdtemp(prefix='lvsbench-table-')

    def row(self, size, label, seconds, base=None, base_label=None, note=''):
        ratio = '%.2fx %s' % (seconds / base, base_label) if base else ''
        self.rows.append(dict(size=size, label=label, seconds=round(seconds, 3), ratio=ratio, note=note))
        log('%6s  %-58s %8.3f s  %-14s %s' % (size, label, seconds, ratio, note))

    def check(self, ns, expect, what):
        got = save_of(ns)
        if got != expect:
            raise SystemExit('%s: the table differs from the rules file' % what)

    def fixed_cost(self):
        nop = ns_add(NS_PREFIX + 'fixed')
        samples = [ansible_module('ipvs_info', dict(gather=['info'], netns=nop)) for _i in range(2)]
        ns_del(nop)
        self.row('-', 'a whole `ansible -m ipvs_info gather=info` run (start-up included)', min(samples))

    def size(self, n):
        from ansible_collections.lvs.ipvs.plugins.module_utils import _ipvs, _save
        m = self.args.servers
        size = '%dx%d' % (n, m)
        table = make_table(n, m)
        rules = _save.emit(table)
        path = os.path.join(self.work, 'rules-%d' % n)
        with open(path, 'w') as f:
            f.write(rules)
        vars_path = os.path.join(self.work, 'services-%d.json' % n)
        with open(vars_path, 'w') as f:
            json.dump(dict(services=services_of(table)), f)

        ns = ns_add(NS_PREFIX + 'adm')
        with open(path) as f:
            t_r = in_ns(ns, ['ipvsadm', '-R'], stdin=f)[0]
        saves = sorted(in_ns(ns, ['ipvsadm', '-Sn'])[0] for _i in range(5))
        # Ratios are to the fastest: the module's rows are medians, so they are conservative.
        t_s, t_s_median = saves[0], saves[2]
        ns_del(ns)
        self.row(size, 'ipvsadm -R < rules', t_r)
        self.row(size, 'ipvsadm -Sn (the fastest of 5)', t_s, note='median %.2f s' % t_s_median)

        # The kernel-only floor: prebuilt requests, batched, nothing else.
        ns = ns_add(NS_PREFIX + 'floor')
        with _ipvs.IpvsClient(netns=ns) as c:
            reqs = []
            for svc, servers in table:
                reqs.append(_ipvs.op_add_service(svc).request)
                reqs.extend(_ipvs.op_add_server(svc.key, s).request for s in servers)
            t0 = time.perf_counter()
            c.sock.run(reqs)
            t_floor = time.perf_counter() - t0
        ns_del(ns)
        self.row(size, 'kernel floor: the batched requests alone', t_floor, t_r, '-R')

        # ipvs_table from the ipvsadm file, through Ansible.
        ns = ns_add(NS_PREFIX + 'src')
        fresh = [ns_add(NS_PREFIX + 'src-again%d' % i) for i in range(AGAIN_PAIRS)]
        (dt, warm, each), wall, res = ansible_task('ipvs_table', dict(src=path, netns=ns), ns, again=AGAIN_PAIRS,
                                                   again_args=[dict(src=path, netns=f) for f in fresh])
        for f in fresh:
            self.check(f, rules, 'ipvs_table src, again')
            ns_del(f)
        self.check(ns, rules, 'ipvs_table src')
        self.row(size, 'ipvs_table src, apply into empty (own time)', dt, t_r, '-R',
                 'wall %.1f s, %d requests' % (wall, res['requests']))
        self.row(size, "ipvs_table src, apply into empty, own time once the payloads are built (median of %d)"
                 % AGAIN_PAIRS, warm, t_r, '-R', spread(each))
        (dt, warm, each), wall, res = ansible_task('ipvs_table', dict(src=path, netns=ns), ns, again=RERUN_PAIRS)
        assert res['changed'] is False and res['requests'] == 0, res
        self.row(size, 'ipvs_table src, re-run, nothing to change (own time)', dt, t_s, '-Sn',
                 'wall %.1f s, changed=false, 0 requests' % wall)
        self.row(size, "ipvs_table src, re-run, own time once the payloads are built (the pair again, median of %d)"
                 % RERUN_PAIRS, warm, t_s, '-Sn', spread(each) + '; %.2fx the median -Sn' % (warm / t_s_median))
        # 1% of the weights change, 1% of the services go (purge).
        changed = [(svc, [s._replace(weight=9) if (i + j) % 25 == 0 else s for j, s in enumerate(servers)])
                   for i, (svc, servers) in enumerate(table) if i % 100 != 50]
        small = os.path.join(self.work, 'rules-%d-changed' % n)
        with open(small, 'w') as f:
            f.write(_save.emit(changed))
        (dt, warm, each), wall, res = ansible_task('ipvs_table', dict(src=small, purge=True, netns=ns), ns,
                                                   again=AGAIN_PAIRS, reset=dict(src=path, netns=ns))
        expected = res['servers_changed'] + res['services_removed']
        assert res['requests'] == expected, res
        self.check(ns, _save.emit(changed), 'ipvs_table 1% change')
        self.row(size, 'ipvs_table src, 1% weights + 1% services removed (own time)', dt, t_r, '-R',
                 '%d weights, %d services: %d requests' % (res['servers_changed'], res['services_removed'],
                                                           res['requests']))
        self.row(size, "ipvs_table src, 1%% change, own time once the payloads are built (median of %d)"
                 % AGAIN_PAIRS, warm, t_r, '-R', spread(each))
        # ipvs_info over the table, through Ansible and in-process.
        if n <= self.args.ansible_max:
            dt, wall, res = ansible_task('ipvs_info', dict(gather=['services'], netns=ns), ns)
            self.row(size, 'ipvs_info gather=services (own time)', dt, t_s, '-Sn', 'wall %.1f s' % wall)
        repeat = 2 if n <= 5000 else 1
        work, scrub = min((in_process('ipvs_info', dict(gather=['services'], netns=ns), split=True)[0]
                           for _i in range(repeat)), key=sum)
        self.row(size, 'ipvs_info gather=services, in-process', work + scrub, t_s, '-Sn')
        self.row(size, "ipvs_info gather=services, in-process: the module's work (until exit_json)", work, t_s, '-Sn')
        self.row(size, "ipvs_info gather=services, in-process: Ansible's exit_json (scrub, JSON)", scrub, t_s, '-Sn')
        dt = min(in_process('ipvs_info', dict(gather=['rules'], netns=ns))[0] for _i in range(repeat))
        self.row(size, 'ipvs_info gather=rules, in-process', dt, t_s, '-Sn')
        ns_del(ns)

        # In-process (no Ansible): the module's own work.
        ns = ns_add(NS_PREFIX + 'inproc')
        dt, res = in_process('ipvs_table', dict(src=path, netns=ns))
        self.row(size, 'ipvs_table src, apply into empty, in-process', dt, t_r, '-R')
        dt = sorted(in_process('ipvs_table', dict(src=path, netns=ns))[0] for _i in range(3))[1]
        self.row(size, 'ipvs_table src, re-run, in-process (median of 3)', dt, t_s, '-Sn')
        self.rerun_phases(size, ns, rules, t_s)
        ns_del(ns)

        # ipvs_table from `services`, through a playbook (the table in a vars file).
        if n > self.args.ansible_max:
            log('%d services: ipvs_info through Ansible and the services vars file skipped (--ansible-max %d)'
                % (n, self.args.ansible_max))
            return
        ns = ns_add(NS_PREFIX + 'svc')
        task = json.dumps(dict(services='{{ services }}', netns=ns))
        dt, wall, res = ansible_task('ipvs_table', task, ns, vars_file=vars_path)
        self.check(ns, rules, 'ipvs_table services')
        self.row(size, 'ipvs_table services, apply into empty (own time)', dt, t_r, '-R',
                 'wall %.1f s, %d requests' % (wall, res['requests']))
        dt, wall, res = ansible_task('ipvs_table', task, ns, vars_file=vars_path)
        assert res['changed'] is False and res['requests'] == 0, res
        self.row(size, 'ipvs_table services, re-run (own time)', dt, t_s, '-Sn', 'wall %.1f s' % wall)
        dt = min(in_process('ipvs_table', dict(services=services_of(table), netns=ns))[0] for _i in range(2))
        self.row(size, 'ipvs_table services, re-run, in-process', dt, t_s, '-Sn')
        ns_del(ns)

    def rerun_phases(self, size, ns, text, t_s):
        """The in-process re-run's main phases, each the best of three passes."""
        import gc
        from ansible_collections.lvs.ipvs.plugins.module_utils import _ipvs, _save, _table
        names = ('reading the table', "rendering its services' lines for the lookup", "the file's lines looked up",
                 'the plan')
        best = [float('inf')] * len(names)
        gc.disable()        # as the module runs
        try:
            with _ipvs.IpvsClient(netns=ns) as c:
                for _i in range(3):
                    t = [time.perf_counter()]
                    current = c.table(with_stats=False)
                    t.append(time.perf_counter())
                    known = _save.restore_blocks(current)
                    t.append(time.perf_counter())
                    _save.parse_rules(text, known=known)
                    t.append(time.perf_counter())
                    desired = _table.from_rules(text, current)      # the two above again, untimed
                    t0 = time.perf_counter()
                    plan = _table.plan(c, desired, dict((svc.key, (svc, servers)) for svc, servers in current))
                    t.append(time.perf_counter() - t0 + t[-1])
                    assert not plan.ops
                    best = [min(b, t[j + 1] - t[j]) for j, b in enumerate(best)]
        finally:
            gc.enable()
        for name, seconds in zip(names, best):
            self.row(size, 'ipvs_table src, re-run, in-process phase: ' + name, seconds, t_s, '-Sn')

    def loop(self, count):
        """One ipvs_server task per real server: what ipvs_table replaces."""
        ns = ns_add(NS_PREFIX + 'loop')
        in_ns(ns, ['ipvsadm', '-A', '-t', '10.0.0.1:80', '-s', 'wrr'])
        play = os.path.join(self.work, 'loop.yml')
        with open(play, 'w') as f:
            f.write('- hosts: localhost\n  gather_facts: false\n  tasks:\n'
                    '    - lvs.ipvs.ipvs_server:\n        vip: 10.0.0.1\n        vport: 80\n'
                    '        rip: "172.16.{{ item // 250 }}.{{ item %% 250 + 1 }}"\n        forward: masq\n'
                    '        netns: %s\n      loop: "{{ range(%d) | list }}"\n' % (ns, count))
        dt, _p = timed([os.path.join(BIN, 'ansible-playbook'), '-i', 'localhost,', '-c', 'local', play], env=ANSIBLE_ENV)
        ns_del(ns)
        self.row('%d' % count, 'a loop of ipvs_server tasks, one per real server (wall)', dt, None, None,
                 '%.2f s per real server' % (dt / count))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--sizes', default='1000,5000,20000')
    ap.add_argument('--servers', type=int, default=4)
    ap.add_argument('--loop', type=int, default=200)
    ap.add_argument('--ansible-max', type=int, default=5000,
                    help='above this many services, skip the runs whose time is Ansible templating or '
                         'no_log scrubbing of the whole table (ipvs_info through Ansible, the services vars file)')
    ap.add_argument('--out', default=os.path.join(ROOT, 'tests', 'output', 'bench', 'table.json'))
    a = ap.parse_args(argv)
    r = Run(a)
    t0 = time.perf_counter()
    r.fixed_cost()
    for n in [int(x) for x in a.sizes.split(',') if x]:
        r.size(n)
    if a.loop:
        r.loop(a.loop)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, 'w') as f:
        json.dump(dict(rows=r.rows, seconds=time.perf_counter() - t0, commit=os.environ.get('LVS_BENCH_COMMIT', '?')),
                  f, indent=1)
    print('| size | measurement | seconds | ratio | note |\n|---|---|---:|---:|---|')
    for row in r.rows:
        print('| %(size)s | %(label)s | %(seconds).3f | %(ratio)s | %(note)s |' % row)
    return 0


if __name__ == '__main__':
    sys.exit(main())
