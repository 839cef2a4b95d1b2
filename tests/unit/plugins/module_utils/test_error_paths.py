# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Resources on error paths (issue 9, defect 8): GenlSocket and _netns.entered
leave no descriptor behind and say what went wrong as an IpvsError, a socket
that failed mid-exchange is not reused, and a netns path that is no namespace
(a FIFO, a directory) fails at once."""

import contextlib
import errno
import os
import signal
import socket
import sys
import types

import pytest

from ansible_collections.lvs.ipvs.plugins.module_utils import _netlink, _netns
from ansible_collections.lvs.ipvs.plugins.module_utils._errors import IpvsError
from ansible_collections.lvs.ipvs.plugins.module_utils._ipvs import FAMILY, CMD_GET_INFO, IpvsClient, op_delete_service
from ansible_collections.lvs.ipvs.plugins.module_utils._model import make_service

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
from fake_kernel import FakeKernel  # noqa: E402 pylint: disable=wrong-import-position


def open_fds():
    return sorted(int(fd) for fd in os.listdir('/proc/self/fd'))


@contextlib.contextmanager
def deadline(seconds):
    """Fail instead of hanging: SIGALRM interrupts a blocking open()."""
    def expire(signum, frame):
        raise AssertionError('still blocked after %d seconds' % seconds)
    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# ---------------------------------------------------------------- GenlSocket

class _Refusing(socket.socket):
    """A real netlink socket whose bind() or SOL_SOCKET setsockopt() fails."""

    fail = None

    def bind(self, address):
        if self.fail == 'bind':
            raise OSError(errno.EADDRINUSE, os.strerror(errno.EADDRINUSE))
        return super(_Refusing, self).bind(address)

    def setsockopt(self, level, opt, *value):
        if self.fail == 'setsockopt' and level == socket.SOL_SOCKET:
            raise OSError(errno.ENOPROTOOPT, os.strerror(errno.ENOPROTOOPT))
        return super(_Refusing, self).setsockopt(level, opt, *value)


@pytest.mark.parametrize('fail, err', [('bind', errno.EADDRINUSE), ('setsockopt', errno.ENOPROTOOPT)])
def test_genl_socket_setup_failure_closes_the_socket_and_raises_ipvs_error(monkeypatch, fail, err):
    made = []

    def factory(*args):
        s = _Refusing(*args)
        s.fail = fail
        made.append(s)
        return s
    shim = types.ModuleType('socket')
    shim.__dict__.update(socket.__dict__)
    shim.socket = factory
    monkeypatch.setattr(_netlink, 'socket', shim)
    before = open_fds()
    with pytest.raises(IpvsError) as e:
        _netlink.GenlSocket(FAMILY, CMD_GET_INFO)
    assert str(e.value) == 'cannot open a generic netlink socket: %s' % os.strerror(err) and e.value.errno == err
    assert len(made) == 1 and made[0].fileno() == -1, 'the socket was left open'
    assert open_fds() == before


def test_a_socket_that_failed_mid_exchange_is_closed_and_not_reused(monkeypatch):
    fake = FakeKernel(rcvbuf_limit=8192).install(monkeypatch)
    client = IpvsClient(modprobe=fake.modprobe)
    with pytest.raises(IpvsError) as e:   # error replies overflow the receive queue
        client.apply([op_delete_service(make_service('ipv4', 'tcp', '10.0.0.%d' % i, 80).key) for i in range(50)])
    assert e.value.errno == errno.ENOBUFS
    assert fake.sockets == [] and client.sock.sock is None
    with pytest.raises(IpvsError) as e:
        client.services()
    assert str(e.value) == 'the netlink socket was closed after an earlier error'
    client.close()


def test_a_dump_cut_short_closes_the_socket(monkeypatch):
    """The kernel stalls in the middle of a dump: the socket, whose dump is still
    running, is closed rather than read by the next request."""
    fake = FakeKernel().install(monkeypatch)
    fake.load([(make_service('ipv4', 'tcp', '10.1.%d.%d' % (i // 250, i % 250), 80), []) for i in range(1000)])

    def stall(f, request):
        raise socket.timeout('timed out')
    fake.before_dump_chunk.append(stall)
    client = IpvsClient(modprobe=fake.modprobe)
    with pytest.raises(IpvsError, match='did not answer'):
        client.services()
    assert fake.sockets == [], 'a socket with a dump still running was kept'
    with pytest.raises(IpvsError, match='closed after an earlier error'):
        client.timeouts()
    client.close()


# ---------------------------------------------------------------- _netns.entered

@pytest.fixture
def setns_calls(monkeypatch):
    """Record setns() instead of switching this test process's namespace."""
    calls = []
    monkeypatch.setattr(_netns, '_setns_func', lambda: calls.append)
    return calls


