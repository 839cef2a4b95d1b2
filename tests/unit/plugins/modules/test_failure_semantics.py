# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a user sees when things go wrong (issue 9), module by module, against
the fake IPVS kernel: the permission sentence, honest `changed` with `applied`
and `not_applied`, a daemon that survives bad input, one canonical order,
services vanishing mid-read, options kept, no modprobe in check mode, and a
clean failure on a malformed connection table."""

import errno
import os
import signal

import pytest

from harness import Harness, differences, writes

from ansible.module_utils.testing import patch_module_args

from ansible_collections.lvs.ipvs.plugins.module_utils import _common, _ip_vs_conn
from ansible_collections.lvs.ipvs.plugins.module_utils._errors import PERMISSION, IpvsError
from ansible_collections.lvs.ipvs.plugins.module_utils._ipvs import (
    IpvsClient, op_add_server, op_add_service, op_flush, op_set_timeouts, op_start_daemon, op_stop_daemon,
)
from ansible_collections.lvs.ipvs.plugins.module_utils._model import Daemon, make_server, make_service
from ansible_collections.lvs.ipvs.plugins.modules import (
    ipvs_daemon, ipvs_info, ipvs_laddr, ipvs_server, ipvs_service, ipvs_timeout,
)

WEB = dict(vip='192.0.2.10', vport=80)
KEY = ('ipv4', 'tcp', '192.0.2.10', 80, None)
DNS = make_service('ipv4', 'udp', '192.0.2.10', 53, scheduler='rr')
FWM = make_service('ipv6', fwmark=3, scheduler='sh')
SENTENCE = "permission denied: managing IPVS needs CAP_NET_ADMIN (use become: true)"


@pytest.fixture
def h(monkeypatch, capsys):
    harness = Harness(monkeypatch, capsys)
    harness.kernel()
    return harness


def service(fake, key=KEY):
    return next((s for s, _servers in fake.table() if s.key == key), None)


# ---------------------------------------------------------------- 1. forgetting become: true

@pytest.mark.parametrize('check', [False, True], ids=['real', 'check'])
@pytest.mark.parametrize('module, args', [
    (ipvs_service, dict(WEB, scheduler='wrr', servers=[dict(rip='10.0.0.2', forward='masq')])),
    (ipvs_server, dict(WEB, rip='10.0.0.2')),
    (ipvs_timeout, dict(udp=60)),
    (ipvs_daemon, dict(role='master', mcast_interface='eth0', syncid=3)),
    (ipvs_laddr, dict(WEB, addresses=['10.1.0.1'])),
    (ipvs_info, {}),
], ids=lambda v: getattr(v, '__name__', '').rsplit('.', 1)[-1] or None)
def test_without_cap_net_admin_every_module_says_use_become(h, module, args, check):
    fake = h.kernel(privileged=False, laddr=True)
    result = h.run(module, args, check=check)
    assert result['failed'] and result['msg'] == SENTENCE == PERMISSION, result
    assert result.get('changed', False) is False and 'applied' not in result and 'exception' not in result
    assert writes(fake) == []


def test_an_unprivileged_write_says_it_too(h):
    """The batched write path: the closing request (the barrier) is refused as well,
    and must not hide the requests' own EPERM."""
    fake = h.kernel(privileged=False)
    ops = [op_add_service(make_service(*KEY)), op_add_server(KEY, make_server('10.0.0.2', 80)), op_set_timeouts(udp=60),
           op_start_daemon(Daemon('master', 'eth0', 1, None, None, None, None)), op_stop_daemon('backup'), op_flush()]
    with IpvsClient(modprobe=fake.modprobe) as client:
        for op in ops:
            with pytest.raises(IpvsError) as e:
                client.apply_or_raise([op])
            assert str(e.value) == SENTENCE and e.value.errno == errno.EPERM, op
        assert client.applied == []
    assert [r.error for r in fake.log if r.write] == [errno.EPERM] * len(ops)


# ---------------------------------------------------------------- 2. bad input changes nothing; honest changed

