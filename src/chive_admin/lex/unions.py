"""Discrimination of lexicon unions by ``$type``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import Discriminator

UNKNOWN_TAG = "__unknown__"


def union_discriminator(tags: frozenset[str], *, closed: bool) -> Discriminator:
    """Pick the union member named by ``$type``; an open union keeps an unknown ``$type`` as is."""

    def pick(value: Any) -> str | None:
        if isinstance(value, dict):
            tag = value.get("$type")
        else:
            tag = getattr(value, "LEX_TYPE", None) or getattr(value, "lex_type", None)
        if isinstance(tag, str) and tag in tags:
            return tag
        if not closed and isinstance(tag, str) and tag:
            return UNKNOWN_TAG
        return None

    fn: Callable[[Any], str | None] = pick
    return Discriminator(fn, custom_error_type="lexicon_union_tag", custom_error_message="unknown or missing $type")
