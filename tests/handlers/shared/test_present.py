"""An optional field with no value is left out of the answer, and what is present is still validated."""

from __future__ import annotations

import pydantic
import pytest

from chive_admin._generated.models.pub.chive.admin import list_warnings as api
from chive_admin.handlers.shared.present import present


def test_a_field_without_a_value_is_omitted_not_null() -> None:
    warning = present(
        api.WarningDef,
        id="1",
        did="did:plc:abc",
        handle=None,
        reason="spam",
        issuedBy="did:plc:admin",
        createdAt="2026-12-06T00:00:00.000Z",
        expiresAt=None,
    )
    dumped = warning.model_dump(by_alias=True, exclude_unset=True)
    assert "handle" not in dumped
    assert "expiresAt" not in dumped
    assert dumped["issuedBy"] == "did:plc:admin"


def test_a_value_that_breaks_the_lexicon_is_refused() -> None:
    with pytest.raises(pydantic.ValidationError):
        present(api.WarningDef, id="1", did="not a did", reason="spam", issuedBy="did:plc:a", createdAt="x")
