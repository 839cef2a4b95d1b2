# -*- coding: utf-8 -*-
# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This is a private module_util of lvs.ipvs: it may change without notice.
"""What every lvs.ipvs module shares: the common options, the client's life
cycle, and turning client errors into one fail_json."""

from __future__ import absolute_import, division, print_function

import platform
import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lvs.ipvs.plugins.module_utils._errors import ApplyError, IpvsError, NotLoaded
from ansible_collections.lvs.ipvs.plugins.module_utils._options import OptionError

__metaclass__ = type

# Documented once, in the lvs.ipvs._common doc fragment.
MODPROBE_TIMEOUT = 30

COMMON_ARGS = dict(
    netns=dict(type='str'),
)


class IpvsModule:
    """An AnsibleModule with the common options and an IPVS client on demand."""

    def __init__(self, argument_spec, **kwargs):
        spec = dict(COMMON_ARGS)
        spec.update(argument_spec)
        kwargs.setdefault('supports_check_mode', True)
        self.module = AnsibleModule(argument_spec=spec, **kwargs)
        self.params = self.module.params
        self.check_mode = self.module.check_mode
        self._client = None
        self._invocation = None

    def client(self):
        if self._client is None:
            if platform.system() != 'Linux':
                self.fail("IPVS exists only on Linux; this host runs %s" % platform.system())
            # Imported here so that option errors are reported even where the
            # client could not load (it needs Linux netlink sockets).
            from ansible_collections.lvs.ipvs.plugins.module_utils import _ipvs
            netns = self.params.get('netns')
            try:
                self._client = _ipvs.IpvsClient(netns=netns, modprobe=None if self.check_mode else self.modprobe)
            except NotLoaded:
                self.module.warn("check mode: the ip_vs kernel module is not loaded; a real run loads it "
                                 "(modprobe ip_vs), so this prediction starts from an empty IPVS table")
                self._client = _ipvs.UnloadedIpvs(netns)
            except IpvsError as e:
                self.fail(str(e))
        return self._client

    def loaded_client(self):
        """The client where IPVS is there already (nothing to load, no root
        needed to find it), or None: for reads that may come before the
        options are checked, which must not load anything."""
        if self._client is None and platform.system() == 'Linux':
            from ansible_collections.lvs.ipvs.plugins.module_utils import _ipvs
            try:
                self._client = _ipvs.IpvsClient(netns=self.params.get('netns'), modprobe=None)
            except IpvsError:
                return None
        return self._client

    def modprobe(self, name):
        """Load kernel module `name` with the target's modprobe, bounded in time."""
        exe = self.module.get_bin_path('modprobe', opt_dirs=['/sbin', '/usr/sbin'])
        if exe is None:
            return False
        timeout = self.module.get_bin_path('timeout')
        cmd = ([timeout, str(MODPROBE_TIMEOUT)] if timeout else []) + [exe, '-q', name]
        rc, _out, _err = self.module.run_command(cmd)
        return rc == 0

    def echo_args(self, **replaced):
        """Show these values in the result's invocation instead of the ones given."""
        self._invocation = dict(module_args=dict(self.params, **replaced))

    def fail(self, msg, **kwargs):
        """Fail the task. Writes the kernel already carried out make it a change,
        and the result says which ones, and which failed."""
        client, self._client = self._client, None
        applied = list(client.applied) if client is not None else []
        uncertain = client is not None and getattr(client, 'uncertain', False)
        if client is not None:
            client.close()
        error = kwargs.pop('error', None)
        if applied or uncertain:
            kwargs['changed'] = True
            kwargs['applied'] = [op.describe() for op in applied]
        if isinstance(error, ApplyError):
            kwargs['not_applied'] = [dict(change=op.describe(), error=str(e)) for op, e in error.failed]
            if getattr(error, 'not_undone', None):
                kwargs['not_undone'] = [dict(change=op.describe(), error=str(e)) for op, e in error.not_undone]
        if self._invocation is not None:
            kwargs.setdefault('invocation', self._invocation)
        self.module.fail_json(msg=msg, **kwargs)

    def exit(self, **kwargs):
        if self._client is not None:
            self._client.close()
        if self._invocation is not None:
            kwargs.setdefault('invocation', self._invocation)
        self.module.exit_json(**kwargs)

    def finish(self, changed, before=None, after=None, **result):
        """Exit with `changed`, the diff when --diff asked for it, and the result keys."""
        if self.module._diff:
            result['diff'] = dict(before=before if before is not None else {},
                                  after=after if after is not None else {})
        self.exit(changed=changed, **result)

    def run(self, func):
        """Call func(self); IpvsError and OptionError (a bad option) become a
        clean failure, anything else one that carries the traceback for a bug report."""
        try:
            func(self)
        except (IpvsError, OptionError) as e:
            self.fail(str(e), error=e)
        except Exception as e:  # pylint: disable=broad-except
            self.fail("unexpected error: %s" % e, exception=traceback.format_exc())
