"""What a handler receives."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from starlette.requests import Request

from chive_admin.auth.principal import Principal
from chive_admin.lex import LexModel

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


@dataclass(frozen=True)
class Call(Generic[P, B]):
    params: P
    input: B
    principal: Principal
    services: Services
    request: Request
    note: AuditNote = field(default_factory=AuditNote)


Handler = Callable[[Call[Any, Any]], Awaitable[LexModel | None]]