@pytest.mark.parametrize('check', [False, True], ids=['real', 'check'])
def test_daemon_typo_in_the_interface_leaves_the_running_daemon(h, check):
    h.fake.start_daemon(Daemon('master', 'eth0', 7, None, None, None, None))
    running = h.fake.daemons
    result = h.run(ipvs_daemon, dict(role='master', mcast_interface='nosuchif0', syncid=1), check=check)
    assert result['failed'] and result['msg'] == "mcast_interface: there is no network interface 'nosuchif0' on this host"
    assert result.get('changed', False) is False and 'applied' not in result
    assert h.fake.daemons == running == [Daemon('master', 'eth0', 7, 1472, '224.0.0.81', 8848, 1)]
    assert writes(h.fake) == []


def test_daemon_restart_the_kernel_refuses_brings_the_old_one_back(h):
    # The kernel finds no route to an IPv6 group through lo (no IFF_MULTICAST): ENETUNREACH.
    h.fake.start_daemon(Daemon('master', 'lo', 7, None, None, None, None))
    running = h.fake.daemons
    args = dict(role='master', mcast_interface='lo', syncid=7, mcast_group='ff02::81')
    predicted = h.run(ipvs_daemon, args, check=True)
    assert predicted['changed'] and writes(h.fake) == []
    result = h.run(ipvs_daemon, args)
    assert result['failed'] and result['changed'] is True
    assert result['applied'] == ['stop master sync daemon', 'start master sync daemon on lo']
    assert [f['change'] for f in result['not_applied']] == ['start master sync daemon on lo']
    assert 'Network is unreachable' in result['not_applied'][0]['error']
    assert result['msg'].endswith('the previous master sync daemon was started again with its old settings')
    assert h.fake.daemons == running
    assert writes(h.fake) == ['DEL_DAEMON', 'NEW_DAEMON', 'NEW_DAEMON']
    assert [r.error for r in h.fake.log if r.write] == [0, errno.ENETUNREACH, 0]


def test_partial_failure_reports_changed_applied_and_not_applied(h):
    # 0.0.0.0 passes the option checks (it is an address) but the kernel refuses it (EINVAL);
    # the writes after it in the batch still run.
    args = dict(WEB, scheduler='wrr', servers=[dict(rip='10.0.0.2', forward='masq'), dict(rip='0.0.0.0', forward='masq'),
                                               dict(rip='10.0.0.3', forward='masq')])
    predicted = h.run(ipvs_service, args, check=True)
    assert predicted['changed'] and 'failed' not in predicted
    result = h.run(ipvs_service, args)
    assert result['failed'] and result['changed'] is True
    assert result['applied'] == ['add virtual service TCP 192.0.2.10:80', 'add real server 10.0.0.2:80 in TCP 192.0.2.10:80',
                                 'add real server 10.0.0.3:80 in TCP 192.0.2.10:80']
    assert [f['change'] for f in result['not_applied']] == ['add real server 0.0.0.0:80 in TCP 192.0.2.10:80']
    assert 'was rejected by the kernel' in result['not_applied'][0]['error']
    assert result['msg'] == result['not_applied'][0]['error']
    assert sorted(s.rip for s in h.fake.servers(KEY)) == ['10.0.0.2', '10.0.0.3']


def test_a_failure_before_any_write_is_not_a_change(h):
    result = h.run(ipvs_service, dict(WEB, scheduler='nosuch'))
    assert result['failed'] and "scheduler 'nosuch' is not available" in result['msg']
    assert result.get('changed', False) is False and 'applied' not in result
    assert [f['change'] for f in result['not_applied']] == ['add virtual service TCP 192.0.2.10:80']


# ---------------------------------------------------------------- 3. the check diff is the real diff

def test_check_diff_is_the_real_diff_for_a_service_with_several_servers(h):
    h.fake.load([(make_service(*KEY, scheduler='wrr'),
                  [make_server('10.0.0.%d' % i, 80, forward='masq', weight=i) for i in (5, 2, 10, 3)])])
    assert [s.rip for s in h.fake.servers(KEY)] == ['10.0.0.3', '10.0.0.10', '10.0.0.2', '10.0.0.5'], 'newest first'
    args = dict(WEB, scheduler='wlc', servers=[dict(rip='10.0.0.10', weight=1), dict(rip='10.0.0.4', forward='masq'),
                                               dict(rip='10.0.0.2', state='absent')])
    first, real = h.four(ipvs_service, args)   # compares the check diff and result with the real ones
    assert first['changed']
    assert [s['rip'] for s in first['diff']['before']['servers']] == ['10.0.0.2', '10.0.0.3', '10.0.0.5', '10.0.0.10']
    assert [(s['rip'], s['weight']) for s in first['diff']['after']['servers']] == [
        ('10.0.0.3', 3), ('10.0.0.4', 1), ('10.0.0.5', 5), ('10.0.0.10', 1)]


