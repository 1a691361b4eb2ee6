"""The audit trail off the request path: entries buffered and written in batches (with the keys' last use), kept
when a write fails, flushed early when many wait and at stop; a client address kept only if it is an IP."""

from __future__ import annotations

import asyncio

import pytest

from chive_admin.auth import audit
from chive_admin.auth.api_keys import ApiKeyStore, key_hash, new_key
from chive_admin.auth.audit import FLUSH_AT, AuditLog, ip_or_none
from chive_admin.clock import now_stamp
from chive_admin.store import api_keys as api_keys_store
from chive_admin.store import audit as audit_store
from chive_admin.store.audit import AuditEntry
from chive_admin.store.db import Database, DatabaseUnavailable

ACTOR = "did:plc:auditactor0000000000000000"


def entry(n: int = 0, client_ip: str | None = None) -> AuditEntry:
    return AuditEntry(
        at=now_stamp(), method=f"m{n}", outcome="allowed", status=200, actor_did=ACTOR, client_ip=client_ip
    )


async def stored(db: Database) -> list[tuple[str, str | None]]:
    async with db.read() as conn:
        rows = await conn.fetchall("SELECT method, client_ip FROM audit_log ORDER BY id")
    return [(str(r[0]), r[1]) for r in rows]


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:DB8:0:0::1", "2001:db8::1"),
        ("<script>alert(1)</script>", None),
        ("203.0.113.7, 10.0.0.1", None),
        ("", None),
    ],
)
def test_only_an_ip_address_is_kept_written_the_canonical_way(text: str, kept: str | None) -> None:
    assert ip_or_none(text) == kept


async def test_entries_and_last_use_are_written_by_one_flush(db: Database) -> None:
    keys = ApiKeyStore(db)
    key = new_key()
    async with db.write() as conn:
        await api_keys_store.create_key(conn, key_id="k1", did=ACTOR, name="n", key_hash=key_hash(key), now=now_stamp())
    log = AuditLog(db, keys)
    await keys.owner(key)
    log.record(entry(1, client_ip="2001:DB8::1"))
    log.record(entry(2, client_ip="not an address"))
    assert await stored(db) == []  # nothing is written on the request path
    await log.flush()
    assert await stored(db) == [("m1", "2001:db8::1"), ("m2", None)]
    async with db.read() as conn:
        [owner] = await api_keys_store.list_keys(conn)
    assert owner.last_used_at is not None
    await log.flush()  # nothing new: nothing written
    assert len(await stored(db)) == 2


async def test_a_failed_write_keeps_the_entries_for_the_next_flush(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = AuditLog(db, ApiKeyStore(db))
    log.record(entry(1))

    async def full_disk(*args: object) -> None:
        raise OSError("disk full")

    with monkeypatch.context() as patched:
        patched.setattr(audit.audit_store, "append_audit", full_disk)
        with pytest.raises(OSError, match="disk full"):
            await log.flush()
    log.record(entry(2))
    await log.flush()
    assert [m for m, _ in await stored(db)] == ["m1", "m2"]


async def test_while_the_database_is_away_the_held_entries_are_bounded_newest_kept(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit, "MAX_BUFFERED", 3)
    log = AuditLog(db, ApiKeyStore(db))

    async def away(*args: object) -> None:
        raise DatabaseUnavailable("the database cannot be reached")

    with monkeypatch.context() as patched:
        patched.setattr(audit.audit_store, "append_audit", away)
        for n in range(5):
            log.record(entry(n))
            with pytest.raises(DatabaseUnavailable):
                await log.flush()
    await log.flush()
    assert [m for m, _ in await stored(db)] == ["m2", "m3", "m4"]


async def test_the_flusher_writes_early_when_many_wait_and_everything_at_stop(db: Database) -> None:
    log = AuditLog(db, ApiKeyStore(db), flush_seconds=3600)  # never on its own clock in this test
    log.start()
    for n in range(FLUSH_AT):
        log.record(entry(n))
    for _ in range(500):
        if await stored(db):
            break
        await asyncio.sleep(0.01)
    assert len(await stored(db)) == FLUSH_AT
    log.record(entry(-1))
    await log.stop()
    assert len(await stored(db)) == FLUSH_AT + 1


async def test_the_flusher_survives_a_failed_write(
    db: Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    log = AuditLog(db, ApiKeyStore(db), flush_seconds=0.01)
    failures = 0
    append = audit_store.append_audit

    async def failing_once(*args: object) -> None:
        nonlocal failures
        failures += 1
        if failures == 1:
            raise OSError("disk full")
        await append(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(audit.audit_store, "append_audit", failing_once)
    log.start()
    log.record(entry(1))
    for _ in range(500):
        if await stored(db):
            break
        await asyncio.sleep(0.01)
    await log.stop()
    assert await stored(db) == [("m1", None)]
    assert "audit flush failed" in caplog.text
