"""String length constraints as the Lexicon spec counts them.

``maxLength``/``minLength`` of a string count UTF-8 bytes, and ``maxGraphemes``/``minGraphemes`` count extended
grapheme clusters; neither is what ``len()`` returns, so pydantic's own ``max_length`` would be wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import regex
from pydantic import GetCoreSchemaHandler
from pydantic_core import PydanticCustomError, core_schema

_GRAPHEME = regex.compile(r"\X")


def grapheme_count(value: str) -> int:
    if value.isascii():
        # in ASCII every character is its own cluster except CR LF (UAX #29 GB3); the regex is slow per character
        return len(value) - value.count("\r\n")
    return len(_GRAPHEME.findall(value))


@dataclass(frozen=True)
class Utf8Length:
    """Bounds on the UTF-8 byte length of a string."""

    min: int | None = None
    max: int | None = None

    def check(self, value: str) -> str:
        size = len(value.encode("utf-8", "surrogatepass"))
        if self.max is not None and size > self.max:
            raise PydanticCustomError(
                "string_too_long",
                "must be at most {max} bytes of UTF-8 (got {size})",
                {"max": self.max, "size": size},
            )
        if self.min is not None and size < self.min:
            raise PydanticCustomError(
                "string_too_short",
                "must be at least {min} bytes of UTF-8 (got {size})",
                {"min": self.min, "size": size},
            )
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))


@dataclass(frozen=True)
class Graphemes:
    """Bounds on the number of grapheme clusters of a string."""

    min: int | None = None
    max: int | None = None

    def check(self, value: str) -> str:
        if self.min is None and self.max is not None and len(value) <= self.max:
            return value  # a cluster holds at least one code point: the count cannot exceed len()
        count = grapheme_count(value)
        if self.max is not None and count > self.max:
            raise PydanticCustomError(
                "string_too_long",
                "must be at most {max} graphemes (got {count})",
                {"max": self.max, "count": count},
            )
        if self.min is not None and count < self.min:
            raise PydanticCustomError(
                "string_too_short",
                "must be at least {min} graphemes (got {count})",
                {"min": self.min, "count": count},
            )
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))