# ---------------------------------------------------------------- 4. reads race with writers

def _table(fake):
    fake.load([(make_service(*KEY, scheduler='wrr'), [make_server('10.0.0.2', 80, forward='masq')]),
               (DNS, [make_server('10.0.0.3', 53, forward='masq')]),
               (FWM, [make_server('2001:db8::7', 0)]),
               (make_service('ipv4', 'udp', '192.0.2.20', 53), [])])
    fake.reset_counters()


def test_info_leaves_out_a_service_deleted_between_the_dumps(h):
    _table(h.fake)
    h.fake.once('GET_DEST', lambda f, r: f.delete_service(DNS.key))
    result = h.run(ipvs_info, {'gather': ['services', 'rules']})
    assert 'failed' not in result, result
    listed = [(s['family'], s.get('protocol'), s.get('vip'), s.get('vport'), s.get('fwmark')) for s in result['ipvs']['services']]
    assert listed == [KEY, ('ipv4', 'udp', '192.0.2.20', 53, None), FWM.key], 'the empty but existing service stays'
    assert '192.0.2.10:53' not in result['ipvs']['rules']
    assert h.fake.requests['GET_DEST'] == 4 and h.fake.writes == 0


def test_info_with_reordered_error_replies(h):
    """Replies are matched by sequence number: error replies arriving out of
    order (here the probes of two vanished services) change nothing."""
    _table(h.fake)
    expected = h.run(ipvs_info, {'gather': ['services']})['ipvs']['services']
    expected = [s for s in expected if s.get('vport') != 53]

    def vanish(f, r):
        f.delete_service(DNS.key)
        f.delete_service(('ipv4', 'udp', '192.0.2.20', 53, None))
    for reorder in ('reverse', lambda replies: replies[1:] + replies[:1]):
        h.kernel()
        _table(h.fake)
        h.fake.reorder = reorder
        h.fake.once('GET_DEST', vanish)
        result = h.run(ipvs_info, {'gather': ['services']})
        assert 'failed' not in result, result
        assert result['ipvs']['services'] == expected
        assert [r.error for r in h.fake.log if r.name == 'GET_SERVICE' and not r.dump] == [errno.ESRCH] * 2


@pytest.mark.parametrize('state', ['present', 'absent'])
def test_service_deleted_between_its_reads_is_absent(h, state):
    h.fake.add_service(make_service(*KEY, scheduler='rr'))
    h.fake.add_server(KEY, make_server('10.0.0.9', 80))
    h.fake.reset_counters()
    h.fake.once('GET_DEST', lambda f, r: f.delete_service(KEY))
    args = dict(WEB, scheduler='wrr', servers=[dict(rip='10.0.0.2', forward='masq')], state=state)
    result = h.run(ipvs_service, args, diff=True)
    assert 'failed' not in result, result
    assert result['diff']['before'] == {}
    if state == 'present':
        assert result['changed'] and writes(h.fake) == ['NEW_SERVICE', 'NEW_DEST']
        assert service(h.fake).scheduler == 'wrr' and [s.rip for s in h.fake.servers(KEY)] == ['10.0.0.2']
    else:
        assert result['changed'] is False and writes(h.fake) == [] and not h.fake.has_service(KEY)


# ---------------------------------------------------------------- 5. absent of something gone is ok

def test_laddr_absent_on_a_missing_service_is_ok(h):
    fake = h.kernel(laddr=True)
    first, real = h.four(ipvs_laddr, dict(WEB, addresses=['10.1.0.1'], state='absent'))
    assert first['changed'] is False and real['laddrs'] == [] and writes(fake) == []


