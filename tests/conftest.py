# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Make this checkout importable as ansible_collections.lvs.ipvs.

The repository root is the collection root; Python (and Ansible) find a
collection only under an ansible_collections/<namespace>/<name> path, so a
symlink farm in the temporary directory provides one. `ansible-test units`, which
copies the collection into such a tree itself, needs none of this.
"""

import hashlib
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Outside the checkout, so that nothing walking the tree meets a symlink loop.
COLLECTIONS = os.path.join(tempfile.gettempdir(), 'lvs-ipvs-%s' % hashlib.sha1(ROOT.encode()).hexdigest()[:10])


def collection_path():
    link = os.path.join(COLLECTIONS, 'ansible_collections', 'lvs', 'ipvs')
    if not os.path.islink(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        try:
            os.symlink(ROOT, link)
        except FileExistsError:
            pass
    return COLLECTIONS


try:
    import ansible_collections.lvs.ipvs.plugins  # noqa: F401 pylint: disable=unused-import
except ImportError:
    sys.path.insert(0, collection_path())
# ansible-playbook runs started by the integration and fleet tests find this checkout as lvs.ipvs.
os.environ['ANSIBLE_COLLECTIONS_PATH'] = collection_path()
