"""What each job type stores, read back typed: every checkpoint and dead-letter item as the previous version stored
it (string-keyed JSON) is read by the job's model and stored again as the same JSON."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from chive_admin.backfill.job import Job, RetryFailed
from chive_admin.backfill.jobs.citation_extraction import CitationExtraction
from chive_admin.backfill.jobs.did_sync import DidSync
from chive_admin.backfill.jobs.dlq_retry import DlqRetry
from chive_admin.backfill.jobs.freshness_scan import FreshnessScan
from chive_admin.backfill.jobs.full_reindex import FullReindex
from chive_admin.backfill.jobs.governance_sync import GovernanceSync
from chive_admin.backfill.jobs.pds_scan import PdsScan

DID = "did:plc:author000000000000000000"
URI = f"at://{DID}/pub.chive.eprint.submission/e1"
PDS = "https://pds.example"

CHECKPOINTS: list[tuple[type[Job[Any, Any]], Any]] = [
    (PdsScan, {"phase": "discovering", "host": 0, "cursor": None, "listed": 0}),
    (PdsScan, {"phase": "discovering", "host": 2, "cursor": "3kabc", "listed": 1000}),
    (PdsScan, {"phase": "fetching"}),
    (DidSync, None),
    (GovernanceSync, None),
    (FreshnessScan, {"before": "2026-01-01T00:00:00.000000Z", "after": ""}),
    (FreshnessScan, {"before": "2026-01-01T00:00:00.000000Z", "after": DID}),
    (CitationExtraction, {"after": ""}),
    (CitationExtraction, {"after": URI}),
    (FullReindex, {"after": URI}),
    (DlqRetry, {"ids": [3, 5, 8], "next": 1}),
]

ITEMS: list[tuple[type[Job[Any, Any]], dict[str, Any]]] = [
    (PdsScan, {"kind": "record", "uri": URI, "pds": PDS}),
    (PdsScan, {"kind": "repo", "did": DID, "pds": PDS}),
    (PdsScan, {"kind": "pds", "pdsUrl": PDS}),
    (DidSync, {"kind": "record", "uri": URI, "pds": PDS}),
    (FreshnessScan, {"kind": "record", "uri": URI, "pds": PDS}),
    (FreshnessScan, {"kind": "repo", "did": DID}),
    (CitationExtraction, {"kind": "eprint", "uri": URI}),
]


@pytest.mark.parametrize(("job", "stored"), CHECKPOINTS)
def test_a_stored_checkpoint_reads_back_and_is_stored_the_same(job: type[Job[Any, Any]], stored: Any) -> None:
    checkpoint = job.checkpoints.validate_python(stored)
    assert job.checkpoints.dump_python(checkpoint, mode="json") == stored


@pytest.mark.parametrize(
    ("job", "stored"),
    [
        (PdsScan, {"phase": "listing"}),
        (PdsScan, {"phase": "discovering", "host": "first"}),
        (FullReindex, {"after": "x", "before": "y"}),  # a key the model does not declare: not its checkpoint
        (DlqRetry, {"next": 1}),
        (DidSync, {"after": ""}),
    ],
)
def test_a_checkpoint_that_is_not_the_jobs_is_refused(job: type[Job[Any, Any]], stored: Any) -> None:
    with pytest.raises(ValidationError):
        job.checkpoints.validate_python(stored)


@pytest.mark.parametrize(("job", "stored"), ITEMS)
def test_a_stored_item_reads_back_and_is_stored_the_same(job: type[Job[Any, Any]], stored: dict[str, Any]) -> None:
    assert job.read_item(stored).to_json() == stored


def test_an_item_that_is_not_the_jobs_is_refused_as_its_retry_would() -> None:
    with pytest.raises(RetryFailed, match=r"^not a did-sync item: "):
        DidSync.read_item({"kind": "repo", "did": DID, "pds": PDS})
    with pytest.raises(RetryFailed, match=r"^not a pds-scan item: "):
        PdsScan.read_item({"kind": "eprint", "uri": URI})
    for job in (FullReindex, GovernanceSync, DlqRetry):
        with pytest.raises(RetryFailed, match=f"^{job.type} items cannot be retried one by one$"):
            job.read_item({"kind": "record", "uri": URI, "pds": PDS})