def test_laddr_absent_on_a_kernel_without_laddr_fails_clearly(h):
    """A mainline kernel has no local addresses at all; ipvs_laddr fails on it
    whatever the state (its documentation says so), before any read or write."""
    h.fake.add_service(make_service(*KEY))
    h.fake.reset_counters()
    result = h.run(ipvs_laddr, dict(WEB, addresses=['10.1.0.1'], state='absent'))
    assert result['failed'] and result['msg'].startswith('this kernel has no FULLNAT local-address support')
    assert result.get('changed', False) is False and 'exception' not in result
    assert writes(h.fake) == [] and h.fake.requests['GET_SERVICE'] == 0


# ---------------------------------------------------------------- 6. options left out are kept

TUNNEL = make_server('10.0.0.2', 80, forward='tun', weight=5, u_threshold=100, l_threshold=10, tun_type='gue',
                     tun_port=6080, tun_csum='csum')
MASQ = make_server('10.0.0.3', 8080, forward='masq', weight=4, u_threshold=50)


def test_server_options_left_out_are_kept(h):
    h.fake.load([(make_service(*KEY), [TUNNEL, MASQ])])
    before = h.fake.servers(KEY)
    first, _real = h.four(ipvs_server, dict(WEB, rip='10.0.0.2'))
    assert first['changed'] is False
    first, _real = h.four(ipvs_server, dict(WEB, rip='10.0.0.3', rport=8080))
    assert first['changed'] is False and h.fake.servers(KEY) == before
    first, real = h.four(ipvs_server, dict(WEB, rip='10.0.0.2', weight=7))
    assert real['server'] == dict(
        rip='10.0.0.2', rport=80, family='ipv4', forward='tun', weight=7, u_threshold=100, l_threshold=10, tun_type='gue',
        tun_port=6080, tun_csum='csum', active_conns=0, inactive_conns=0, persist_conns=0)
    first, real = h.four(ipvs_server, dict(WEB, rip='10.0.0.3', rport=8080, l_threshold=40))   # below the kept u_threshold
    assert (real['server']['forward'], real['server']['u_threshold'], real['server']['l_threshold']) == ('masq', 50, 40)
    result = h.run(ipvs_server, dict(WEB, rip='10.0.0.3', rport=8080, l_threshold=60))
    assert result['failed'] and result['msg'] == 'l_threshold (60) needs a u_threshold at least as high'


def test_service_servers_options_left_out_are_kept(h):
    h.fake.load([(make_service(*KEY, scheduler='wrr'), [TUNNEL, MASQ])])
    before = h.fake.servers(KEY)
    first, _real = h.four(ipvs_service, dict(WEB, servers=[dict(rip='10.0.0.2'), dict(rip='10.0.0.3', rport=8080)]))
    assert first['changed'] is False and h.fake.servers(KEY) == before
    first, _real = h.four(ipvs_service, dict(WEB, servers=[dict(rip='10.0.0.3', rport=8080, l_threshold=20)]))
    before = dict((s.rip, s) for s in before)
    after = dict((s.rip, s) for s in h.fake.servers(KEY))
    assert after == dict(before, **{'10.0.0.3': before['10.0.0.3']._replace(l_threshold=20)})


@pytest.mark.parametrize('module', [ipvs_server, ipvs_service], ids=['ipvs_server', 'ipvs_service'])
def test_a_drained_server_stays_drained_when_weight_is_left_out(h, module):
    h.fake.load([(make_service(*KEY), [TUNNEL])])

    def args(**srv):
        srv = dict(rip='10.0.0.2', **srv)
        return dict(WEB, **srv) if module is ipvs_server else dict(WEB, servers=[srv])
    h.four(module, args(state='drained'))
    assert h.fake.servers(KEY)[0].weight == 0
    first, _real = h.four(module, args(u_threshold=200))
    assert first['changed']
    got = h.fake.servers(KEY)[0]
    assert (got.weight, got.u_threshold, got.forward, got.tun_port) == (0, 200, 'tun', 6080)
    first, _real = h.four(module, args(weight=5))
    assert h.fake.servers(KEY)[0].weight == 5


# ---------------------------------------------------------------- 7. modprobe

