"""The authenticated caller of a request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Principal:
    did: str
    via: Literal["service-jwt", "api-key"]
    roles: frozenset[str] = field(default_factory=frozenset)
    #: id of the API key used (never the key itself), for the audit log
    key_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles
