# -*- coding: utf-8 -*-
# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This is a private module_util of lvs.ipvs: it may change without notice.
"""Errors of the IPVS client, and the kernel's errnos in an operator's words."""

from __future__ import absolute_import, division, print_function

import errno
import os

__metaclass__ = type


class IpvsError(Exception):
    """Anything the client cannot do, with a message fit to show an operator.

    `errno` is the kernel's errno where one was involved, so callers can
    decide (e.g. EEXIST on add) without parsing the message.
    """

    def __init__(self, message, errno=None):
        super(IpvsError, self).__init__(message)
        self.message = message
        self.errno = errno

    def __str__(self):
        return self.message


class ApplyError(IpvsError):
    """Some writes of a batch failed. `failed` is [(Op, IpvsError)], `applied`
    the ops of the batch that the kernel carried out."""

    def __init__(self, failed, applied):
        message = str(failed[0][1])
        if len(failed) > 1:
            message += " (and %d more change%s failed)" % (len(failed) - 1, '' if len(failed) == 2 else 's')
        super(ApplyError, self).__init__(message, errno=failed[0][1].errno)
        self.failed = failed
        self.applied = applied


class NotLoaded(IpvsError):
    """The IPVS family is missing and loading ip_vs was not allowed (check mode)."""


_VERB = {'add-service': 'add', 'edit-service': 'change', 'del-service': 'delete', 'add-server': 'add',
         'edit-server': 'change', 'del-server': 'delete', 'start-daemon': 'start', 'stop-daemon': 'stop',
         'set-timeouts': 'set', 'zero': 'zero', 'flush': 'flush', 'add-laddr': 'add', 'del-laddr': 'delete',
         'get': 'read'}

PERMISSION = "permission denied: managing IPVS needs CAP_NET_ADMIN (use become: true)"


def explain(err, op, subject, service=None, scheduler=None, pe=None, netlink_msg=None):
    """Turn errno `err` returned for `op` on `subject` into an IpvsError.

    op is one of: add-service edit-service del-service add-server edit-server
    del-server start-daemon stop-daemon set-timeouts zero flush add-laddr del-laddr
    get; subject is the object's text ("TCP 192.0.2.10:80", "real server ...").
    """
    where = (" in %s" % service) if service else ""
    msg = None
    if err in (errno.EPERM, errno.EACCES):
        msg = PERMISSION
    elif op == 'add-service' and err == errno.EEXIST:
        msg = "%s already exists" % subject
    elif op in ('edit-service', 'del-service', 'zero', 'add-server', 'edit-server',
                'del-server', 'add-laddr', 'del-laddr', 'get') and err == errno.ESRCH:
        msg = "virtual service %s does not exist" % (service or subject)
    elif op in ('add-service', 'edit-service') and err == errno.ENOENT:
        if pe:
            msg = ("%s: scheduler %r or persistence engine %r is not available "
                   "(are the ip_vs_%s and ip_vs_pe_%s kernel modules available?)" % (subject, scheduler, pe, scheduler, pe))
        else:
            msg = "%s: scheduler %r is not available (is the ip_vs_%s module loaded?)" % (subject, scheduler, scheduler)
    elif op == 'add-server' and err == errno.EEXIST:
        msg = "%s already exists%s" % (subject, where)
    elif op in ('edit-server', 'del-server') and err == errno.ENOENT:
        msg = "%s does not exist%s" % (subject, where)
    elif op in ('add-server', 'edit-server') and err == errno.ERANGE:
        msg = ("%s%s: the kernel rejected the values (weight must not be negative, and l_threshold "
               "must not be above u_threshold)" % (subject, where))
    elif op in ('add-server', 'edit-server') and err == errno.EINVAL:
        msg = ("%s was rejected by the kernel%s: invalid value (a real server of another address "
               "family than its service needs forward=tun and no running sync daemon; "
               "tunnel options need forward=tun)" % (subject, where))
    elif op == 'start-daemon' and err == errno.EEXIST:
        msg = "a %s is already running" % subject
    elif op == 'start-daemon' and err == errno.EINVAL:
        msg = ("%s was refused by the kernel as invalid: either a real server has another address family than "
               "its service (a mixed-family tunnel, which rules out a sync daemon), or a setting does not suit "
               "the interface or group" % subject)
    elif op == 'start-daemon' and err == errno.ENODEV:
        msg = "%s: no such network interface" % subject
    elif op == 'stop-daemon' and err == errno.ESRCH:
        msg = "no %s is running" % subject
    elif op in ('add-laddr',) and err == errno.EEXIST:
        msg = "%s already exists%s" % (subject, where)
    elif op in ('del-laddr',) and err == errno.ENOENT:
        msg = "%s does not exist%s" % (subject, where)
    elif err == errno.EAFNOSUPPORT:
        msg = "%s: address family not supported by this kernel (IPv6 support in IPVS?)" % subject
    elif err == errno.ENOMEM:
        msg = "%s: the kernel is out of memory" % subject
    if msg is None:
        msg = "cannot %s %s%s: %s" % (_VERB.get(op, op.replace('-', ' ')), subject, where, os.strerror(err))
        if err == errno.EINVAL:
            msg += " (the kernel rejected a value)"
    if netlink_msg:
        msg += " [kernel: %s]" % netlink_msg
    return IpvsError(msg, errno=err)
