"""Record validation: the lexicon, strictly, and then the atproto data model, which JSON does not enforce."""

from __future__ import annotations

from typing import Any

import pytest
from interop import records

from chive_admin.repo.validate import record_problem

EPRINT = "at://did:plc:alice0000000000000000000/pub.chive.eprint.submission/3kabc"


def comment(**extra: Any) -> dict[str, Any]:
    return {**records.review_comment(eprint_uri=EPRINT), **extra}


def test_a_valid_record_has_no_problem() -> None:
    assert record_problem(records.COMMENT, comment()) is None


def test_the_lexicon_is_checked_strictly() -> None:
    problem = record_problem(records.COMMENT, comment(schemaRevision="1"))
    assert problem is not None
    assert "schemaRevision" in problem
    assert record_problem(records.COMMENT, {**comment(), "$type": records.SUBMISSION}) is not None


@pytest.mark.parametrize(
    ("where", "bad", "said"),
    [
        ("a field of the lexicon", {"body": [records.text_item("half a pair: \ud800")]}, "surrogates"),
        ("an unknown field", {"futureField": {"note": "\udfff"}}, "surrogates"),
        ("an unknown field", {"futureField": [2**64]}, "64-bit"),
        ("an unknown field", {"futureField": -(2**70)}, "64-bit"),
    ],
)
def test_what_json_carries_but_the_data_model_cannot_is_a_problem(where: str, bad: dict[str, Any], said: str) -> None:
    # a listing is JSON: a PDS can send a lone surrogate or a 70-bit integer, which no repository can hold
    problem = record_problem(records.COMMENT, comment(**bad))
    assert problem is not None, where
    assert "atproto data model" in problem
    assert said in problem
