"""Blob fields enforce their lexicon's ``accept`` and ``maxSize``."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from chive_admin.lex import BlobLimits, BlobRef


def blob(mime: str, size: int) -> dict[str, object]:
    return {
        "$type": "blob",
        "ref": {"$link": "bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy"},
        "mimeType": mime,
        "size": size,
    }


def test_limits() -> None:
    from typing import Annotated

    class Limited(BaseModel):
        any_image: Annotated[BlobRef, BlobLimits(accept=("image/*",), max_size=1000)]
        exact: Annotated[BlobRef, BlobLimits(accept=("application/pdf",))]

    ok = Limited.model_validate({"any_image": blob("image/png", 1000), "exact": blob("application/pdf", 10**9)})
    assert ok.any_image.size == 1000
    with pytest.raises(ValidationError, match="more than 1000"):
        Limited.model_validate({"any_image": blob("image/png", 1001), "exact": blob("application/pdf", 1)})
    with pytest.raises(ValidationError, match="not accepted"):
        Limited.model_validate({"any_image": blob("text/html", 1), "exact": blob("application/pdf", 1)})
    with pytest.raises(ValidationError, match="not accepted"):
        Limited.model_validate({"any_image": blob("image/gif", 1), "exact": blob("application/pdfx", 1)})


def test_generated_submission_document_is_limited() -> None:
    from chive_admin._generated.models.pub.chive.eprint import submission

    field = submission.Record.model_fields["document"]
    assert any(isinstance(m, BlobLimits) for m in field.metadata)
