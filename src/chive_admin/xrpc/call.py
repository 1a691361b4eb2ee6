"""What a handler receives."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from starlette.requests import Request

from chive_admin.auth.principal import Principal
from chive_admin.lex import LexModel

if TYPE_CHECKING:
    from chive_admin.services import Services

P = TypeVar("P")
B = TypeVar("B")


@dataclass(frozen=True)
class Call(Generic[P, B]):
    params: P
    input: B
    principal: Principal
    services: Services
    request: Request


Handler = Callable[[Call[Any, Any]], Awaitable[LexModel | None]]
