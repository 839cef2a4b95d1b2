# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark of the lvs.ipvs netlink client against ipvsadm (and pyroute2).

Meant to run as root inside the test VM (bench/run boots it); it creates and
deletes network namespaces named lvsbench-*, so never run it on a real director.

    bench_ipvs.py run [--services N] [--servers M] ...   all measurements, one table
    bench_ipvs.py add [--services N] [--servers M]       whole command: build + add_table
    bench_ipvs.py dump [--no-stats]                      whole command: table() + emit() to stdout
    bench_ipvs.py pyroute2 [--services N] [--servers M]  pyroute2.IPVS add + dump, JSON timings
    bench_ipvs.py profile {add,dump} [--out FILE]        cProfile of the client (real kernel)
    bench_ipvs.py fakeprofile {add,dump,dumpseq,emit}    cProfile natively, kernel replaced by tests/fake_kernel.py

The whole-command forms are what `run` times as subprocesses, so that Python's
start-up and imports are paid the way an `ipvsadm` invocation pays its own.
"""

import time

T_TOP = time.time()  # first thing: lets `run` split a whole command into start-up, work and exit

import argparse  # noqa: E402 pylint: disable=wrong-import-position
import ctypes  # noqa: E402 pylint: disable=wrong-import-position
import ctypes.util  # noqa: E402 pylint: disable=wrong-import-position
import errno  # noqa: E402 pylint: disable=wrong-import-position
import json  # noqa: E402 pylint: disable=wrong-import-position
import os  # noqa: E402 pylint: disable=wrong-import-position
import platform  # noqa: E402 pylint: disable=wrong-import-position
import shutil  # noqa: E402 pylint: disable=wrong-import-position
import subprocess  # noqa: E402 pylint: disable=wrong-import-position
import sys  # noqa: E402 pylint: disable=wrong-import-position
import tempfile  # noqa: E402 pylint: disable=wrong-import-position

HERE = os.path.dirname(os.path.abspath(__file__))
# `run` starts its subcommands from a snapshot of this file (so that an edit of the
# checkout during a run cannot mix versions); they find the checkout through this.
ROOT = os.environ.get('LVS_BENCH_ROOT') or os.path.dirname(HERE)


# tests/conftest.py makes this checkout importable as ansible_collections.lvs.ipvs
# (a symlink farm in the temporary directory); the benchmark uses the same farm.
sys.path.insert(0, os.path.join(ROOT, 'tests'))
from conftest import collection_path  # noqa: E402 pylint: disable=wrong-import-position

MU = 'ansible_collections.lvs.ipvs.plugins.module_utils'
NS_PREFIX = 'lvsbench-'


def client_modules():
    from ansible_collections.lvs.ipvs.plugins.module_utils import _ipvs, _model, _save
    return _ipvs, _model, _save


# ---------------------------------------------------------------- workload

def ip4(n):
    return '%d.%d.%d.%d' % ((n >> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255)


VIP_BASE = (10 << 24) + 1           # 10.0.0.1 ...
RIP_BASE = (172 << 24) + (16 << 16) + 1  # 172.16.0.1 ...


def make_table(services, servers):
    """services x servers: TCP VIP:80 wrr, each with its own NAT real servers :8080 weight 3."""
    _ipvs, _model, _save = client_modules()
    table = []
    for i in range(services):
        svc = _model.make_service(family='ipv4', protocol='tcp', vip=ip4(VIP_BASE + i), vport=80, scheduler='wrr')
        reals = [_model.make_server(ip4(RIP_BASE + i * servers + j), 8080, family='ipv4', forward='masq', weight=3)
                 for j in range(servers)]
        table.append((svc, reals))
    return table


# ---------------------------------------------------------------- namespaces

_libc = None


def setns_to(name):
    """A preexec_fn that moves the child into network namespace `name`."""
    path = '/run/netns/' + name
    libc = _libc or ctypes.CDLL(ctypes.util.find_library('c') or None, use_errno=True)

    def enter():
        fd = os.open(path, os.O_RDONLY)
        if libc.setns(fd, 0x40000000) != 0:
            os._exit(97)
        os.close(fd)
    return enter


def ns_add(name):
    subprocess.run(['ip', 'netns', 'del', name], stderr=subprocess.DEVNULL, check=False)
    subprocess.run(['ip', 'netns', 'add', name], check=True)
    # Without a local routing table (lo down) the kernel classifies every real
    # server address as broadcast and refuses it with EINVAL.
    subprocess.run(['ip', '-n', name, 'link', 'set', 'lo', 'up'], check=True)
    return name


def ns_del(name):
    """Flush IPVS first: a namespace's IPVS teardown otherwise runs in a kernel
    worker behind our back and would be billed to the next measurement."""
    subprocess.run(['ipvsadm', '-C'], preexec_fn=setns_to(name), check=False)
    subprocess.run(['ip', 'netns', 'del', name], check=False)
    time.sleep(0.5)


LAST_SPAWN = LAST_DONE = None


def in_ns(name, argv, stdin=None, env=None, check=True, want_stderr=False):
    """Run argv inside namespace `name`: (seconds, stdout bytes[, stderr bytes]). Output goes to a pipe."""
    global LAST_SPAWN, LAST_DONE
    t0 = time.perf_counter()
    LAST_SPAWN = time.time()
    p = subprocess.run(argv, check=False, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       preexec_fn=setns_to(name), env=env)
    LAST_DONE = time.time()
    dt = time.perf_counter() - t0
    if check and p.returncode != 0:
        raise SystemExit('%s failed (%d): %s\n%s' % (' '.join(argv), p.returncode,
                                                     p.stderr.decode(errors='replace')[-3000:],
                                                     p.stdout.decode(errors='replace')[-3000:]))
    if want_stderr:
        return dt, p.stdout, p.stderr
    return dt, p.stdout


def save_of(ns):
    return in_ns(ns, ['ipvsadm', '-Sn'])[1].decode()


def count_lines(text):
    return sum(1 for _line in text.splitlines())


# ---------------------------------------------------------------- whole commands

def cmd_add(args):
    t0 = time.perf_counter()
    from ansible_collections.lvs.ipvs.plugins.module_utils._ipvs import IpvsClient
    t1 = time.perf_counter()
    table = make_table(args.services, args.servers)
    t2 = time.perf_counter()
    with IpvsClient(netns=args.netns) as client:
        errors = client.add_table(table)
    t3 = time.perf_counter()
    if errors:
        sys.stderr.write('%d errors, first: %s\n' % (len(errors), errors[0]))
        return 1
    if args.timings:
        sys.stderr.write(json.dumps(dict(imports=t1 - t0, build=t2 - t1, add_table=t3 - t2, t_top=T_TOP,
                                         t_cmd=T_CMD, t_end=time.time())) + '\n')
    return 0


def cmd_dump(args):
    t0 = time.perf_counter()
    from ansible_collections.lvs.ipvs.plugins.module_utils._ipvs import IpvsClient
    from ansible_collections.lvs.ipvs.plugins.module_utils._save import emit
    t1 = time.perf_counter()
    with IpvsClient(netns=args.netns) as client:
        table = client.table(with_stats=not args.no_stats)
    t2 = time.perf_counter()
    text = emit(table)
    t3 = time.perf_counter()
    sys.stdout.write(text)
    sys.stdout.flush()
    t4 = time.perf_counter()
    if args.timings:
        sys.stderr.write(json.dumps(dict(imports=t1 - t0, table=t2 - t1, emit=t3 - t2, write=t4 - t3, t_top=T_TOP,
                                         t_cmd=T_CMD, t_end=time.time())) + '\n')
    return 0


# ---------------------------------------------------------------- pyroute2

def cmd_pyroute2(args):
    """pyroute2's own IPVS API: one acknowledged request per object; the
    caller puts us into the namespace. Prints JSON timings on stdout."""
    from socket import IPPROTO_TCP
    t0 = time.perf_counter()
    from pyroute2 import IPVS, IPVSDest, IPVSService
    import pyroute2
    t_import = time.perf_counter() - t0
    out = dict(version=getattr(pyroute2, '__version__', '?'), import_s=t_import)
    ipvs = IPVS()
    try:
        if 'add' in args.what:
            specs = [(ip4(VIP_BASE + i), [ip4(RIP_BASE + i * args.servers + j) for j in range(args.servers)])
                     for i in range(args.services)]
            t0 = time.perf_counter()
            for vip, rips in specs:
                svc = IPVSService(addr=vip, port=80, protocol=IPPROTO_TCP, sched_name='wrr')
                ipvs.service('add', service=svc)
                for rip in rips:
                    ipvs.dest('add', service=svc, dest=IPVSDest(addr=rip, port=8080, fwd_method=0, weight=3))
            out['add_s'] = time.perf_counter() - t0
        if 'dump' in args.what:
            t0 = time.perf_counter()
            n_svc = n_dest = 0
            for s in ipvs.service('dump'):
                service = IPVSService.from_message(s)
                n_svc += 1
                for d in ipvs.dest('dump', service=service):
                    IPVSDest.from_message(d)
                    n_dest += 1
            out['dump_s'] = time.perf_counter() - t0
            out['dumped'] = [n_svc, n_dest]
    finally:
        ipvs.close()
    print(json.dumps(out))
    return 0


# ---------------------------------------------------------------- profiles

def _profiled(func, out, top, hide=None):
    """cProfile of func(); `hide`: a regex of functions left out of the printed lists."""
    import cProfile
    import pstats
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    func()
    prof.disable()
    wall = time.perf_counter() - t0
    if out:
        prof.dump_stats(out)
    print('wall %.3f s (under cProfile)' % wall)
    restrictions = ('^(?!.*(%s))' % hide, top) if hide else (top,)
    st = pstats.Stats(prof)
    st.sort_stats('tottime').print_stats(*restrictions)
    st.sort_stats('cumulative').print_stats(*restrictions)


def cmd_profile(args):
    """cProfile of add_table or table()+emit() against the real kernel (run in the VM)."""
    _ipvs, _model, _save = client_modules()
    table = make_table(args.services, args.servers)
    ns = ns_add(NS_PREFIX + 'prof')
    try:
        with _ipvs.IpvsClient(netns=ns) as c:
            if args.what == 'add':
                _profiled(lambda: c.add_table(table), args.out, args.top)
            else:
                assert not c.add_table(table)
                _profiled(lambda: _save.emit(c.table()), args.out, args.top)
    finally:
        ns_del(ns)
    return 0


class _Stopwatch:
    """Adds up the time spent in the callables it wraps (nested calls count once)."""

    def __init__(self):
        self.seconds = 0.0
        self.depth = 0

    def wrap(self, func):
        def timed(*args, **kwargs):
            self.depth += 1
            t0 = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                self.depth -= 1
                if not self.depth:
                    self.seconds += time.perf_counter() - t0
        return timed


FAKE_FUNCTIONS = r'fake_kernel\.py|bench_ipvs\.py:\d+\(timed\)'


def cmd_fakeprofile(args):
    """Natively: the client's Python cost with the kernel replaced, at the socket
    level, by tests/fake_kernel.py (stateful; what it costs itself is timed apart)."""
    _ipvs, _model, _save = client_modules()
    from fake_kernel import FakeKernel  # tests/ is on sys.path (above)
    table = make_table(args.services, args.servers)
    fake = FakeKernel()
    # The fake's own time: handling what was sent, and cutting dumps as they are read.
    watch = _Stopwatch()
    fake._receive, fake._dump_chunk = watch.wrap(fake._receive), watch.wrap(fake._dump_chunk)

    def fake_share(since):
        return watch.seconds - since

    with fake.installed():
        client = _ipvs.IpvsClient(modprobe=fake.modprobe)
        if args.what == 'add':
            spent = fake_share(0)
            t0 = time.perf_counter()
            errs = client.add_table(table)
            print('add_table() without cProfile: %.3f s (of which the fake kernel %.3f s), %d errors, %d bytes sent'
                  % (time.perf_counter() - t0, fake_share(spent), len(errs), fake.sent_bytes))
            fake.flush()
            print('(the fake kernel\'s own functions are left out of the lists below)')
            _profiled(lambda: client.add_table(table), args.out, args.top, hide=FAKE_FUNCTIONS)
            return 0
        fake.load(table)
        spent = fake_share(0)
        t0 = time.perf_counter()
        services = client.services()
        t1 = time.perf_counter()
        client.servers_of([sv.key for sv in services])
        t2 = time.perf_counter()
        busy = sum(1 for r in fake.log if r.error == errno.EBUSY)
        for sv in services:
            client.servers(sv.key)
        t3 = time.perf_counter()
        text = _save.emit(client.table())
        t4 = time.perf_counter()
        _save.emit(table)
        t5 = time.perf_counter()
        print('without cProfile: services() %.3f s; servers_of() %.3f s (%d dumps refused EBUSY); servers(key) one '
              'service at a time %.3f s; emit() %.3f s; %d lines; the fake kernel took %.3f s of the reads'
              % (t1 - t0, t2 - t1, busy, t3 - t2, t5 - t4, count_lines(text), fake_share(spent)))
        if args.what in ('dump', 'dumpseq'):
            print('(the fake kernel\'s own functions are left out of the lists below)')
        if args.what == 'dump':
            _profiled(lambda: _save.emit(client.table()), args.out, args.top, hide=FAKE_FUNCTIONS)
        elif args.what == 'dumpseq':
            _profiled(lambda: [client.servers(sv.key) for sv in client.services()], args.out, args.top,
                      hide=FAKE_FUNCTIONS)
        elif args.what == 'emit':
            import random
            shuffled = list(table)  # the kernel lists services in hash order, not sorted
            random.Random(1).shuffle(shuffled)
            _profiled(lambda: _save.emit(shuffled), args.out, args.top)
    return 0


# ---------------------------------------------------------------- the benchmark

class Bench:
    def __init__(self, args):
        self.args = args
        self.rows = []      # (group, label, seconds, baseline label or None, note)
        self.results = {}
        self.py = sys.executable
        self.me = os.path.abspath(__file__)
        self.t_start = time.perf_counter()

    def log(self, msg):
        sys.stderr.write('[%6.1f s] %s\n' % (time.perf_counter() - self.t_start, msg))
        sys.stderr.flush()

    def row(self, key, label, seconds, base=None, note=''):
        self.results[key] = seconds
        self.rows.append((key, label, seconds, base, note))
        self.log('%-48s %8.3f s %s' % (label, seconds, note))

    @staticmethod
    def best(samples):
        return min(samples)

    # -- environment

    def environment(self):
        env = dict(
            kernel=platform.release(),
            ipvsadm=subprocess.run(['ipvsadm', '--version'], stdout=subprocess.PIPE, check=False).stdout.decode().strip(),
            cpus=os.cpu_count(),
            python=sys.version.split()[0],
            python_exe=self.py,
            mem_mib=int(open('/proc/meminfo').read().split()[1]) // 1024,
            in_vm=os.environ.get('LVS_IPVS_IN_VM') == '1',
            commit=os.environ.get('LVS_BENCH_COMMIT', '?'),
            cpu=next((line.split(':', 1)[1].strip() for line in open('/proc/cpuinfo')
                      if line.startswith('model name')), '?'),
        )
        try:
            import pyroute2
            env['pyroute2'] = getattr(pyroute2, '__version__', '?')
        except ImportError:
            env['pyroute2'] = None
        try:
            import ansible
            env['ansible_core'] = ansible.__version__ if hasattr(ansible, '__version__') else '?'
        except ImportError:
            from ansible.release import __version__
            env['ansible_core'] = __version__
        return env

    # -- adds

    def add_ipvsadm(self, ns, rules_path):
        with open(rules_path, 'rb') as f:
            return in_ns(ns, ['ipvsadm', '-R'], stdin=f)[0]

    def add_client_inprocess(self, ns, table):
        _ipvs, _model, _save = client_modules()
        t0 = time.perf_counter()
        with _ipvs.IpvsClient(netns=ns) as c:
            errors = c.add_table(table)
        dt = time.perf_counter() - t0
        if errors:
            raise SystemExit('add_table: %d errors, first %s' % (len(errors), errors[0]))
        return dt

    def add_client_split(self, ns, table):
        """add_table's two halves timed apart: building the requests (pure Python)
        and running them (socket + kernel + reading the ACKs)."""
        _ipvs, _model, _save = client_modules()
        with _ipvs.IpvsClient(netns=ns) as c:
            t0 = time.perf_counter()
            ops = []
            for svc, servers in table:
                ops.append(_ipvs.op_add_service(svc))
                nest = _ipvs.nested(_ipvs.CMD_ATTR_SERVICE, *_ipvs.encode_service_key(svc.key))
                for srv in servers:
                    ops.append(_ipvs.op_add_server(svc.key, srv, nest))
            t1 = time.perf_counter()
            replies = c.sock.run([op.request for op in ops])
            t2 = time.perf_counter()
        bad = [r for r in replies if r.error]
        if bad:
            raise SystemExit('split add: %d errors' % len(bad))
        return t1 - t0, t2 - t1

    def add_client_command(self, ns, n, m):
        dt, _out, err = in_ns(ns, [self.py, self.me, 'add', '--services', str(n), '--servers', str(m), '--timings'],
                              want_stderr=True)
        self.results.setdefault('add_cmd_parts', []).append(self.split_command(err))
        return dt

    @staticmethod
    def split_command(err):
        """The child's --timings, plus where the rest of its wall time went."""
        parts = json.loads(err.decode().strip().splitlines()[-1])
        parts['startup'] = parts['t_top'] - LAST_SPAWN      # fork, exec, interpreter, site
        parts['preamble'] = parts['t_cmd'] - parts['t_top']  # the script's own imports
        parts['exit'] = LAST_DONE - parts['t_end']           # interpreter shutdown, reaping
        return parts

    def verify(self, ns, expect, what):
        got = save_of(ns)
        ok = got == expect
        self.log('verify %s: %s (%d lines)' % (what, 'ipvsadm -Sn identical' if ok else 'MISMATCH', count_lines(got)))
        if not ok:
            self.mismatches.append(what)
        return ok

    def repeated(self, func, repeat, budget=None):
        """Samples of func(): at least one, up to `repeat`, stopping once they add up to `budget` s."""
        budget = self.args.budget if budget is None else budget
        out = []
        while len(out) < repeat and (not out or sum(out) < budget):
            out.append(func())
        return out

    # -- phases

    def setup(self):
        a = self.args
        _ipvs, _model, _save = client_modules()
        n, m = a.services, a.servers
        self.work = tempfile.mkdtemp(prefix='lvsbench-')
        # Subcommands run from a snapshot of this script: an edit of the checkout
        # during the run must not give the parent and its children different code.
        self.me = os.path.join(self.work, os.path.basename(__file__))
        shutil.copy2(os.path.abspath(__file__), self.me)
        os.environ['LVS_BENCH_ROOT'] = ROOT
        self.env = self.environment()
        self.log('environment: %s' % json.dumps(self.env))
        self.log('workload: %d services x %d real servers = %d objects' % (n, m, n * (m + 1)))
        t0 = time.perf_counter()
        self.table = make_table(n, m)
        t1 = time.perf_counter()
        self.rules = _save.emit(self.table)
        t2 = time.perf_counter()
        self.log('built table in %.2f s, emit() in %.2f s, %d rule lines' % (t1 - t0, t2 - t1, count_lines(self.rules)))
        self.rules_path = os.path.join(self.work, 'rules')
        with open(self.rules_path, 'w') as f:
            f.write(self.rules)

        # warm-up: page in ipvsadm, the interpreter and the client's code, kernel modules
        small = make_table(50, m)
        small_path = os.path.join(self.work, 'small')
        with open(small_path, 'w') as f:
            f.write(_save.emit(small))
        ns = ns_add(NS_PREFIX + 'warm')
        self.add_ipvsadm(ns, small_path)
        ns_del(ns)
        ns = ns_add(NS_PREFIX + 'warm')
        self.add_client_inprocess(ns, small)
        in_ns(ns, [self.py, self.me, 'dump'])
        ns_del(ns)
        ns = ns_add(NS_PREFIX + 'warm')
        self.add_client_command(ns, 50, m)
        ns_del(ns)
        nop = ns_add(NS_PREFIX + 'nop')
        self.results['netns_exec_overhead'] = self.best([in_ns(nop, ['true'])[0] for _run in range(3)])
        self.results['python_startup'] = self.best([in_ns(nop, [self.py, '-c', 'pass'])[0] for _run in range(3)])
        imports = 'import sys; sys.path.insert(0, %r); import %s._ipvs, %s._save' % (collection_path(), MU, MU)
        self.results['client_import'] = self.best([in_ns(nop, [self.py, '-c', imports])[0] for _run in range(3)])
        ns_del(nop)
        self.log('python start-up %.2f s, + client imports %.2f s' % (self.results['python_startup'],
                                                                      self.results['client_import']))
        self.keep = None

    def phase_add(self):
        a = self.args
        n, m = a.services, a.servers
        rules, table = self.rules, self.table
        ns = None
        for rep in range(a.repeat_add):
            ns = ns_add(NS_PREFIX + 'add-ipvsadm')
            self.results.setdefault('add_ipvsadm_all', []).append(self.add_ipvsadm(ns, self.rules_path))
            if rep == 0:
                self.verify(ns, rules, 'ipvsadm -R vs emit(table)')
            ns_del(ns)

            ns = ns_add(NS_PREFIX + 'add-client')
            self.results.setdefault('add_client_all', []).append(self.add_client_inprocess(ns, table))
            if rep == 0:
                self.verify(ns, rules, 'client add_table')
            ns_del(ns)

            ns = ns_add(NS_PREFIX + 'add-cmd')
            self.results.setdefault('add_cmd_all', []).append(self.add_client_command(ns, n, m))
            if rep == 0:
                self.verify(ns, rules, 'bench_ipvs.py add')
            if rep < a.repeat_add - 1:
                ns_del(ns)
        self.keep = ns  # the table the dumps read
        self.row('add_ipvsadm', 'ipvsadm -R < rules', self.best(self.results['add_ipvsadm_all']))
        self.row('add_client', 'client add_table(), in-process', self.best(self.results['add_client_all']),
                 'add_ipvsadm')
        i = self.results['add_cmd_all'].index(self.best(self.results['add_cmd_all']))
        parts = self.results['add_cmd_parts'][1:][i]  # [0] is the warm-up's
        self.row('add_cmd', 'client whole command (python bench_ipvs.py add)', self.best(self.results['add_cmd_all']),
                 'add_ipvsadm', 'start-up %.2f s, script imports %.2f s, client imports %.2f s, building %d model '
                 'objects %.2f s, add_table() %.2f s, exit %.2f s'
                 % (parts['startup'], parts['preamble'], parts['imports'], n * (m + 1), parts['build'],
                    parts['add_table'], parts['exit']))
        if a.split:
            ns_del(self.keep)
            ns = ns_add(NS_PREFIX + 'add-split')
            build, send = self.add_client_split(ns, table)
            self.verify(ns, rules, 'split add')
            self.row('add_split_build', '  of which: building the requests (Python)', build, 'add_ipvsadm')
            self.row('add_split_run', '  of which: sock.run() (send, kernel, ACKs)', send, 'add_ipvsadm')
            self.keep = ns

    def instrument(self, client):
        """Count what client.sock sends: datagrams, requests, dumps refused as EBUSY."""
        sock = client.sock
        count = dict(datagrams=0, requests=0, busy=0)
        orig = sock._run_chunk

        def run_chunk(requests, chunk, *args, **kwargs):
            count['datagrams'] += 1
            count['requests'] += len(chunk)
            busy = orig(requests, chunk, *args, **kwargs)
            count['busy'] += len(busy)
            return busy
        sock._run_chunk = run_chunk
        return count

    def phase_dump(self):
        a = self.args
        n = a.services
        _ipvs, _model, _save = client_modules()
        if self.keep is None:
            self.keep = ns_add(NS_PREFIX + 'dump')
            self.add_client_inprocess(self.keep, self.table)
        keep = self.keep
        ref = save_of(keep)
        if ref != self.rules:
            self.mismatches.append('table to dump')

        def sn():
            dt, out = in_ns(keep, ['ipvsadm', '-Sn'])
            assert out.decode() == ref
            return dt
        self.row('dump_ipvsadm', 'ipvsadm -Sn > pipe', self.best(self.repeated(sn, a.repeat)))

        for stats, key in ((True, 'dump_client'), (False, 'dump_client_nostats')):
            parts = dict(services=[], servers_of=[], emit=[], total=[])
            with _ipvs.IpvsClient(netns=keep) as c:
                count = self.instrument(c)
                for name in ('services', 'servers_of'):
                    def timed(*args, _f=getattr(c, name), _name=name, **kwargs):
                        t0 = time.perf_counter()
                        try:
                            return _f(*args, **kwargs)
                        finally:
                            parts[_name].append(time.perf_counter() - t0)
                    setattr(c, name, timed)

                def once():
                    t0 = time.perf_counter()
                    tab = c.table(with_stats=stats)
                    t1 = time.perf_counter()
                    text = _save.emit(tab)
                    t2 = time.perf_counter()
                    parts['emit'].append(t2 - t1)
                    parts['total'].append(t2 - t0)
                    if text != ref:
                        self.mismatches.append(key)
                        self.log('MISMATCH: %s' % key)
                    return t2 - t0
                samples = self.repeated(once, a.repeat)
            i = samples.index(min(samples))
            per = dict((k, v // len(samples)) for k, v in count.items())
            self.results[key + '_netlink'] = per
            self.row(key, 'client table(%s) + emit(), in-process' % ('' if stats else 'with_stats=False'),
                     samples[i], 'dump_ipvsadm')
            self.row(key + '_services', '  of which: services() (1 dump)', parts['services'][i], 'dump_ipvsadm')
            self.row(key + '_servers', '  of which: servers_of() (%d dumps)' % n, parts['servers_of'][i],
                     'dump_ipvsadm', '%d requests in %d datagrams, %d refused EBUSY and resent'
                     % (per['requests'], per['datagrams'], per['busy']))
            self.row(key + '_emit', '  of which: emit()', parts['emit'][i], 'dump_ipvsadm')

        parts = []

        def cmd():
            dt, out, err = in_ns(keep, [self.py, self.me, 'dump', '--timings'], want_stderr=True)
            if out.decode() != ref:
                self.mismatches.append('bench_ipvs.py dump')
                self.log('MISMATCH: bench_ipvs.py dump')
            parts.append(self.split_command(err))
            return dt
        samples = self.repeated(cmd, a.repeat)
        p = parts[samples.index(min(samples))]
        self.row('dump_cmd', 'client whole command (python bench_ipvs.py dump)', min(samples), 'dump_ipvsadm',
                 'start-up %.2f s, script imports %.2f s, client imports %.2f s, table() %.2f s, emit() %.2f s, '
                 'write %.2f s, exit %.2f s'
                 % (p['startup'], p['preamble'], p['imports'], p['table'], p['emit'], p['write'], p['exit']))

    def phase_ansible(self):
        a = self.args
        n, m = a.services, a.servers
        ansible = os.path.join(os.path.dirname(self.py), 'ansible')
        aenv = dict(os.environ, ANSIBLE_PYTHON_INTERPRETER=self.py, ANSIBLE_COLLECTIONS_PATH=collection_path(),
                    ANSIBLE_HOME=os.environ.get('ANSIBLE_HOME', '/tmp/ansible-home'),
                    ANSIBLE_LOCAL_TEMP=os.environ.get('ANSIBLE_LOCAL_TEMP', '/tmp/ansible-local'),
                    ANSIBLE_REMOTE_TEMP=os.environ.get('ANSIBLE_REMOTE_TEMP', '/tmp/ansible-remote'),
                    ANSIBLE_NOCOLOR='1', ANSIBLE_DEPRECATION_WARNINGS='0')
        # `gather=[info,services]` in k=v form reaches the module as the string
        # "[info,services]"; a comma-separated string is the k=v spelling of that list.
        argv = [ansible, 'localhost', '-i', 'localhost,', '-c', 'local', '-m', 'lvs.ipvs.ipvs_info',
                '-a', 'gather=info,services']
        self.results['ansible_argv'] = ' '.join(argv[1:])
        empty = ns_add(NS_PREFIX + 'empty')
        samples = self.repeated(lambda: in_ns(empty, argv, env=aenv)[0], a.repeat_ansible)
        ns_del(empty)
        self.row('ansible_empty', 'ansible ipvs_info, empty table', self.best(samples), 'dump_ipvsadm',
                 "Ansible's fixed cost")
        if self.keep is None:
            return
        out = [b'']

        def full():
            dt, out[0] = in_ns(self.keep, argv, env=aenv)
            return dt
        samples = self.repeated(full, a.repeat_ansible)
        ok = b'SUCCESS' in out[0][:200] and out[0].count(b'"rip"') == n * m
        if not ok:
            self.mismatches.append('ansible ipvs_info')
            self.log('ansible output unexpected: %r' % out[0][:500])
        self.row('ansible_full', 'ansible ipvs_info, %d objects' % (n * (m + 1)), self.best(samples),
                 'dump_ipvsadm', '%.1f MB of output' % (len(out[0]) / 1e6))

    def phase_pyroute2(self):
        a = self.args
        n, m = a.services, a.servers
        _ipvs, _model, _save = client_modules()
        pn = min(a.pyroute2_services, n)
        scale = n / float(pn)
        ptable = make_table(pn, m)
        prules = _save.emit(ptable)
        ppath = os.path.join(self.work, 'rules-pyroute2')
        with open(ppath, 'w') as f:
            f.write(prules)
        ns = ns_add(NS_PREFIX + 'p-ipvsadm')
        t_r = self.add_ipvsadm(ns, ppath)
        t_s = self.best([in_ns(ns, ['ipvsadm', '-Sn'])[0] for _run in range(a.repeat)])
        ns_del(ns)
        ns = ns_add(NS_PREFIX + 'p-pyroute2')
        _dt, out = in_ns(ns, [self.py, self.me, 'pyroute2', '--services', str(pn), '--servers', str(m)])
        pr = json.loads(out.decode().strip().splitlines()[-1])
        self.verify(ns, prules, 'pyroute2 add (%d services)' % pn)
        ns_del(ns)
        self.results['pyroute2'] = dict(pr, services=pn, scale=scale, ipvsadm_R=t_r, ipvsadm_Sn=t_s)
        sub = '%d x %d' % (pn, m)
        if pn == n:
            self.row('pr_add', 'pyroute2 IPVS add (service/dest "add" each)', pr['add_s'], 'add_ipvsadm')
            self.row('pr_dump', 'pyroute2 IPVS dump (+ from_message)', pr['dump_s'], 'dump_ipvsadm')
            return
        self.row('pr_add_small_ipvsadm', 'ipvsadm -R, %s' % sub, t_r)
        self.row('pr_add_small', 'pyroute2 IPVS add, %s' % sub, pr['add_s'], 'pr_add_small_ipvsadm')
        self.row('pr_add', 'pyroute2 IPVS add, extrapolated x%g' % scale, pr['add_s'] * scale, 'add_ipvsadm',
                 'linear extrapolation from %s' % sub)
        self.row('pr_dump_small_ipvsadm', 'ipvsadm -Sn, %s' % sub, t_s)
        self.row('pr_dump_small', 'pyroute2 IPVS dump (+ from_message), %s' % sub, pr['dump_s'],
                 'pr_dump_small_ipvsadm')
        self.row('pr_dump', 'pyroute2 IPVS dump, extrapolated x%g' % scale, pr['dump_s'] * scale,
                 'dump_ipvsadm', 'linear extrapolation from %s' % sub)

    def run(self):
        a = self.args
        self.mismatches = []
        phases = a.phases.split(',')
        self.setup()
        if 'add' in phases:
            self.phase_add()
        if 'dump' in phases:
            self.phase_dump()
        if 'ansible' in phases:
            self.phase_ansible()
        if self.keep:
            ns_del(self.keep)
        if 'pyroute2' in phases:
            self.phase_pyroute2()
        shutil.rmtree(self.work, ignore_errors=True)
        total = time.perf_counter() - self.t_start
        text = self.report(self.env, a.services, a.servers, total)
        print(text)
        if a.out:
            os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
            with open(a.out, 'w') as f:
                json.dump(dict(environment=self.env, services=a.services, servers=a.servers, results=self.results,
                               rows=self.rows, mismatches=self.mismatches, total_s=total), f, indent=1)
            with open(os.path.splitext(a.out)[0] + '.md', 'w') as f:
                f.write(text)
        return 1 if self.mismatches else 0

    def report(self, env, n, m, total):
        lines = ['',
                 'lvs.ipvs benchmark: %d services x %d real servers (%d objects), collection at %s'
                 % (n, m, n * (m + 1), env.get('commit', '?')),
                 'kernel %s, %s, %d vCPU, Python %s, pyroute2 %s, ansible-core %s' % (
                     env['kernel'], env['ipvsadm'].split(' (')[0], env['cpus'], env['python'], env['pyroute2'],
                     env['ansible_core']),
                 'python start-up %.2f s; + importing the client %.2f s; setns+exec of a no-op %.3f s' % (
                     self.results['python_startup'], self.results['client_import'],
                     self.results['netns_exec_overhead']),
                 '',
                 '| measurement | seconds | vs ipvsadm | note |',
                 '|---|---:|---:|---|']
        for key, label, sec, base, note in self.rows:
            if base:
                ratio = '%.2fx %s' % (sec / self.results[base], '-R' if base.startswith('add') or
                                      base == 'pr_add_small_ipvsadm' else '-Sn')
            else:
                ratio = '1'
            lines.append('| %s | %.3f | %s | %s |' % (label.replace('|', '\\|'), sec, ratio, note))
        lines.append('')
        lines.append('best of up to %d runs for adds, %d for dumps, %d for Ansible (fewer when one run exceeds %g s); '
                     "ratio = seconds / ipvsadm's seconds (below 1 = faster than ipvsadm)"
                     % (self.args.repeat_add, self.args.repeat, self.args.repeat_ansible, self.args.budget))
        lines.append('verification: %s' % ('every table read back with ipvsadm -Sn was identical to the rules text'
                                           if not self.mismatches else 'MISMATCHES: %s' % ', '.join(self.mismatches)))
        lines.append('benchmark wall time %.0f s (without the VM boot)' % total)
        return '\n'.join(lines) + '\n'


def cmd_run(args):
    if os.geteuid() != 0:
        raise SystemExit('run needs root (it creates network namespaces); use bench/run')
    if os.environ.get('LVS_IPVS_IN_VM') != '1' and not args.i_know:
        raise SystemExit('run rewires IPVS in namespaces lvsbench-*; use bench/run (the VM), '
                         'or --i-know-this-is-not-a-director')
    return Bench(args).run()


T_CMD = None


def main(argv=None):
    global _libc, T_CMD
    T_CMD = time.time()
    _libc = ctypes.CDLL(ctypes.util.find_library('c') or None, use_errno=True)
    p = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    sub = p.add_subparsers(dest='cmd', required=True)

    def sizes(sp, n=5000):
        sp.add_argument('--services', type=int, default=n)
        sp.add_argument('--servers', type=int, default=4)

    r = sub.add_parser('run')
    sizes(r)
    r.add_argument('--repeat', type=int, default=3, help='runs of each dump (best is reported)')
    r.add_argument('--repeat-add', type=int, default=2, help='runs of each add (best is reported)')
    r.add_argument('--repeat-ansible', type=int, default=1)
    r.add_argument('--pyroute2-services', type=int, default=1000,
                   help='services for the pyroute2 runs (extrapolated linearly to --services)')
    r.add_argument('--no-split', dest='split', action='store_false',
                   help='skip the add run that times building requests and sending them apart')
    r.add_argument('--phases', default='add,dump,ansible,pyroute2',
                   help='comma-separated subset of add,dump,ansible,pyroute2')
    r.add_argument('--budget', type=float, default=20.0,
                   help='stop repeating a measurement once its runs add up to this many seconds')
    r.add_argument('--out', help='write results JSON here (and a .md next to it)')
    r.add_argument('--i-know-this-is-not-a-director', dest='i_know', action='store_true')
    r.set_defaults(func=cmd_run)

    a = sub.add_parser('add')
    sizes(a)
    a.add_argument('--netns')
    a.add_argument('--timings', action='store_true')
    a.set_defaults(func=cmd_add)

    d = sub.add_parser('dump')
    d.add_argument('--netns')
    d.add_argument('--no-stats', action='store_true')
    d.add_argument('--timings', action='store_true')
    d.set_defaults(func=cmd_dump)

    pr = sub.add_parser('pyroute2')
    sizes(pr, 1000)
    pr.add_argument('--what', default='add,dump')
    pr.set_defaults(func=cmd_pyroute2)

    for name, func in (('profile', cmd_profile), ('fakeprofile', cmd_fakeprofile)):
        pp = sub.add_parser(name)
        pp.add_argument('what', choices=['add', 'dump'] if name == 'profile' else ['add', 'dump', 'dumpseq', 'emit'])
        sizes(pp)
        pp.add_argument('--out')
        pp.add_argument('--top', type=int, default=25)
        pp.set_defaults(func=func)

    args = p.parse_args(argv)
    return args.func(args)


if __name__ == '__main__':
    sys.exit(main())
