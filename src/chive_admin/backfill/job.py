"""What a job type is: typed params, a typed checkpoint, declared stages, and ``run(ctx, params)`` that works in
batches."""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from chive_admin.backfill.items import Item

if TYPE_CHECKING:
    from chive_admin.auth.identity import IdentityResolver
    from chive_admin.backfill.context import AnyContext, JobContext
    from chive_admin.backfill.engine import Engine
    from chive_admin.backfill.job_types import JobType
    from chive_admin.ingest.export_readers import ExportReaders
    from chive_admin.ingest.handles import HandleVerifier
    from chive_admin.settings import Settings
    from chive_admin.store.db import Database
    from chive_admin.upstream.atproto import AtprotoClient
    from chive_admin.upstream.relay import RelayClient


class JobServices(Protocol):
    """What a job may use of the server it runs in (the server's ``Services`` has all of it)."""

    settings: Settings
    db: Database
    engine: Engine
    upstream: AtprotoClient
    identities: IdentityResolver
    handles: HandleVerifier
    readers: ExportReaders | None
    #: the relay of ``--relay-url``; None when there is none
    relay: RelayClient | None


class JobParams(BaseModel):
    """Trigger parameters of one job type, named as the trigger lexicons name them (pdsUrl, did, …)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    def normalised(self) -> dict[str, Any]:
        """The params as stored and compared: what makes two triggers "the same operation"."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class Checkpoint(BaseModel):
    """Where a job is, committed with each batch and read back when its operation resumes: exactly the keys its
    model declares, so what an earlier version stored is read by the same model."""

    model_config = ConfigDict(frozen=True, extra="forbid")


P = TypeVar("P", bound=JobParams)
#: the job's checkpoint: a ``Checkpoint`` model or a discriminated union of them (any frozen value pydantic reads),
#: ``None`` for a job that keeps none
C = TypeVar("C")


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


class Job(ABC, Generic[P, C]):
    #: its names (``job_types``); ``type`` and ``trigger_name`` are read from it
    kind: ClassVar[JobType]
    #: the type operations report (kebab-case, e.g. "pds-scan")
    type: ClassVar[str]
    #: the name triggerBackfill takes (camelCase, e.g. "pdsScan"); None for internal types it cannot start
    trigger_name: ClassVar[str | None]

    params_model: ClassVar[builtins.type[JobParams]]
    #: the type of its checkpoint (``C``), which pydantic reads and writes as JSON
    checkpoint_model: ClassVar[Any]
    #: the type of the dead-letter items it parks and retries (a model, or a discriminated union of models);
    #: ``None`` when it retries none
    item_model: ClassVar[Any] = None
    stages: ClassVar[tuple[str, ...]]

    #: readers of ``checkpoint_model`` and ``item_model``, made once per class
    checkpoints: ClassVar[TypeAdapter[Any]]
    _items: ClassVar[TypeAdapter[Any]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        kind = cls.__dict__.get("kind")
        if kind is not None:
            cls.type = kind.name
            cls.trigger_name = kind.trigger_name
        if "checkpoint_model" in cls.__dict__:
            cls.checkpoints = TypeAdapter(cls.checkpoint_model)
        if "item_model" in cls.__dict__:
            cls._items = TypeAdapter(cls.item_model)

    @classmethod
    async def admit(cls, params: P, services: JobServices) -> None:
        """Refuse, with ``Refused``, params that validate but can never run (checked before anything is queued)."""

    @classmethod
    async def prepare(cls, params: P, services: JobServices) -> object | None:
        """Reads a run starts with, done while its op waits in the queue (:mod:`chive_admin.backfill.lookahead`);
        the run finds the answer in ``ctx.prepared``. Only reads: an op prepared may never run here. ``None``, as
        here, for a type with nothing to prepare."""
        return None

    @classmethod
    def prepares(cls) -> bool:
        """Whether this type has something to prepare (its own ``prepare``)."""
        return cls.prepare.__func__ is not Job.prepare.__func__  # type: ignore[attr-defined]

    @abstractmethod
    async def run(self, ctx: JobContext[C], params: P) -> None:
        """Do the work from ``ctx.checkpoint`` on, committing data and checkpoint together in ``ctx.batch()``."""

    async def on_cancel(self, ctx: JobContext[C]) -> None:
        """Undo what must not outlive a cancelled op (the engine calls it before the op ends ``cancelled``).

        The job may have been stopped anywhere: at a checkpoint, or interrupted between two (a cancel does not wait
        for an upstream answer), its batch in flight rolled back. ``ctx`` describes what was committed.
        """

    @classmethod
    def read_item(cls, stored: Any) -> Item:
        """A stored dead-letter item of this type, typed; ``RetryFailed`` when it is none of the items it retries."""
        if cls.item_model is None:
            raise RetryFailed(f"{cls.type} items cannot be retried one by one")
        try:
            item: Item = cls._items.validate_python(stored)
        except ValidationError:
            raise RetryFailed(f"not a {cls.type} item: {stored!r}"[:200]) from None
        return item

    async def retry_item(self, ctx: AnyContext, item: Item) -> None:
        """Process one dead-lettered item of this type again, committing through ``ctx.batch()`` (the context is the
        retrying operation's, not a context of this type: its checkpoint is not this job's).

        Raise ``RetryFailed`` (or an upstream error) to leave it in the queue.
        """
        raise RetryFailed(f"{self.type} items cannot be retried one by one")
