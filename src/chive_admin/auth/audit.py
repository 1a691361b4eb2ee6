"""The audit trail, written off the request path: calls append to a buffer that a background task flushes in
batches (with the API keys' last-use times), so an admin call never waits on an audit write.

A client address is kept only when it is an IP address: behind a trusted proxy it comes from a header the client
may have written (``X-Forwarded-For: <script>…``), and the trail is read by people and tools that expect an IP.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import logging

from chive_admin.auth.api_keys import ApiKeyStore
from chive_admin.flusher import Flusher
from chive_admin.store import api_keys as api_keys_store
from chive_admin.store import audit as audit_store
from chive_admin.store.audit import AuditEntry
from chive_admin.store.db import Database

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.5
FLUSH_AT = 500
#: entries held at most while the database cannot take them (it is down): past it the oldest are dropped, counted
MAX_BUFFERED = 100_000


class AuditLog:
    def __init__(self, db: Database, keys: ApiKeyStore, *, flush_seconds: float = FLUSH_SECONDS) -> None:
        self._db = db
        self._keys = keys
        self._buffer: list[AuditEntry] = []
        self._flusher = Flusher(self.flush, flush_seconds, "audit flush", log)
        self._lock = asyncio.Lock()

    def record(self, entry: AuditEntry) -> None:
        if entry.client_ip is not None:
            entry = dataclasses.replace(entry, client_ip=ip_or_none(entry.client_ip))
        self._buffer.append(entry)
        if len(self._buffer) >= FLUSH_AT:
            self._flusher.due()

    def start(self) -> None:
        self._flusher.start()

    async def stop(self) -> None:
        await self._flusher.stop()

    async def flush(self) -> None:
        async with self._lock:
            entries, self._buffer = self._buffer, []
            used = self._keys.take_used()
            if not entries and not used:
                return
            try:
                async with self._db.write() as conn:
                    await audit_store.append_audit(conn, entries)
                    await api_keys_store.touch_keys(conn, used)
            except Exception:
                self._buffer[:0] = entries  # kept for the next flush rather than lost
                overflow = len(self._buffer) - MAX_BUFFERED
                if overflow > 0:
                    del self._buffer[:overflow]
                    log.error("audit: %d entries dropped: the database has not taken any for too long", overflow)
                raise


def ip_or_none(text: str) -> str | None:
    """``text`` written the canonical way if it is an IP address, else None."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None
