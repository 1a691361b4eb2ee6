"""Record validation against the lexicons: strict JSON types, and ``$type`` naming the collection."""

from __future__ import annotations

from typing import Any

from chive_admin.repo.validate import record_problem
from testnet import records

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
