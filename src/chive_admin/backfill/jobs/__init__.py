"""The job types this server runs, one module each, found here by their ``kind``: a module that defines a job
class naming a ``JobType`` registers it. A lexicon type with no job is not runnable: its triggers answer 501
MethodNotImplemented."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from chive_admin.backfill.job import Job
from chive_admin.backfill.job_types import DLQ_RETRY, LEXICON_TYPES


def _builtin_jobs() -> tuple[type[Job[Any, Any]], ...]:
    found: dict[str, type[Job[Any, Any]]] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Job) and value.__module__ == module.__name__:
                kind = value.__dict__.get("kind")
                if kind is not None:
                    found[kind.name] = value
    order = [kind.name for kind in (*LEXICON_TYPES, DLQ_RETRY)]
    return tuple(sorted(found.values(), key=lambda job: order.index(job.type) if job.type in order else len(order)))


BUILTIN_JOBS: tuple[type[Job[Any, Any]], ...] = _builtin_jobs()
