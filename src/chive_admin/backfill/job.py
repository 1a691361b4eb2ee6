"""What a job type is: typed params, declared stages, and ``run(ctx, params)`` that works in batches."""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from chive_admin.auth.identity import IdentityResolver
    from chive_admin.backfill.context import JobContext
    from chive_admin.backfill.engine import Engine
    from chive_admin.backfill.job_types import JobType
    from chive_admin.ingest.export_readers import ExportReaders
    from chive_admin.settings import Settings
    from chive_admin.store.db import Database
    from chive_admin.upstream.atproto import AtprotoClient


class JobServices(Protocol):
    """What a job may use of the server it runs in (the server's ``Services`` has all of it)."""

    settings: Settings
    db: Database
    engine: Engine
    upstream: AtprotoClient
    identities: IdentityResolver
    readers: ExportReaders | None


class JobParams(BaseModel):
    """Trigger parameters of one job type, named as the trigger lexicons name them (pdsUrl, did, …)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    def normalised(self) -> dict[str, Any]:
        """The params as stored and compared: what makes two triggers "the same operation"."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


P = TypeVar("P", bound=JobParams)


class JobFailed(Exception):
    """The operation cannot go on: it ends ``failed`` with this stable code and safe context."""

    def __init__(self, code: str, message: str, context: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.context = context or {}


class Refused(Exception):
    """Trigger-time refusal of params that are well-formed but cannot run here (e.g. a private PDS address)."""


class RetryFailed(Exception):
    """One dead-lettered item failed again; its entry stays in the queue with this message."""


class Job(ABC, Generic[P]):
    #: its names (``job_types``); ``type`` and ``trigger_name`` are read from it
    kind: ClassVar[JobType]
    #: the type operations report (kebab-case, e.g. "pds-scan")
    type: ClassVar[str]
    #: the name triggerBackfill takes (camelCase, e.g. "pdsScan"); None for internal types it cannot start
    trigger_name: ClassVar[str | None]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        kind = cls.__dict__.get("kind")
        if kind is not None:
            cls.type = kind.name
            cls.trigger_name = kind.trigger_name

    params_model: ClassVar[builtins.type[JobParams]]
    stages: ClassVar[tuple[str, ...]]

    @classmethod
    async def admit(cls, params: P, services: JobServices) -> None:
        """Refuse, with ``Refused``, params that validate but can never run (checked before anything is queued)."""

    @abstractmethod
    async def run(self, ctx: JobContext, params: P) -> None:
        """Do the work from ``ctx.checkpoint`` on, committing data and checkpoint together in ``ctx.batch()``."""

    async def on_cancel(self, ctx: JobContext) -> None:
        """Undo what must not outlive a cancelled op (the engine calls it before the op ends ``cancelled``).

        The job may have been stopped anywhere: at a checkpoint, or interrupted between two (a cancel does not wait
        for an upstream answer), its batch in flight rolled back. ``ctx`` describes what was committed.
        """

    async def retry_item(self, ctx: JobContext, item: Any) -> None:
        """Process one dead-lettered item of this type again, committing through ``ctx.batch()``.

        Raise ``RetryFailed`` (or an upstream error) to leave it in the queue.
        """
        raise RetryFailed(f"{self.type} items cannot be retried one by one")
