"""The handler of every implemented XRPC method, in one table.

A method of the lexicons that is missing here answers 501 MethodNotImplemented (after auth), never a placeholder.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from chive_admin.xrpc.call import Handler

# access control: roles, audit log
_ACCESS: dict[str, Handler] = {}

# backfill operations
_BACKFILL: dict[str, Handler] = {}

HANDLERS: Mapping[str, Handler] = MappingProxyType({**_ACCESS, **_BACKFILL})
