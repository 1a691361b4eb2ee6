"""Which job types exist, under which names, and which of them this server can run."""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from chive_admin._generated import ids
from chive_admin.backfill.job import Job


@dataclass(frozen=True)
class JobType:
    """One operation type under each of its names: the kebab-case type operations report, the camelCase name
    triggerBackfill takes, and the dedicated trigger method that starts it (``None`` for internal types)."""

    name: str
    trigger_name: str | None = None
    trigger_method: str | None = None


PDS_SCAN = JobType("pds-scan", "pdsScan", ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN)
DID_SYNC = JobType("did-sync", "didSync", ids.PUB_CHIVE_ADMIN_TRIGGER_DID_SYNC)
FRESHNESS_SCAN = JobType("freshness-scan", "freshnessScan", ids.PUB_CHIVE_ADMIN_TRIGGER_FRESHNESS_SCAN)
CITATION_EXTRACTION = JobType(
    "citation-extraction", "citationExtraction", ids.PUB_CHIVE_ADMIN_TRIGGER_CITATION_EXTRACTION
)
FULL_REINDEX = JobType("full-reindex", "fullReindex", ids.PUB_CHIVE_ADMIN_TRIGGER_FULL_REINDEX)
GOVERNANCE_SYNC = JobType("governance-sync", "governanceSync", ids.PUB_CHIVE_ADMIN_TRIGGER_GOVERNANCE_SYNC)
#: retries of dead-lettered items (retryDLQEntry, retryAllDLQ): no trigger of its own
DLQ_RETRY = JobType("dlq-retry")

#: every type the lexicons name, runnable here or not; this module stays light (the CLI imports it)
LEXICON_TYPES: tuple[JobType, ...] = (
    PDS_SCAN,
    DID_SYNC,
    FRESHNESS_SCAN,
    CITATION_EXTRACTION,
    FULL_REINDEX,
    GOVERNANCE_SYNC,
)
#: the dedicated trigger method of each lexicon type (triggerBackfill starts any of them too)
TRIGGER_METHODS: Mapping[str, str] = MappingProxyType(
    {kind.name: kind.trigger_method for kind in LEXICON_TYPES if kind.trigger_method is not None}
)


class PluginError(ValueError):
    """A ``--job-plugin`` value that does not name a job class."""


class JobRegistry:
    def __init__(self, jobs: Iterable[type[Job[Any, Any]]]) -> None:
        self._by_type: dict[str, type[Job[Any, Any]]] = {}
        self._names: dict[str, str] = {k.trigger_name: k.name for k in LEXICON_TYPES if k.trigger_name}
        for job in jobs:
            if job.type in self._by_type:
                raise ValueError(f"job type {job.type!r} registered twice")
            self._by_type[job.type] = job
            if job.trigger_name is None:
                continue
            known = self._names.get(job.trigger_name)
            if known is not None and known != job.type:
                raise ValueError(f"trigger name {job.trigger_name!r} already means {known!r}")
            self._names[job.trigger_name] = job.type

    def type_for(self, trigger_name: str) -> str | None:
        """The kebab-case type of a triggerBackfill name, runnable or not; ``None`` for a name nobody knows."""
        return self._names.get(trigger_name)

    def job(self, op_type: str) -> type[Job[Any, Any]] | None:
        return self._by_type.get(op_type)

    @property
    def runnable(self) -> frozenset[str]:
        return frozenset(self._by_type)

    def prepares(self, op_type: str) -> bool:
        """Whether queued ops of ``op_type`` have something to prepare (:meth:`Job.prepare`)."""
        job = self._by_type.get(op_type)
        return job is not None and job.prepares()

    @property
    def trigger_names(self) -> list[str]:
        return sorted(self._names)


def load_plugin(spec: str) -> type[Job[Any, Any]]:
    """``package.module:ClassName`` → the job class it names (an extension point; the tests use it)."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise PluginError(f"--job-plugin: {spec!r} is not module:Class")
    try:
        value = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise PluginError(f"--job-plugin: cannot load {spec!r} ({exc})") from None
    if not (isinstance(value, type) and issubclass(value, Job)):
        raise PluginError(f"--job-plugin: {spec!r} is not a job class")
    if not hasattr(value, "checkpoints"):  # its ops could never be resumed: refused before one is queued
        raise PluginError(f"--job-plugin: {spec!r} declares no checkpoint_model")
    return value


def build_registry(builtin: Iterable[type[Job[Any, Any]]], plugins: Iterable[str] = ()) -> JobRegistry:
    return JobRegistry([*builtin, *(load_plugin(spec) for spec in plugins)])
