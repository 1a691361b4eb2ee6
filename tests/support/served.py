"""The server in-process for the tests of one job or one method: a client on it, its database, and running an
operation to its end."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from starlette.applications import Starlette

from chive_admin.store.db import Database
from support.api import Operation, call, started, wait_ended
from support.engine import engine_config

#: an engine that polls fast and lets a stopping job go at once
FAST = engine_config(workers=1, lease_seconds=3, poll_seconds=0.05, stop_grace_seconds=5)


@dataclass
class Served:
    app: Starlette
    client: httpx.AsyncClient

    @property
    def db(self) -> Database:
        database: Database = self.app.state.services.db
        return database

    async def run(self, nsid: str, body: dict[str, Any] | None = None) -> Operation:
        """Trigger an operation with ``nsid`` and wait for its end."""
        return await wait_ended(self.client, started(await call(self.client, nsid, body)))

    async def rows(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        async with self.db.read() as conn:
            return [tuple(row) for row in await conn.fetchall(sql, args)]
