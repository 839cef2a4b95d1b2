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


@contextlib.contextmanager
def entered(netns):
    """Run the block inside network namespace `netns` (name or path); None is a no-op."""
    path = netns_path(netns)
    if path is None:
        yield
        return
    try:
        target = os.open(path, os.O_RDONLY | getattr(os, 'O_CLOEXEC', 0))
    except OSError as e:
        if e.errno == errno.ENOENT:
            raise IpvsError("network namespace %r does not exist (no %s)" % (netns, path))
        raise IpvsError("cannot open network namespace %r: %s" % (netns, e.strerror))
    self_ns = '/proc/thread-self/ns/net' if os.path.exists('/proc/thread-self/ns/net') else '/proc/self/ns/net'
    origin = os.open(self_ns, os.O_RDONLY | getattr(os, 'O_CLOEXEC', 0))
    setns = _setns_func()
    try:
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
            setns(origin)
    finally:
        os.close(target)
        os.close(origin)
