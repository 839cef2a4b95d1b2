# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""How fast the client reads the whole table: table(with_stats=False), table()
and table() + emit(), against `ipvsadm -Sn` in the VM.

    bench_dump.py native [--services N] [--servers M] [--repeat R] [--tree DIR]...
        Natively, no kernel: the datagrams tests/fake_kernel.py answers are recorded
        once and replayed by a socket that does nothing else, so only the client's
        own Python is timed (CPU time of the process, best of R).
    bench_dump.py vm [--services N] [--servers M] [--repeat R] [--tree DIR]...
        In the test VM (as root; tests/vm/run -- python bench/bench_dump.py vm):
        a namespace filled by `ipvsadm -R`, then `ipvsadm -Sn` and the client in
        turns, best of R each.

Each --tree is another checkout of the collection (e.g. `git archive HEAD` unpacked
somewhere) measured the same way in its own process, for before/after numbers from
one run. The default is this checkout only.
"""

import argparse
import gc
import json
import os
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get('LVS_DUMP_ROOT') or os.path.dirname(HERE)
NS = 'lvsdump-bench'


def ip4(n):
    return '%d.%d.%d.%d' % ((n >> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255)


def rules(services, servers):
    """ipvsadm -R text: TCP VIP:80 wrr, each with its own NAT real servers :8080 weight 3."""
    lines = []
    for i in range(services):
        vip = ip4((10 << 24) + 1 + i)
        lines.append('-A -t %s:80 -s wrr' % vip)
        for j in range(servers):
            lines.append('-a -t %s:80 -r %s:8080 -m -w 3' % (vip, ip4((172 << 24) + (16 << 16) + 1 + i * servers + j)))
    return '\n'.join(lines) + '\n'


# ---------------------------------------------------------------- one tree, in-process

def _import_tree():
    sys.path.insert(0, os.path.join(ROOT, 'tests'))
    from conftest import collection_path  # noqa: F401 pylint: disable=unused-import,import-outside-toplevel
    from ansible_collections.lvs.ipvs.plugins.module_utils import _ipvs, _netlink, _save
    assert os.path.realpath(_ipvs.__file__).startswith(os.path.realpath(ROOT)), _ipvs.__file__
    return _ipvs, _netlink, _save


class ReplaySocket:
    """Hands back recorded datagrams in order; sends go nowhere."""

    def __init__(self, datagrams):
        self.datagrams = datagrams
        self.i = 0
        self.sent = 0

    def sendall(self, data):
        self.sent += 1

    def recv_into(self, buf, nbytes=0, flags=0):
        data = self.datagrams[self.i]
        self.i += 1
        n = len(data)
        buf[:n] = data
        return n

    def settimeout(self, timeout):
        pass

    def close(self):
        pass


def _best(func, repeat, clock=time.perf_counter):
    times = []
    for _i in range(repeat):
        t0 = clock()
        func()
        times.append(clock() - t0)
    return min(times), times


def measure(args):
    """Time the reads in this process on ROOT's collection; JSON on stdout."""
    _ipvs, _netlink, _save = _import_tree()
    out = dict(root=ROOT)
    if args.where == 'native':
        sys.path.insert(0, os.path.join(ROOT, 'tests'))
        from fake_kernel import FakeKernel  # pylint: disable=import-outside-toplevel
        from ansible_collections.lvs.ipvs.plugins.module_utils._model import make_server, make_service
        table = []
        for i in range(args.services):
            svc = make_service(family='ipv4', protocol='tcp', vip=ip4((10 << 24) + 1 + i), vport=80, scheduler='wrr')
            table.append((svc, [make_server(ip4((172 << 24) + (16 << 16) + 1 + i * args.servers + j), 8080,
                                            family='ipv4', forward='masq', weight=3) for j in range(args.servers)]))
        fake = FakeKernel()
        fake.load(table)
        recorded = []
        with fake.installed():
            client = _ipvs.IpvsClient(modprobe=fake.modprobe)
            real = client.sock.sock
            seq0 = client.sock.seq

            real_recv = real.recv_into

            def recording(buf, nbytes=0, flags=0):
                n = real_recv(buf, nbytes, flags)
                recorded.append(bytes(buf[:n]))
                return n
            real.recv_into = recording
            expect = client.table()
            real.recv_into = real_recv
        replay = ReplaySocket(recorded)
        client.sock.sock = replay

        def read(with_stats=True, emit=False):
            replay.i = 0
            client.sock.seq = seq0
            tab = client.table(with_stats=with_stats)
            assert replay.i == len(recorded)
            if emit:
                _save.emit(tab)
            return tab
        assert read() == expect
        out['datagrams'] = len(recorded)
    else:
        client = _ipvs.IpvsClient(netns=args.netns)

        def read(with_stats=True, emit=False):
            tab = client.table(with_stats=with_stats)
            if emit:
                _save.emit(tab)
            return tab
    if args.nogc:
        gc.disable()
    out['objects'] = sum(1 + len(servers) for _svc, servers in read())
    if args.where == 'vm' and args.floor:
        out.update(floor(client, _ipvs, _netlink, args.repeat))
    if args.check:
        out.update(check(read, _ipvs, _netlink, client if args.where == 'vm' else None))
    for name, kwargs in (('table_nostats', dict(with_stats=False)), ('table', {}),
                         ('table_emit', dict(emit=True))):
        # Natively, this process's CPU time: the host may be busy with other work (VMs).
        out[name], out[name + '_all'] = _best(lambda kw=kwargs: read(**kw), args.repeat,
                                              time.process_time if args.where == 'native' else time.perf_counter)
    if args.profile:
        import cProfile  # pylint: disable=import-outside-toplevel
        import pstats  # pylint: disable=import-outside-toplevel
        prof = cProfile.Profile()
        prof.runcall(read, with_stats=args.profile == 'stats')
        pstats.Stats(prof, stream=sys.stderr).sort_stats('tottime').print_stats(20)
    print(json.dumps(out))
    return 0


