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

from ansible_collections.lvs.ipvs.plugins.module_utils._errors import IpvsError
from ansible_collections.lvs.ipvs.plugins.module_utils._options import OptionError

__metaclass__ = type

# Documented once, in the lvs.ipvs.common doc fragment.
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

    def client(self):
        if self._client is None:
            if platform.system() != 'Linux':
                self.fail("IPVS exists only on Linux; this host runs %s" % platform.system())
            # Imported here so that option errors are reported even where the
            # client could not load (it needs Linux netlink sockets).
            from ansible_collections.lvs.ipvs.plugins.module_utils._ipvs import IpvsClient
            try:
                self._client = IpvsClient(netns=self.params.get('netns'))
            except IpvsError as e:
                self.fail(str(e))
        return self._client

    def fail(self, msg, **kwargs):
        if self._client is not None:
            self._client.close()
        self.module.fail_json(msg=msg, **kwargs)

    def exit(self, **kwargs):
        if self._client is not None:
            self._client.close()
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
            self.fail(str(e))
        except Exception as e:  # pylint: disable=broad-except
            self.fail("unexpected error: %s" % e, exception=traceback.format_exc())
