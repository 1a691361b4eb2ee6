"""Validation of records pulled from the network against the project's record lexicons."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Final

from pydantic import ValidationError

from chive_admin._generated.catalog import RECORDS
from chive_admin.lex import LexModel
from chive_admin.lex.validation import describe

#: collections this index keeps: every ``pub.chive.*`` record type the lexicons define
CHIVE_PREFIX: Final = "pub.chive."
INDEXED: Final[MappingProxyType[str, type[LexModel]]] = MappingProxyType(
    {nsid: model for nsid, model in RECORDS.items() if nsid.startswith(CHIVE_PREFIX)}
)


def is_indexed(collection: str) -> bool:
    return collection in INDEXED


def record_problem(collection: str, value: Any) -> str | None:
    """Why ``value`` is not a valid record of ``collection``, or ``None`` when it is.

    Strict: JSON types must be the lexicon's (no ``"2"`` for an integer), and ``$type`` must name the collection,
    as the repository spec requires. A record written against an older revision that fails this goes to the
    dead-letter queue, not into the index, where it would be served as if it were valid.
    """
    model = INDEXED.get(collection)
    if model is None:
        return f"no lexicon for collection {collection}"
    if not isinstance(value, dict):
        return "record is not a JSON object"
    if value.get("$type") != collection:
        return f"$type is {value.get('$type')!r}, expected {collection}"
    try:
        model.model_validate(value, strict=True, by_alias=True, by_name=False)
    except ValidationError as exc:
        return describe(exc, what="record")
    return None
