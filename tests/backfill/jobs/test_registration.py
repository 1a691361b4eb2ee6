"""A job module registers its type by naming a kind: every lexicon type runs, under the names its JobType gives."""

from __future__ import annotations

from chive_admin._generated.catalog import ROUTES
from chive_admin.backfill.job_types import DLQ_RETRY, LEXICON_TYPES, TRIGGER_METHODS, JobRegistry
from chive_admin.backfill.jobs import BUILTIN_JOBS


def test_every_lexicon_type_and_the_dlq_retry_have_one_job_each_in_declaration_order() -> None:
    assert [job.type for job in BUILTIN_JOBS] == [kind.name for kind in (*LEXICON_TYPES, DLQ_RETRY)]


def test_a_job_takes_its_names_from_its_kind() -> None:
    for job in BUILTIN_JOBS:
        assert job.type == job.kind.name
        assert job.trigger_name == job.kind.trigger_name


def test_each_trigger_method_is_a_route_and_the_registry_maps_each_trigger_name() -> None:
    registry = JobRegistry(BUILTIN_JOBS)
    for kind in LEXICON_TYPES:
        assert TRIGGER_METHODS[kind.name] in ROUTES
        assert kind.trigger_name is not None
        assert registry.type_for(kind.trigger_name) == kind.name
    assert DLQ_RETRY.name not in TRIGGER_METHODS
    assert registry.runnable == {job.type for job in BUILTIN_JOBS}
