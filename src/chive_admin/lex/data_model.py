"""The atproto data model, as a record's stored JSON: what orjson accepts is what the data model allows.

Checked where a record is read (the export reader process, a listing page), before it reaches the store.
"""

from __future__ import annotations

from typing import Any

import orjson


class NotInDataModel(ValueError):
    """A value JSON can carry but the atproto data model cannot: a string with a lone surrogate (strings are UTF-8)
    or an integer beyond 64 bits. A PDS's listing can send either; no repository can hold them, and SQLite, which
    takes UTF-8, could not store the first."""


def record_json(value: dict[str, Any]) -> str:
    """``value`` as the index stores it: compact JSON with sorted keys, so the same record always serialises the
    same and equality of stored values is meaningful. orjson refuses exactly what the data model cannot hold."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError as exc:
        raise NotInDataModel(f"record is not in the atproto data model: {exc}") from None
