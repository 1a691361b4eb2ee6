"""The base classes of every generated model: objects tolerate fields a newer lexicon added, what a client sends does
not; the atproto JSON shapes (cid-link, bytes, blob) by their wire names; blob fields enforce accept and maxSize."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import BaseModel, Field, ValidationError

from chive_admin.lex import BlobLimits, BlobRef, Bytes, CidLink, LexModel, LexStrictModel, UnknownUnionMember

CID = "bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy"


def blob(mime: str, size: int) -> dict[str, object]:
    return {"$type": "blob", "ref": {"$link": CID}, "mimeType": mime, "size": size}


class Item(LexModel):
    display_name: str = Field(alias="displayName")
    note: str | None = None


class Sent(LexStrictModel):
    display_name: str = Field(alias="displayName")


def test_an_object_ignores_fields_it_does_not_know() -> None:
    item = Item.model_validate({"displayName": "x", "addedLater": 1})
    assert item.to_wire() == {"displayName": "x"}  # the unknown field is not kept, the absent optional left out


def test_an_object_is_made_by_python_or_wire_names_and_goes_out_by_wire_names() -> None:
    assert Item(display_name="x") == Item.model_validate({"displayName": "x"})
    assert Item(display_name="x", note="n").model_dump() == {"displayName": "x", "note": "n"}


def test_what_a_client_sends_refuses_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="extra"):
        Sent.model_validate({"displayName": "x", "stauts": "running"})


def test_the_atproto_json_shapes_by_their_wire_names() -> None:
    assert CidLink.model_validate({"$link": CID}).link == CID
    assert Bytes.model_validate({"$bytes": "AAE="}).to_wire() == {"$bytes": "AAE="}
    ref = BlobRef.model_validate(blob("application/pdf", 10))
    assert (ref.lex_type, ref.ref.link, ref.mime_type, ref.size) == ("blob", CID, "application/pdf", 10)
    assert ref.to_wire() == blob("application/pdf", 10)
    with pytest.raises(ValidationError):
        BlobRef.model_validate(blob("application/pdf", -1))


def test_an_unknown_union_member_keeps_everything_it_carries() -> None:
    member = UnknownUnionMember.model_validate({"$type": "com.example.new#thing", "a": 1, "b": [2]})
    assert member.to_wire() == {"$type": "com.example.new#thing", "a": 1, "b": [2]}


def test_blob_limits() -> None:
    class Limited(BaseModel):
        any_image: Annotated[BlobRef, BlobLimits(accept=("image/*",), max_size=1000)]
        exact: Annotated[BlobRef, BlobLimits(accept=("application/pdf",))]
        anything: Annotated[BlobRef, BlobLimits(accept=("*/*",))] | None = None

    ok = Limited.model_validate({"any_image": blob("image/png", 1000), "exact": blob("Application/PDF", 10**9)})
    assert ok.any_image.size == 1000
    with pytest.raises(ValidationError, match="more than 1000"):
        Limited.model_validate({"any_image": blob("image/png", 1001), "exact": blob("application/pdf", 1)})
    with pytest.raises(ValidationError, match="not accepted"):
        Limited.model_validate({"any_image": blob("text/html", 1), "exact": blob("application/pdf", 1)})
    with pytest.raises(ValidationError, match="not accepted"):
        Limited.model_validate({"any_image": blob("image/gif", 1), "exact": blob("application/pdfx", 1)})
    with_params = Limited.model_validate(
        {"any_image": blob("image/png", 1), "exact": blob("application/pdf; charset=binary", 1)}
    )
    assert with_params.exact.mime_type.startswith("application/pdf")
    any_type = {"any_image": blob("image/png", 1), "exact": blob("application/pdf", 1), "anything": blob("x/y", 1)}
    assert Limited.model_validate(any_type).anything is not None


def test_generated_submission_document_is_limited() -> None:
    from chive_admin._generated.models.pub.chive.eprint import submission

    field = submission.Record.model_fields["document"]
    assert any(isinstance(m, BlobLimits) for m in field.metadata)
