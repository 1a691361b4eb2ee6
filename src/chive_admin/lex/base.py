"""Base classes of every generated lexicon model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler
from pydantic_core import PydanticCustomError, core_schema


class LexModel(BaseModel):
    """An object of a lexicon (a named def, an output, a record).

    Unknown keys are ignored rather than refused: records and objects written by newer clients may carry fields a
    lexicon revision added after ours, and the spec asks readers to tolerate them.
    """

    model_config = ConfigDict(
        extra="ignore",
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        frozen=False,
    )

    #: The lexicon ref of this def (``nsid#name``, or ``nsid`` for ``main``): what ``$type`` says in a union.
    LEX_TYPE: ClassVar[str] = ""

    def to_wire(self) -> dict[str, Any]:
        """The JSON object as it goes on the wire: camelCase keys, absent optionals left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class LexStrictModel(LexModel):
    """The top level of what a client sends (query params, procedure input): unknown keys are refused.

    In an admin tool a misspelt field (``stauts``) must fail loudly instead of silently meaning "no filter".
    """

    model_config = ConfigDict(extra="forbid")


class CidLink(LexModel):
    """A ``cid-link``: ``{"$link": "<cid>"}``."""

    link: str = Field(alias="$link")


class Bytes(LexModel):
    """A ``bytes`` value in JSON: ``{"$bytes": "<base64>"}``."""

    bytes_: str = Field(alias="$bytes")


class BlobRef(LexModel):
    """A ``blob`` reference: ``{"$type": "blob", "ref": {"$link": cid}, "mimeType": …, "size": …}``."""

    lex_type: str = Field(default="blob", alias="$type")
    ref: CidLink
    mime_type: str = Field(alias="mimeType")
    size: int = Field(ge=0)


@dataclass(frozen=True)
class BlobLimits:
    """A blob field's ``accept`` (MIME patterns such as ``image/*``) and ``maxSize`` (bytes)."""

    accept: tuple[str, ...] | None = None
    max_size: int | float | None = None

    def check(self, blob: BlobRef) -> BlobRef:
        if self.max_size is not None and blob.size > self.max_size:
            raise PydanticCustomError(
                "blob_too_large", "blob is {size} bytes, more than {max}", {"size": blob.size, "max": self.max_size}
            )
        if self.accept is not None and not any(_mime_matches(p, blob.mime_type) for p in self.accept):
            raise PydanticCustomError("blob_type", "blob type {mime} is not accepted here", {"mime": blob.mime_type})
        return blob

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))


def _mime_matches(pattern: str, mime: str) -> bool:
    if pattern in ("*/*", "*"):
        return True
    if pattern.endswith("/*"):
        return mime.split("/", 1)[0] == pattern[:-2]
    return mime.split(";", 1)[0].strip().lower() == pattern.lower()


class UnknownUnionMember(LexModel):
    """A member of an open union whose ``$type`` this lexicon set does not know; kept, not refused."""

    model_config = ConfigDict(extra="allow")

    lex_type: str = Field(alias="$type")
