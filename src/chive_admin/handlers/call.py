"""What a handler receives."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from starlette.requests import Request

from chive_admin.auth.principal import Principal
from chive_admin.clock import now_stamp
from chive_admin.lex import LexModel
from chive_admin.store.audit import AuditEntry

if TYPE_CHECKING:
    from chive_admin.services import Services

P = TypeVar("P")
B = TypeVar("B")


@dataclass
class AuditNote:
    """What a handler tells the audit log about its call beyond the method and outcome."""

    #: what the call acted on: an operation id, a DID, a PDS URL…
    target: str | None = None
    #: a short qualifier of the outcome, e.g. "reused" when a trigger returned an already active operation
    detail: str | None = None
    #: the handler wrote the call's audit entry itself, in the transaction of its change: the pipeline adds none
    #: when the call succeeds (it still audits a call that fails after it)
    written: bool = False


@dataclass(frozen=True)
class Call(Generic[P, B]):
    params: P
    input: B
    principal: Principal
    services: Services
    request: Request
    note: AuditNote = field(default_factory=AuditNote)


def audit_entry(
    method: str,
    request: Request,
    principal: Principal | None,
    note: AuditNote,
    outcome: str,
    status: int,
    reason: str | None = None,
) -> AuditEntry:
    """The audit entry of a call: what the pipeline records for every call, and what a handler that writes its own
    (``AuditNote.written``) puts in its transaction."""
    return AuditEntry(
        at=now_stamp(),
        method=method,
        outcome=outcome,
        status=status,
        actor_did=principal.did if principal else None,
        via=principal.via if principal else None,
        key_id=principal.key_id if principal else None,
        target=note.target,
        reason=reason,
        detail=note.detail,
        client_ip=request.client.host if request.client else None,
    )


Handler = Callable[[Call[Any, Any]], Awaitable[LexModel | None]]