def check(read, _ipvs, _netlink, client):
    """Does table() equal what run() with the generic decoders reads, and did
    every message take the fast path (no generic attribute parsing at all)?"""
    real = _ipvs.parse_attrs
    calls = []

    def counting(*args):
        calls.append(1)
        return real(*args)
    out = {}
    for with_stats in (True, False):
        _ipvs.parse_attrs = counting
        try:
            got = read(with_stats=with_stats)
        finally:
            _ipvs.parse_attrs = real
        out['generic_parses_%s' % ('stats' if with_stats else 'nostats')] = len(calls)
        del calls[:]
        if client is None or not hasattr(client.sock, 'dumps'):
            continue        # replayed datagrams, or the tree before the fast path: nothing to compare with
        services = client.sock.run([_netlink.Request(_ipvs.CMD_GET_SERVICE, dump=True, decode=lambda b, s, e, w=with_stats:
                                                     _ipvs.decode_service(b, s, e, w))])[0].messages
        reqs = [_netlink.Request(_ipvs.CMD_GET_DEST, _ipvs.nested(_ipvs.CMD_ATTR_SERVICE, *_ipvs.encode_service_key(v.key)),
                                 dump=True, decode=_ipvs.make_dest_decoder(_ipvs.FAMILIES[v.family], with_stats))
                for v in services]
        generic = [(v, r.messages) for v, r in zip(services, client.sock.run(reqs, barrier=False))]
        out['same_as_generic_%s' % ('stats' if with_stats else 'nostats')] = (
            [(v.config(), [x.config() for x in xs]) for v, xs in got]
            == [(v.config(), [x.config() for x in xs]) for v, xs in generic])
    return out


def floor(client, _ipvs, _netlink, repeat):
    """The dumps alone: one GET_DEST dump per service, read to NLMSG_DONE with
    nothing decoded, on the client's socket; with Python's socket timeout (a
    poll() before each call) and with the kernel's."""
    sock = client.sock
    keys = [s.key for s in client.services(with_stats=False)]
    bodies = [_netlink.nested(_ipvs.CMD_ATTR_SERVICE, *_ipvs.encode_service_key(k)) for k in keys]
    pack = _netlink.MSGHDR.pack
    msgs = [pack(20 + len(b), sock.family_id, _netlink.NLM_F_REQUEST | _netlink.NLM_F_DUMP, 1000 + i, 0,
                 _ipvs.CMD_GET_DEST, 1, 0) + b for i, b in enumerate(bodies)]
    raw = sock.sock
    buf = sock.buf

    def loop():
        for m in msgs:
            raw.sendall(m)
            while True:
                n = raw.recv_into(buf)
                if struct.unpack_from('=H', buf, 4)[0] in (_netlink.NLMSG_DONE, _netlink.NLMSG_ERROR) \
                        or n > 20 and struct.unpack_from('=H', buf, n - 20 + 4)[0] == _netlink.NLMSG_DONE:
                    break
    out = {}
    saved = raw.gettimeout()
    for name, timeout in (('floor_python_timeout', 10.0), ('floor_kernel_timeout', None)):
        raw.settimeout(timeout)
        out[name], out[name + '_all'] = _best(loop, repeat)
    raw.settimeout(saved)
    return out


# ---------------------------------------------------------------- driver

