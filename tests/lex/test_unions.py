"""Unions by ``$type``: a known member is its model; in an open union an unknown ``$type`` is kept as it came, in a
closed one it is refused; no ``$type`` at all is refused either way."""

from __future__ import annotations

from typing import Annotated, ClassVar

import pytest
from pydantic import BaseModel, Tag, ValidationError

from chive_admin.lex import LexModel, UnknownUnionMember, union_discriminator
from chive_admin.lex.unions import UNKNOWN_TAG

TAGS = frozenset({"com.example.defs#text", "com.example.defs#link"})


class Text(LexModel):
    LEX_TYPE: ClassVar[str] = "com.example.defs#text"
    content: str


class Link(LexModel):
    LEX_TYPE: ClassVar[str] = "com.example.defs#link"
    uri: str


Member = Annotated[Text, Tag("com.example.defs#text")] | Annotated[Link, Tag("com.example.defs#link")]


class Open(BaseModel):
    items: list[
        Annotated[Member | Annotated[UnknownUnionMember, Tag(UNKNOWN_TAG)], union_discriminator(TAGS, closed=False)]
    ]


class Closed(BaseModel):
    item: Annotated[Member, union_discriminator(TAGS, closed=True)]


def test_a_known_type_is_its_member_whichever_the_union() -> None:
    opened = Open.model_validate({"items": [{"$type": "com.example.defs#link", "uri": "https://x"}]})
    assert opened.items == [Link(uri="https://x")]
    closed = Closed.model_validate({"item": {"$type": "com.example.defs#text", "content": "hi"}})
    assert closed.item == Text(content="hi")


def test_a_model_instance_is_picked_by_its_lexicon_type() -> None:
    assert Closed(item=Text(content="hi")).item == Text(content="hi")
    assert Open(items=[Link(uri="https://x")]).items == [Link(uri="https://x")]


def test_an_open_union_keeps_an_unknown_type_as_it_came() -> None:
    newer = {"$type": "com.example.defs#video", "src": "v.mp4"}
    [kept] = Open.model_validate({"items": [newer]}).items
    assert isinstance(kept, UnknownUnionMember)
    assert kept.to_wire() == newer


@pytest.mark.parametrize("value", [{"$type": "com.example.defs#video"}, {"content": "no type"}, {"$type": 5}])
def test_a_closed_union_refuses_what_it_does_not_name(value: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match=r"unknown or missing \$type"):
        Closed.model_validate({"item": value})


@pytest.mark.parametrize("value", [{"content": "no type"}, {"$type": ""}, "text"])
def test_an_open_union_still_needs_a_type(value: object) -> None:
    with pytest.raises(ValidationError, match=r"unknown or missing \$type"):
        Open.model_validate({"items": [value]})
