"""Record validation against the lexicons: strict JSON types, and ``$type`` naming the collection."""

from __future__ import annotations

from typing import Any

from chive_admin.repo.validate import is_indexed, record_problem
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


def test_profiles_endorsements_and_user_tags_are_indexed_and_checked() -> None:
    # getOverview counts these: every ingest path (listing, export, firehose) keeps what is_indexed accepts and
    # record_problem passes
    good = {
        records.PROFILE: records.actor_profile(),
        records.ENDORSEMENT: records.review_endorsement(eprint_uri=EPRINT),
        records.USER_TAG: records.user_tag(eprint_uri=EPRINT),
    }
    for collection, value in good.items():
        assert is_indexed(collection)
        assert record_problem(collection, value) is None
    assert record_problem(records.PROFILE, {**good[records.PROFILE], "displayName": 7}) is not None
    assert record_problem(records.ENDORSEMENT, {**good[records.ENDORSEMENT], "contributions": "data"}) is not None
    no_date = {k: v for k, v in good[records.USER_TAG].items() if k != "createdAt"}
    assert record_problem(records.USER_TAG, no_date) is not None
