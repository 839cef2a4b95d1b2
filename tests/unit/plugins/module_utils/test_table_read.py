# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The read path end to end on tests/fake_kernel.py: services(), servers_of()
and table() return what the kernel holds, exactly as the generic request
machinery (GenlSocket.run() with the generic decoders) reads it, in every case
that path handles: IPv6, fwmark, tunnels, mixed-family servers, thresholds,
stats or not, dumps cut into several datagrams, services that vanish or are
emptied while the table is read, refused and busy dumps, a kernel that stalls."""

import errno
import os
import random
import socket
import sys

import pytest

from ansible_collections.lvs.ipvs.plugins.module_utils import _ipvs as ipvs
from ansible_collections.lvs.ipvs.plugins.module_utils._errors import IpvsError, explain
from ansible_collections.lvs.ipvs.plugins.module_utils._model import (
    Rates, Server, Service, Stats, make_server, make_service, service_text,
)

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
from fake_kernel import FakeKernel  # noqa: E402 pylint: disable=wrong-import-position
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_read import generic_table  # noqa: E402 pylint: disable=wrong-import-position
from test_fast_decode import loaded_fake  # noqa: E402 pylint: disable=wrong-import-position

WEB = make_service('ipv4', 'tcp', '192.0.2.10', 80, scheduler='wrr')
DNS = make_service('ipv6', 'udp', '2001:db8::53', 53, scheduler='sh')
FWM = make_service('ipv4', fwmark=7, scheduler='rr')


def without_counters(table):
    return [(svc._replace(stats=None, rates=None), [s._replace(stats=None, rates=None) for s in servers])
            for svc, servers in table]


@pytest.fixture
def rich(monkeypatch):
    fake = loaded_fake(random.Random(9), services=80).install(monkeypatch)
    client = ipvs.IpvsClient(modprobe=fake.modprobe)
    yield fake, client
    client.close()


def test_table_is_what_the_kernel_holds_and_what_the_generic_path_reads(rich):
    fake, client = rich
    table = client.table()
    assert table == fake.table() == generic_table(client)
    for svc, servers in table:
        assert isinstance(svc, Service) and isinstance(svc.stats, Stats) and isinstance(svc.rates, Rates)
        assert all(isinstance(s, Server) and isinstance(s.stats, Stats) and isinstance(s.rates, Rates) for s in servers)
        assert [s.config() for s in servers] == [s.config() for s in fake.servers(svc.key)]
    kinds = set((svc.family, bool(svc.fwmark), s.family, s.forward, s.tun_type) for svc, servers in table for s in servers)
    assert ('ipv4', False, 'ipv6', 'tun', 'gue') in kinds or ('ipv4', False, 'ipv6', 'tun', 'gre') in kinds
    assert any(fw for _f, fw, _sf, _fwd, _tt in kinds)


def test_without_stats_the_counters_are_none_and_the_rest_the_same(rich):
    fake, client = rich
    table = client.table(with_stats=False)
    assert table == generic_table(client, with_stats=False) == without_counters(fake.table())
    assert client.services(with_stats=False) == [svc for svc, _servers in table]
    keys = [svc.key for svc, _s in table]
    assert client.servers_of(keys, with_stats=False) == dict((svc.key, servers) for svc, servers in table)


def test_one_service_one_dump_and_the_request_count(rich):
    fake, client = rich
    before = client.sock.requests
    fake.reset_counters()
    table = client.table()
    empty = sum(1 for _svc, servers in table if not servers)
    assert fake.requests['GET_SERVICE'] == 1 + empty       # the dump, then one probe per empty service
    assert fake.requests['GET_DEST'] == len(table)
    assert client.sock.requests - before == 1 + len(table) + empty
    assert not fake.writes


def test_dumps_cut_into_many_datagrams(monkeypatch):
    fake = FakeKernel().install(monkeypatch)
    big = make_service('ipv6', 'tcp', '2001:db8::80', 80, scheduler='wlc')
    servers = [make_server('2001:db8:1::%x' % (i + 1), 8080, forward='masq', weight=i % 7, u_threshold=i, l_threshold=0)
               for i in range(700)]
    many = [(make_service('ipv4', 'tcp', '10.1.%d.%d' % (i // 250, i % 250 + 1), 80, scheduler='rr'), []) for i in range(900)]
    fake.load([(big, servers)] + many)
    with ipvs.IpvsClient(modprobe=fake.modprobe) as client:
        fake.reset_counters()
        table = client.table()
        assert fake.recv_datagrams > 2 * (1 + len(many)) + 10      # both kinds of dump came in pieces
        assert table == fake.table()
        got = dict((svc.key, s) for svc, s in table)[big.key]
        assert sorted(s.rip for s in got) == sorted(s.rip for s in servers)


def test_a_service_deleted_or_emptied_meanwhile(monkeypatch):
    fake = FakeKernel().install(monkeypatch)
    fake.load([(WEB, [make_server('10.0.0.1', 80, forward='masq')]),
               (DNS, [make_server('2001:db8::2', 53, forward='dr')]),
               (FWM, [make_server('10.0.0.3', 0, forward='tun', tun_type='gre')])])
    gone = []

    def meanwhile(f, request):
        if not gone:
            gone.append(1)
            f.delete_service(DNS.key)
            f.delete_server(FWM.key, make_server('10.0.0.3', 0, forward='tun', tun_type='gre'))
    fake.once('GET_DEST', meanwhile)
    with ipvs.IpvsClient(modprobe=fake.modprobe) as client:
        table = client.table()
        assert [(svc.key, len(servers)) for svc, servers in table] == [
            (s.key, len(fake.servers(s.key))) for s in fake.services()]
        assert DNS.key not in [svc.key for svc, _s in table] and (FWM.key, 0) in [(s.key, len(v)) for s, v in table]
        assert client.servers_of([DNS.key, WEB.key]) == {WEB.key: fake.servers(WEB.key)}
        assert client.servers(DNS.key) is None and client.servers(FWM.key) == []


def test_without_cap_net_admin_the_read_fails_with_the_permission_message(monkeypatch):
    fake = FakeKernel(privileged=False).install(monkeypatch)
    with ipvs.IpvsClient(modprobe=fake.modprobe) as client:
        with pytest.raises(IpvsError) as e:
            client.table()
        assert str(e.value) == str(explain(errno.EPERM, 'get', 'virtual services'))
        assert e.value.errno == errno.EPERM
        with pytest.raises(IpvsError) as e:
            client.servers_of([WEB.key, DNS.key])
        assert str(e.value) == str(explain(errno.EPERM, 'get', 'real servers', service=service_text(WEB.key)))
        assert fake.requests['GET_DEST'] == 2 and client.sock.sock is not None   # an answer, not a broken socket


def test_a_refused_dump_names_its_service(monkeypatch):
    fake = FakeKernel().install(monkeypatch)
    fake.load([(WEB, []), (DNS, []), (FWM, [])])
    fake.before_request.append(lambda f, r: errno.ENOMEM if r.name == 'GET_DEST' and len(f.log) > 2 else None)
    with ipvs.IpvsClient(modprobe=fake.modprobe) as client:
        keys = [s.key for s in client.services()]
        fake.reset_counters()
        with pytest.raises(IpvsError) as e:
            client.servers_of(keys)
        assert str(e.value) == str(explain(errno.ENOMEM, 'get', 'real servers', service=service_text(keys[2])))


def test_busy_dumps_are_sent_again_once_and_then_fail(monkeypatch):
    fake = FakeKernel().install(monkeypatch)
    fake.load([(WEB, [make_server('10.0.0.1', 80)]), (FWM, [])])
    with ipvs.IpvsClient(modprobe=fake.modprobe) as client:
        fake.once('GET_DEST', lambda f, r: errno.EBUSY)
        fake.reset_counters()
        assert client.table() == fake.table()
        assert fake.requests['GET_DEST'] == 3
        fake.before_request.append(lambda f, r: errno.EBUSY if r.name == 'GET_DEST' else None)
        with pytest.raises(IpvsError, match='kept refusing'):
            client.table()
        assert fake.sockets == [] and client.sock.sock is None
        with pytest.raises(IpvsError, match='closed after an earlier error'):
            client.table()


def test_a_kernel_that_stalls_in_a_dest_dump_closes_the_socket(monkeypatch):
    fake = FakeKernel().install(monkeypatch)
    fake.load([(WEB, [make_server('10.0.%d.%d' % (i // 250, i % 250 + 1), 80) for i in range(400)])])

    def stall(f, request):
        if request.name == 'GET_DEST':
            raise socket.timeout('timed out')
    fake.before_dump_chunk.append(stall)
    client = ipvs.IpvsClient(modprobe=fake.modprobe)
    with pytest.raises(IpvsError, match='did not answer'):
        client.table()
    assert fake.sockets == [] and client.sock.sock is None
    client.close()


def test_service_by_key(rich):
    fake, client = rich
    for svc in fake.services()[:20]:
        assert client.service(svc.key) == svc
        assert client.service(svc.key, with_stats=False) == svc._replace(stats=None, rates=None)
    assert client.service(('ipv4', 'tcp', '203.0.113.1', 1, None)) is None
