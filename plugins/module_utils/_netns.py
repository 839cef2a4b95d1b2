# -*- coding: utf-8 -*-
# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This is a private module_util of lvs.ipvs: it may change without notice.
"""Entering a network namespace for the length of a block.

IPVS state is per network namespace. A netlink socket stays bound to the
namespace it was created in, and /proc/net/* is resolved at open() time, so the
client only needs to be inside the namespace while it opens those; it returns
to the caller's namespace right after.
"""

from __future__ import absolute_import, division, print_function

import contextlib
import ctypes
import ctypes.util
import errno
import os
import stat

from ansible_collections.lvs.ipvs.plugins.module_utils._errors import IpvsError

__metaclass__ = type

CLONE_NEWNET = 0x40000000
NETNS_RUN_DIR = '/run/netns'


def netns_path(netns):
    """Accept a name under /run/netns or an absolute path (/proc/PID/ns/net)."""
    if not netns:
        return None
    if '/' in netns:
        return netns
    if netns in ('.', '..'):
        raise IpvsError("invalid network namespace name %r" % netns)
    return os.path.join(NETNS_RUN_DIR, netns)


def _setns_func():
    if hasattr(os, 'setns'):  # Python 3.12+
        return lambda fd: os.setns(fd, CLONE_NEWNET)
    libc = ctypes.CDLL(ctypes.util.find_library('c') or None, use_errno=True)

    def _setns(fd):
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
    return _setns


def _open_netns(netns, path):
    """A descriptor of the namespace file, or IpvsError. O_NONBLOCK: opening a
    FIFO given by mistake must not wait for a writer."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, 'O_CLOEXEC', 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        if e.errno == errno.ENOENT:
            raise IpvsError("network namespace %r does not exist (no %s)" % (netns, path))
        if e.errno in (errno.EPERM, errno.EACCES):
            raise IpvsError("permission denied opening network namespace %r (%s): use become: true" % (netns, path))
        raise IpvsError("cannot open network namespace %r (%s): %s" % (netns, path, e.strerror))
    try:
        mode = os.fstat(fd).st_mode
    except OSError as e:
        os.close(fd)
        raise IpvsError("cannot inspect network namespace %r (%s): %s" % (netns, path, e.strerror))
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = 'a directory' if stat.S_ISDIR(mode) else 'a FIFO' if stat.S_ISFIFO(mode) else 'not a regular file'
        raise IpvsError("%s is not a network namespace (it is %s); give a name under %s or a path such as "
                        "/proc/PID/ns/net" % (path, kind, NETNS_RUN_DIR))
    return fd


@contextlib.contextmanager
def entered(netns):
    """Run the block inside network namespace `netns` (name or path); None is a no-op."""
    path = netns_path(netns)
    if path is None:
        yield
        return
    setns = _setns_func()
    target = _open_netns(netns, path)
    origin = None
    try:
        self_ns = '/proc/thread-self/ns/net' if os.path.exists('/proc/thread-self/ns/net') else '/proc/self/ns/net'
        try:
            origin = os.open(self_ns, os.O_RDONLY | getattr(os, 'O_CLOEXEC', 0))
        except OSError as e:
            raise IpvsError("cannot open this process's own network namespace (%s): %s" % (self_ns, e.strerror))
        try:
            setns(target)
        except OSError as e:
            if e.errno == errno.EPERM:
                raise IpvsError("permission denied entering network namespace %r: "
                                "it needs CAP_SYS_ADMIN (use become: true)" % netns)
            raise IpvsError("%s is not a network namespace (%s)" % (path, e.strerror))
        try:
            yield
        finally:
            try:
                setns(origin)
            except OSError as e:
                # Going on here would work on the wrong namespace's IPVS.
                raise IpvsError("cannot return from network namespace %r to the original one: %s"
                                % (netns, e.strerror))
    finally:
        os.close(target)
        if origin is not None:
            os.close(origin)
