"""Loading a job class named by ``--job-plugin``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.jobs import CountItems, CountParams
from support.server import ServerProcess

from chive_admin._generated import ids
from chive_admin._generated.catalog import ROUTES
from chive_admin.backfill import job_types
from chive_admin.backfill.context import JobContext
from chive_admin.backfill.job import Job
from chive_admin.backfill.job_types import (
    LEXICON_TYPES,
    TRIGGER_METHODS,
    JobRegistry,
    JobType,
    PluginError,
    build_registry,
    load_plugin,
)
from chive_admin.backfill.jobs import BUILTIN_JOBS


class Positionless(Job[CountParams, Any]):
    """A job class that forgot its checkpoint model."""

    type = "test-positionless"
    trigger_name = None
    params_model = CountParams
    stages = ("counting",)

    async def run(self, ctx: JobContext[Any], params: CountParams) -> None:
        pass


def test_a_job_class_is_loaded_by_its_module_and_name() -> None:
    assert load_plugin("support.jobs:CountItems") is CountItems


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("support.jobs", "is not module:Class"),
        ("support.nowhere:CountItems", "cannot load"),
        ("support.jobs:CountParams", "is not a job class"),
        (f"{__name__}:Positionless", "declares no checkpoint_model"),
    ],
)
def test_what_names_no_usable_job_class_is_refused(spec: str, problem: str) -> None:
    with pytest.raises(PluginError, match=problem):
        load_plugin(spec)


def test_each_lexicon_type_names_its_trigger_method_and_triggerbackfill_name() -> None:
    assert [(kind.name, kind.trigger_name) for kind in LEXICON_TYPES] == [
        ("pds-scan", "pdsScan"),
        ("did-sync", "didSync"),
        ("freshness-scan", "freshnessScan"),
        ("citation-extraction", "citationExtraction"),
        ("full-reindex", "fullReindex"),
        ("governance-sync", "governanceSync"),
    ]
    assert {kind.name: kind.trigger_method for kind in LEXICON_TYPES} == TRIGGER_METHODS
    assert TRIGGER_METHODS["did-sync"] == ids.PUB_CHIVE_ADMIN_TRIGGER_DID_SYNC
    # each trigger method is a procedure the server routes
    assert {ROUTES[nsid].kind for nsid in TRIGGER_METHODS.values()} == {"procedure"}
    # the internal type: no triggerBackfill name, no trigger method of its own
    assert (job_types.DLQ_RETRY.trigger_name, job_types.DLQ_RETRY.trigger_method) == (None, None)


def test_every_lexicon_type_has_a_builtin_job_that_takes_its_names_from_its_kind() -> None:
    registry = JobRegistry(BUILTIN_JOBS)
    assert registry.runnable == {kind.name for kind in LEXICON_TYPES} | {"dlq-retry"}
    for job in BUILTIN_JOBS:
        assert (job.type, job.trigger_name) == (job.kind.name, job.kind.trigger_name)
        assert job.stages, job.type  # every job reports its progress in declared stages


def test_the_registry_knows_lexicon_names_it_cannot_run() -> None:
    registry = JobRegistry([CountItems])
    assert registry.runnable == frozenset({"test-count"})
    assert registry.type_for("testCount") == "test-count"
    # not runnable here, still a known name: its trigger answers 501, not InvalidBackfillType
    assert registry.type_for("pdsScan") == "pds-scan"
    assert registry.job("pds-scan") is None
    assert registry.job("test-count") is CountItems
    assert registry.type_for("pds-scan") is None  # the kebab-case type is not a triggerBackfill name
    assert registry.type_for("everything") is None
    assert registry.trigger_names == sorted([*(kind.trigger_name for kind in LEXICON_TYPES), "testCount"])


def test_internal_types_have_no_triggerbackfill_name() -> None:
    registry = JobRegistry(BUILTIN_JOBS)
    assert registry.job("dlq-retry") is not None
    assert "dlq-retry" not in registry.trigger_names
    assert registry.type_for("dlqRetry") is None


class Twin(CountItems):
    """A second job under the test job's type."""


class Impostor(CountItems):
    """A job that claims a lexicon type's triggerBackfill name for a type of its own."""

    kind = JobType("not-a-pds-scan", "pdsScan")


def test_a_type_or_a_name_registered_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="job type 'test-count' registered twice"):
        JobRegistry([CountItems, Twin])
    with pytest.raises(ValueError, match="trigger name 'pdsScan' already means 'pds-scan'"):
        JobRegistry([Impostor])


def test_a_plugin_is_loaded_by_module_and_class() -> None:
    assert load_plugin("support.jobs:CountItems") is CountItems
    registry = build_registry(BUILTIN_JOBS, ["support.jobs:CountItems"])
    assert "test-count" in registry.runnable
    assert build_registry(BUILTIN_JOBS).runnable == JobRegistry(BUILTIN_JOBS).runnable


@pytest.mark.parametrize(
    ("spec", "said"),
    [
        ("support.jobs", "'support.jobs' is not module:Class"),
        (":CountItems", "':CountItems' is not module:Class"),
        ("nowhere:Nothing", "cannot load 'nowhere:Nothing' (No module named 'nowhere')"),
        ("support.jobs:Nothing", "cannot load 'support.jobs:Nothing'"),
        ("support.jobs:CountParams", "'support.jobs:CountParams' is not a job class"),
        ("support.jobs:ITEMS_TABLE", "'support.jobs:ITEMS_TABLE' is not a job class"),
    ],
)
def test_a_plugin_that_names_no_job_class_is_one_clear_error(spec: str, said: str) -> None:
    with pytest.raises(PluginError) as refused:
        load_plugin(spec)
    assert str(refused.value).startswith(f"--job-plugin: {said}")


def test_serve_with_a_bad_job_plugin_stops_with_one_clear_line(tmp_path: Path) -> None:
    proc = ServerProcess(args=["--db", str(tmp_path / "x.db"), "--job-plugin", "nowhere:Nothing"], cwd=tmp_path)
    with pytest.raises(RuntimeError, match="--job-plugin: cannot load 'nowhere:Nothing'"):
        proc.start()