def _run_tree(tree, where, args, netns=None):
    env = dict(os.environ, LVS_DUMP_ROOT=tree)
    argv = [sys.executable, os.path.abspath(__file__), 'measure', where, '--services', str(args.services),
            '--servers', str(args.servers), '--repeat', str(args.repeat)]
    if netns:
        argv += ['--netns', netns]
    if args.nogc:
        argv.append('--nogc')
    if args.floor:
        argv.append('--floor')
    if args.check:
        argv.append('--check')
    if args.profile:
        argv += ['--profile', args.profile]
    p = subprocess.run(argv, env=env, stdout=subprocess.PIPE, check=True)
    return json.loads(p.stdout.decode())


def _report(rows, base=None):
    for label, seconds in rows:
        ratio = '  %.2fx -Sn' % (seconds / base) if base else ''
        print('%-58s %8.3f s%s' % (label, seconds, ratio))


def native(args):
    for tree in args.tree or [ROOT]:
        r = _run_tree(os.path.abspath(tree), 'native', args)
        print('%s: %d objects, %d datagrams replayed' % (r['root'], r['objects'], r['datagrams']))
        _report([('  table(with_stats=False)', r['table_nostats']), ('  table()', r['table']),
                 ('  table() + emit()', r['table_emit'])])
    return 0


def _ipvsadm(argv, stdin=None):
    t0 = time.perf_counter()
    p = subprocess.run(['ip', 'netns', 'exec', NS] + argv, input=stdin, stdout=subprocess.PIPE, check=True)
    return time.perf_counter() - t0, p.stdout


def vm(args):
    subprocess.run(['ip', 'netns', 'del', NS], stderr=subprocess.DEVNULL, check=False)
    subprocess.run(['ip', 'netns', 'add', NS], check=True)
    subprocess.run(['ip', '-n', NS, 'link', 'set', 'lo', 'up'], check=True)
    try:
        text = rules(args.services, args.servers).encode()
        dt, _out = _ipvsadm(['ipvsadm', '-R'], stdin=text)
        print('ipvsadm -R of %d x %d: %.2f s' % (args.services, args.servers, dt))
        ref = _ipvsadm(['ipvsadm', '-Sn'])[1]
        assert len(ref.splitlines()) == args.services * (1 + args.servers), 'table not as expected'
        # ip netns exec itself: a no-op command, to subtract
        noop = min(_ipvsadm(['true'])[0] for _i in range(3))
        for tree in args.tree or [ROOT]:
            sn = [_ipvsadm(['ipvsadm', '-Sn'])[0] for _i in range(args.repeat)]
            r = _run_tree(os.path.abspath(tree), 'vm', args, netns=NS)
            sn += [_ipvsadm(['ipvsadm', '-Sn'])[0] for _i in range(args.repeat)]
            base = min(sn)
            print('%s: %d objects; ipvsadm -Sn best %.3f s (runs %s; `ip netns exec true` %.3f s)'
                  % (r['root'], r['objects'], base, ' '.join('%.2f' % x for x in sn), noop))
            _report([('  ipvsadm -Sn > pipe', base), ('  table(with_stats=False)', r['table_nostats']),
                     ('  table()', r['table']), ('  table() + emit()', r['table_emit'])], base)
            if 'generic_parses_stats' in r:
                print('  check: ' + ', '.join('%s=%s' % (k, r[k]) for k in sorted(r)
                                              if k.startswith(('generic_parses', 'same_as_generic'))))
            if 'floor_kernel_timeout' in r:
                _report([('  dumps alone, Python timeout (poll before each call)', r['floor_python_timeout']),
                         ('  dumps alone, kernel timeout', r['floor_kernel_timeout'])], base)
            print('  runs: ' + '; '.join('%s %s' % (k, ' '.join('%.2f' % x for x in r[k + '_all']))
                                         for k in ('table_nostats', 'table', 'table_emit')))
            sys.stdout.flush()
    finally:
        subprocess.run(['ip', 'netns', 'exec', NS, 'ipvsadm', '-C'], check=False)
        subprocess.run(['ip', 'netns', 'del', NS], check=False)
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    for name in ('native', 'vm', 'measure'):
        sp = sub.add_parser(name)
        if name == 'measure':
            sp.add_argument('where', choices=('native', 'vm'))
            sp.add_argument('--netns')
        else:
            sp.add_argument('--tree', action='append', help='another checkout to measure the same way')
        sp.add_argument('--services', type=int, default=5000)
        sp.add_argument('--servers', type=int, default=4)
        sp.add_argument('--repeat', type=int, default=3)
        sp.add_argument('--nogc', action='store_true', help='measure with the garbage collector off')
        sp.add_argument('--floor', action='store_true', help='also time the dumps alone, nothing decoded (vm)')
        sp.add_argument('--check', action='store_true', help='also compare with the generic decoders (vm)')
        sp.add_argument('--profile', choices=('stats', 'nostats'), help='cProfile one read (to stderr)')
    args = ap.parse_args(argv)
    return dict(native=native, vm=vm, measure=measure)[args.cmd](args)


if __name__ == '__main__':
    sys.exit(main())
