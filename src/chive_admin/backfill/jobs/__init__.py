"""The job types this server runs, one module each. A lexicon type missing here is not runnable: its triggers
answer 501 MethodNotImplemented."""

from __future__ import annotations

from typing import Any

from chive_admin.backfill.job import Job
from chive_admin.backfill.jobs.citation_extraction import CitationExtraction
from chive_admin.backfill.jobs.did_sync import DidSync
from chive_admin.backfill.jobs.dlq_retry import DlqRetry
from chive_admin.backfill.jobs.freshness_scan import FreshnessScan
from chive_admin.backfill.jobs.full_reindex import FullReindex
from chive_admin.backfill.jobs.governance_sync import GovernanceSync
from chive_admin.backfill.jobs.pds_scan import PdsScan

BUILTIN_JOBS: tuple[type[Job[Any]], ...] = (
    PdsScan,
    DidSync,
    FreshnessScan,
    FullReindex,
    GovernanceSync,
    CitationExtraction,
    DlqRetry,
)
