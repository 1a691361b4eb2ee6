"""What each job type stores, read back typed: every checkpoint and dead-letter item as the previous version stored
it (string-keyed JSON) is read by the job's model and stored again as the same JSON."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest
from pydantic import Field, ValidationError

from chive_admin.backfill.context import JobContext
from chive_admin.backfill.job import Job, JobFailed, JobParams, JobServices, RetryFailed
from chive_admin.backfill.job_types import JobType
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


class ScanParams(JobParams):
    pds_url: str | None = Field(default=None, alias="pdsUrl")
    batch_size: int = Field(default=10, alias="batchSize")


class Scan(Job[ScanParams, None]):
    kind = JobType("example-scan", "exampleScan")
    params_model = ScanParams
    checkpoint_model = None
    stages = ("scanning",)

    async def run(self, ctx: JobContext[None], params: ScanParams) -> None:
        raise AssertionError("not run here")


def test_params_compare_in_their_wire_form() -> None:
    by_alias = ScanParams.model_validate({"pdsUrl": "https://a", "batchSize": 5})
    by_name = ScanParams.model_validate({"pds_url": "https://a", "batch_size": 5})
    assert by_alias.normalised() == by_name.normalised() == {"pdsUrl": "https://a", "batchSize": 5}
    # an absent optional is not part of what makes two triggers the same operation; a default is
    assert ScanParams.model_validate({}).normalised() == {"batchSize": 10}


def test_params_refuse_unknown_fields_and_do_not_change() -> None:
    with pytest.raises(ValidationError, match="did"):
        ScanParams.model_validate({"did": "did:plc:abc"})
    params = ScanParams.model_validate({})
    with pytest.raises(ValidationError):
        params.batch_size = 11  # type: ignore[misc]


def test_a_job_takes_its_names_from_its_kind() -> None:
    assert (Scan.type, Scan.trigger_name) == ("example-scan", "exampleScan")


def test_a_failure_carries_a_stable_code_and_safe_context() -> None:
    failed = JobFailed("pds_unreachable", "cannot list https://a", {"host": "https://a"})
    assert (failed.code, failed.message, failed.context, str(failed)) == (
        "pds_unreachable",
        "cannot list https://a",
        {"host": "https://a"},
        "cannot list https://a",
    )
    assert JobFailed("x", "y").context == {}


async def test_what_a_job_need_not_write() -> None:
    services = cast(JobServices, SimpleNamespace())
    ctx = cast(JobContext[None], SimpleNamespace())
    assert await Scan.admit(ScanParams.model_validate({}), services) is None  # every valid params runs
    assert await Scan().on_cancel(ctx) is None  # nothing to undo
    item: Any = {"uri": "at://x"}
    with pytest.raises(RetryFailed, match="example-scan items cannot be retried one by one"):
        await Scan().retry_item(ctx, item)
