"""Base classes of every generated lexicon model."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field


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


class UnknownUnionMember(LexModel):
    """A member of an open union whose ``$type`` this lexicon set does not know; kept, not refused."""

    model_config = ConfigDict(extra="allow")

    lex_type: str = Field(alias="$type")
