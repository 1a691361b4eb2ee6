"""getSystemHealth: real readings of this database (probe, sizes, schema, integrity) and an overall status."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import AppFactory
from support.admin_api import USER, Api, answer, refusal, serving
from support.auth import FixedTokens
from support.clock import ManualClock
from support.firehose import idle_indexer

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import get_system_health
from chive_admin.handlers.admin import get_system_health as handler
from chive_admin.settings import FIREHOSE_DOWN_DEGRADED_S
from chive_admin.store.db import Database, bundled_migrations
from chive_admin.store.sql import Dialect
from chive_admin.telemetry.health import IntegrityMonitor
from chive_admin.upstream.firehose import Connected, Disconnected, Passing

METHOD = ids.PUB_CHIVE_ADMIN_GET_SYSTEM_HEALTH


@pytest.mark.sqlite_only
async def test_the_real_database_is_read(api: Api, tmp_path: Path) -> None:
    response = await api.get(METHOD)
    on_disk = os.stat(tmp_path / "chive-admin.db").st_size
    wal_on_disk = os.stat(tmp_path / "chive-admin.db-wal").st_size
    out = answer(response, get_system_health.Output)
    assert out.status == "healthy"
    (db,) = out.databases
    assert db.healthy is True
    assert db.integrity == "ok"
    assert db.schema_version == max(m.version for m in bundled_migrations(Dialect.SQLITE))
    assert db.size_bytes == on_disk
    assert db.wal_bytes == wal_on_disk
    disk = os.statvfs(tmp_path)
    assert db.disk_free_bytes is not None
    assert abs(db.disk_free_bytes - disk.f_bavail * disk.f_frsize) < 64 * 1024 * 1024  # the same file system
    assert db.latency_ms is not None
    assert db.error is None


@pytest.mark.sqlite_only
async def test_corruption_is_reported_unhealthy(tmp_path: Path, make_app: AppFactory) -> None:
    path = tmp_path / "bad.db"
    db = await Database.open(path, readers=1)
    async with db.write() as conn:
        await conn.execute("CREATE TABLE filler (x TEXT)")
        await conn.executemany("INSERT INTO filler VALUES (?)", [("y" * 500,) for _ in range(2000)])
        await conn.execute("CREATE INDEX filler_x ON filler (x)")
    await db.close()
    # overwrite the last pages (the index built last), as a failing disk would
    with path.open("r+b") as f:
        f.seek(os.stat(path).st_size - 3 * 4096 + 100)
        f.write(b"\x00garbage\xff" * 400)
    db = await Database.open(path, readers=1)
    try:
        integrity = await IntegrityMonitor(db).current()
    finally:
        await db.close()
    assert integrity.ok is False
    async with serving(make_app(authenticator=FixedTokens(), db=path)) as api:
        out = answer(await api.get(METHOD), get_system_health.Output)
    assert out.status == "unhealthy"
    assert out.databases[0].integrity == "failed"
    assert out.databases[0].healthy is False
    assert out.databases[0].error == "integrity check failed"


@pytest.mark.sqlite_only
async def test_little_free_disk_is_degraded(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handler, "LOW_DISK_BYTES", 1 << 62)  # more than any disk has free
    out = answer(await api.get(METHOD), get_system_health.Output)
    assert out.status == "degraded"
    assert out.databases[0].healthy is True


@pytest.mark.postgres_only
async def test_postgres_reports_its_size_and_no_file_it_does_not_have(api: Api) -> None:
    out = answer(await api.get(METHOD), get_system_health.Output)
    assert out.status == "healthy"
    (db,) = out.databases
    assert (db.name, db.healthy, db.error) == ("postgresql", True, None)
    assert db.size_bytes is not None
    assert db.size_bytes > 0
    assert db.schema_version == max(m.version for m in bundled_migrations(Dialect.POSTGRES))
    # no file, no disk this process can see, no quick_check: absent, never a made-up figure
    assert (db.wal_bytes, db.disk_free_bytes, db.integrity, db.integrity_checked_at) == (None, None, None, None)


async def test_refused_to_a_caller_without_the_admin_role(api: Api) -> None:
    refusal(await api.get(METHOD, headers=USER), 403, "AdminRequired")


async def test_no_firehose_entry_when_live_indexing_is_off(api: Api) -> None:
    assert "firehose" not in (await api.get(METHOD)).json()


async def test_a_firehose_source_down_for_more_than_a_minute_is_degraded(api: Api) -> None:
    clock = ManualClock()
    live = idle_indexer(api.services, "https://relay.example", clock)
    live.stats.flow.received(Connected(None), clock())
    clock.now += 600
    out = answer(await api.get(METHOD), get_system_health.Output)
    assert out.status == "healthy"
    assert out.firehose is not None
    (source,) = out.firehose
    assert (source.url, source.connected, source.healthy, source.lag_ms, source.problem) == (
        "https://relay.example",
        True,
        True,
        0,
        None,
    )
    live.stats.flow.received(Disconnected("closed by the source (1000)"), clock())
    clock.now += FIREHOSE_DOWN_DEGRADED_S
    assert answer(await api.get(METHOD), get_system_health.Output).status == "healthy"  # a redial takes a moment
    clock.now += 1
    out = answer(await api.get(METHOD), get_system_health.Output)
    assert out.status == "degraded"
    assert out.firehose is not None
    (source,) = out.firehose
    assert (source.connected, source.healthy) == (False, False)
    assert source.problem == f"disconnected for 61 s (more than {FIREHOSE_DOWN_DEGRADED_S} s)"
    assert out.databases[0].healthy is True


async def test_a_firehose_source_lagging_past_the_bound_is_degraded(api: Api) -> None:
    clock = ManualClock()
    live = idle_indexer(api.services, "https://relay.example", clock)
    live.stats.flow.received(Connected(None), clock())
    live.stats.flow.received(Passing(5, "#account", None, clock() - 90.0), clock())
    out = answer(await api.get(METHOD), get_system_health.Output)
    assert out.status == "degraded"
    assert out.firehose is not None
    assert out.firehose[0].lag_ms == 90_000
    live.stats.flow.done(2)
    assert answer(await api.get(METHOD), get_system_health.Output).status == "healthy"