def test_a_fifo_as_netns_fails_at_once(tmp_path, setns_calls):
    fifo = tmp_path / 'ns'
    os.mkfifo(str(fifo))
    before = open_fds()
    with deadline(5):
        with pytest.raises(IpvsError) as e:
            with _netns.entered(str(fifo)):
                pass
    assert str(e.value).startswith('%s is not a network namespace (it is a FIFO)' % fifo)
    assert setns_calls == [] and open_fds() == before


def test_a_directory_as_netns_fails_at_once(tmp_path, setns_calls):
    before = open_fds()
    with pytest.raises(IpvsError) as e:
        with _netns.entered(str(tmp_path)):
            pass
    assert str(e.value).startswith('%s is not a network namespace (it is a directory)' % tmp_path)
    assert setns_calls == [] and open_fds() == before


def test_a_netns_client_on_a_fifo_fails_at_once(tmp_path, setns_calls, monkeypatch):
    fake = FakeKernel().install(monkeypatch)
    fifo = tmp_path / 'ns'
    os.mkfifo(str(fifo))
    with deadline(5):
        with pytest.raises(IpvsError, match='is not a network namespace'):
            IpvsClient(netns=str(fifo), modprobe=fake.modprobe)
    assert fake.sockets == [] and fake.log == []


@pytest.mark.parametrize('err, message', [
    (errno.EINVAL, '/proc/self/ns/net is not a network namespace (Invalid argument)'),
    (errno.EPERM, "permission denied entering network namespace '/proc/self/ns/net': it needs CAP_SYS_ADMIN"),
])
def test_descriptors_are_closed_when_setns_fails(monkeypatch, err, message):
    def setns(fd):
        raise OSError(err, os.strerror(err))
    monkeypatch.setattr(_netns, '_setns_func', lambda: setns)
    before = open_fds()
    with pytest.raises(IpvsError) as e:
        with _netns.entered('/proc/self/ns/net'):
            raise AssertionError('entered although setns failed')
    assert str(e.value).startswith(message)
    assert open_fds() == before


def test_a_failed_return_is_an_ipvs_error_and_closes_the_descriptors(monkeypatch):
    calls = []

    def setns(fd):
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
    monkeypatch.setattr(_netns, '_setns_func', lambda: setns)
    before = open_fds()
    with pytest.raises(IpvsError) as e:
        with _netns.entered('/proc/self/ns/net'):
            pass
    assert str(e.value) == "cannot return from network namespace '/proc/self/ns/net' to the original one: Invalid argument"
    assert len(calls) == 2 and open_fds() == before


def test_no_descriptor_is_opened_before_setns_is_available(monkeypatch):
    def unavailable():
        raise OSError(errno.ENOSYS, 'no setns() in this C library')
    monkeypatch.setattr(_netns, '_setns_func', unavailable)
    before = open_fds()
    with pytest.raises(OSError):
        with _netns.entered('/proc/self/ns/net'):
            pass
    assert open_fds() == before
