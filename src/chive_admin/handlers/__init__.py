"""The handler of every implemented XRPC method, in one table.

A method of the lexicons that is missing here answers 501 MethodNotImplemented (after auth), never a placeholder.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from chive_admin._generated import ids
from chive_admin.handlers.admin import get_node_metrics, get_system_health, list_pdses
from chive_admin.xrpc.call import Handler

# access control: roles, audit log
_ACCESS: dict[str, Handler] = {}

# backfill operations
_BACKFILL: dict[str, Handler] = {}

# the record index
_INDEX: dict[str, Handler] = {
    ids.PUB_CHIVE_ADMIN_LIST_PDSES: list_pdses.handle,
}

# health of the server itself
_HEALTH: dict[str, Handler] = {
    ids.PUB_CHIVE_ADMIN_GET_SYSTEM_HEALTH: get_system_health.handle,
    ids.PUB_CHIVE_ADMIN_GET_NODE_METRICS: get_node_metrics.handle,
}

HANDLERS: Mapping[str, Handler] = MappingProxyType({**_ACCESS, **_BACKFILL, **_INDEX, **_HEALTH})
