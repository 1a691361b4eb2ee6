"""Loading a job class named by ``--job-plugin``."""

from __future__ import annotations

from typing import Any

import pytest
from support.jobs import CountItems, CountParams

from chive_admin.backfill.context import JobContext
from chive_admin.backfill.job import Job
from chive_admin.backfill.job_types import PluginError, load_plugin


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