@pytest.mark.parametrize('autoload', [False, True], ids=['before-5.16', 'lookup-loads-the-module'])
def test_check_mode_loads_no_kernel_module(h, autoload):
    # Before Linux 5.16 only modprobe loads ip_vs; since then looking the family up by name does too.
    fake = h.kernel(loaded=False, autoload=autoload)
    args = dict(WEB, scheduler='wrr', servers=[dict(rip='10.0.0.2', forward='masq')])
    predicted = h.run(ipvs_service, args, check=True, diff=True)
    assert predicted['changed'] and predicted['diff']['before'] == {}
    assert fake.modprobes == [] and not fake.loaded and writes(fake) == []
    assert any('not loaded' in w and 'modprobe ip_vs' in w for w in h.warnings), h.warnings
    real = h.run(ipvs_service, args, diff=True)
    assert fake.modprobes == ([] if autoload else ['ip_vs']) and fake.loaded
    assert differences(predicted['diff'], real['diff']) == [] and predicted['service'] == real['service']
    again = h.run(ipvs_service, args)
    assert again['changed'] is False and fake.modprobes == ([] if autoload else ['ip_vs'])


@pytest.mark.parametrize('autoload', [False, True], ids=['before-5.16', 'lookup-loads-the-module'])
def test_check_mode_on_an_unloaded_kernel_for_the_other_modules(h, autoload):
    fake = h.kernel(loaded=False, autoload=autoload)
    for module, args, key, value in [
            (ipvs_timeout, dict(udp=60), 'timeouts', dict(tcp=900, tcpfin=120, udp=60)),
            (ipvs_daemon, dict(role='backup', mcast_interface='eth0'), 'daemon',
             dict(role='backup', mcast_interface='eth0', syncid=0, sync_maxlen=1472, mcast_group='224.0.0.81',
                  mcast_port=8848, mcast_ttl=1)),
            (ipvs_server, dict(WEB, rip='10.0.0.2'), 'server', None)]:
        result = h.run(module, args, check=True)
        assert 'failed' not in result and result['changed'], result
        if value is not None:
            assert result[key] == value
    assert fake.modprobes == [] and not fake.loaded and fake.log == [r for r in fake.log if r.name == 'CTRL_GETFAMILY']


def test_modprobe_runs_through_the_module_within_a_time_limit(monkeypatch):
    with patch_module_args({}):
        m = _common.IpvsModule(argument_spec={})
    found = {'modprobe': '/usr/sbin/modprobe', 'timeout': '/usr/bin/timeout'}
    calls = []
    monkeypatch.setattr(m.module, 'get_bin_path', lambda name, *a, **kw: found.get(name))
    monkeypatch.setattr(m.module, 'run_command', lambda cmd, **kw: calls.append(cmd) or (1 if 'nosuch' in cmd else 0, '', ''))
    assert m.modprobe('ip_vs') is True and m.modprobe('nosuch') is False
    assert calls[0] == ['/usr/bin/timeout', str(_common.MODPROBE_TIMEOUT), '/usr/sbin/modprobe', '-q', 'ip_vs']
    del found['modprobe']
    assert m.modprobe('ip_vs') is False and len(calls) == 2


# ---------------------------------------------------------------- 8. a netns that is no namespace

def test_a_fifo_given_as_netns_fails_at_once(h, tmp_path):
    fifo = tmp_path / 'ns'
    os.mkfifo(str(fifo))

    def expire(signum, frame):
        raise AssertionError('the module hangs on a FIFO given as netns')
    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(5)
    try:
        result = h.run(ipvs_info, {'netns': str(fifo)})
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert result['failed'] and result['msg'].startswith('%s is not a network namespace (it is a FIFO)' % fifo)
    assert 'exception' not in result and h.fake.log == []


# ---------------------------------------------------------------- 9. a malformed connection table

def test_malformed_ip_vs_conn_is_a_clean_failure(h, monkeypatch, tmp_path):
    bad = tmp_path / 'ip_vs_conn'
    bad.write_text('Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\nTCP 0A0A0002 A1B2\n')
    monkeypatch.setattr(_ip_vs_conn, 'PROC_PATH', str(bad))
    result = h.run(ipvs_info, {'gather': ['connections']})
    assert result['failed'] and 'exception' not in result
    assert result['msg'] == "%s has a format this collection does not know: short ip_vs_conn row 'TCP 0A0A0002 A1B2'" % bad
