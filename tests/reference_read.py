# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The whole table read the way the client read it before its fast path: the
reference the fast decoders are compared with, on the fake and on the real kernel."""

from ansible_collections.lvs.ipvs.plugins.module_utils import _ipvs as ipvs
from ansible_collections.lvs.ipvs.plugins.module_utils._model import FAMILIES
from ansible_collections.lvs.ipvs.plugins.module_utils._netlink import Request


def generic_table(client, with_stats=True):
    """table() the way it was read before the fast path: run() with one
    Request per dump and the generic decoders."""
    sock = client.sock
    reply = sock.run([Request(ipvs.CMD_GET_SERVICE, dump=True,
                              decode=lambda b, s, e: ipvs.decode_service(b, s, e, with_stats))])[0]
    assert not reply.error
    services = reply.messages
    reqs = [Request(ipvs.CMD_GET_DEST, ipvs.nested(ipvs.CMD_ATTR_SERVICE, *ipvs.encode_service_key(s.key)), dump=True,
                    decode=ipvs.make_dest_decoder(FAMILIES[s.family], with_stats)) for s in services]
    out = []
    for svc, r in zip(services, sock.run(reqs, barrier=False)):
        assert not r.error
        out.append((svc, r.messages))
    return out
