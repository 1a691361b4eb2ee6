"""Query parameters: strings on the wire, coerced by the lexicon type of each parameter.

Coercion is explicit rather than pydantic's lax mode: ``limit=1.0`` or ``limit= 5`` are not integers on the wire,
and ``flag=yes`` is not a boolean; each is a 400 that names the parameter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from chive_admin.lex import LexStrictModel, ParamKind, ParamSpec
from chive_admin.xrpc.errors import XRPCError
from chive_admin.xrpc.validation import validate

_INTEGER = re.compile(r"-?[0-9]{1,18}")
#: a row id: ASCII digits only (``str.isdigit`` also accepts "²" and "٣", which ``int`` then refuses), within int64
_ID_CURSOR = re.compile(r"[0-9]{1,18}")
#: an offset: ASCII digits, at most nine (a billion rows in is no page anyone reads)
_OFFSET_CURSOR = re.compile(r"[0-9]{1,9}")
_MAX_VALUES = 100


def _coerce(name: str, kind: ParamKind, raw: str) -> object:
    if kind is ParamKind.INTEGER:
        if not _INTEGER.fullmatch(raw):
            raise XRPCError.invalid_request(f"Invalid params: {name}: expected an integer")
        return int(raw)
    if kind is ParamKind.BOOLEAN:
        if raw not in ("true", "false"):
            raise XRPCError.invalid_request(f"Invalid params: {name}: expected true or false")
        return raw == "true"
    return raw


def id_cursor(raw: str | None) -> int | None:
    """The row id a cursor names (``None``: the first page); 400 for anything but 1-18 ASCII digits."""
    if raw is None:
        return None
    if not _ID_CURSOR.fullmatch(raw):
        raise XRPCError.invalid_request("Invalid cursor")
    return int(raw)


def offset_cursor(raw: str | None) -> int:
    """The offset a cursor names (0: the first page); 400 for anything but 1-9 ASCII digits."""
    if raw is None:
        return 0
    if not _OFFSET_CURSOR.fullmatch(raw):
        raise XRPCError.invalid_request("Invalid cursor: expected a decimal offset")
    return int(raw)


def parse_params(
    items: Iterable[tuple[str, str]], specs: Mapping[str, ParamSpec], model: type[LexStrictModel]
) -> LexStrictModel:
    values: dict[str, object] = {}
    for name, raw in items:
        spec = specs.get(name)
        if spec is None:
            raise XRPCError.invalid_request(f"Invalid params: unknown parameter {name[:64]!r}")
        value = _coerce(name, spec.kind, raw)
        if spec.is_array:
            bucket = values.setdefault(name, [])
            assert isinstance(bucket, list)
            if len(bucket) >= _MAX_VALUES:
                raise XRPCError.invalid_request(f"Invalid params: {name}: more than {_MAX_VALUES} values")
            bucket.append(value)
        elif name in values:
            raise XRPCError.invalid_request(f"Invalid params: {name}: given more than once")
        else:
            values[name] = value
    return validate(model, values, what="params")
