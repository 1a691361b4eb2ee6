"""Trigger forms derive from each job's params model and its trigger lexicon, plugin types included."""

from __future__ import annotations

from support.jobs import CountItems

from chive_admin._generated import ids
from chive_admin.backfill.job_types import JobRegistry
from chive_admin.backfill.jobs import BUILTIN_JOBS
from chive_admin.dashboard.forms import trigger_forms


def forms() -> dict[str, dict[str, object]]:
    return {form["type"]: form for form in trigger_forms(JobRegistry([*BUILTIN_JOBS, CountItems]))}


def fields(form: dict[str, object]) -> dict[str, dict[str, object]]:
    listed = form["fields"]
    assert isinstance(listed, list)
    return {field["name"]: field for field in listed}


def test_each_builtin_type_uses_its_own_trigger_method_and_lexicon_descriptions() -> None:
    found = forms()
    assert found["pds-scan"]["method"] == ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN
    assert found["pds-scan"]["typeField"] is False
    pds_url = fields(found["pds-scan"])["pdsUrl"]
    assert (pds_url["kind"], pds_url["required"]) == ("string", False)
    assert "PDS" in str(pds_url["description"])
    did = fields(found["did-sync"])["did"]
    assert (did["kind"], did["required"]) == ("string", True)
    assert fields(found["governance-sync"]) == {}


def test_limits_and_choices_come_from_the_params_model() -> None:
    found = forms()
    batch = fields(found["full-reindex"])["batchSize"]
    assert (batch["kind"], batch["minimum"], batch["maximum"], batch["default"]) == ("integer", 1, 10_000, 500)
    tier = fields(found["freshness-scan"])["tier"]
    assert tier["options"] == ["hot", "warm", "cold", "all"]


def test_a_plugin_type_is_started_through_trigger_backfill_with_its_name() -> None:
    plugin = forms()["test-count"]
    assert (plugin["method"], plugin["typeField"], plugin["name"]) == (
        ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL,
        True,
        "testCount",
    )
    assert fields(plugin)["batchSize"]["kind"] == "integer"


def test_a_type_the_server_cannot_run_gets_no_form() -> None:
    assert trigger_forms(JobRegistry([])) == []
