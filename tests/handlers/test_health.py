"""getSystemHealth and getNodeMetrics report real readings of this database and this process."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import AppFactory, running_client
from support.auth import FixedTokens

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import get_node_metrics, get_system_health
from chive_admin.store.db import Database, bundled_migrations
from chive_admin.telemetry.health import IntegrityMonitor

ADMIN = {"Authorization": "Bearer admin"}


def strict(model: type, data: object) -> object:
    return model.model_validate(data, strict=True, by_alias=True, by_name=False)  # type: ignore[attr-defined]


async def test_system_health_reads_the_real_database(make_app: AppFactory, tmp_path: Path) -> None:
    app = make_app(authenticator=FixedTokens())
    async for client in running_client(app):
        response = await client.get(f"/xrpc/{ids.PUB_CHIVE_ADMIN_GET_SYSTEM_HEALTH}", headers=ADMIN)
        on_disk = os.stat(tmp_path / "chive-admin.db").st_size
        wal_on_disk = os.stat(tmp_path / "chive-admin.db-wal").st_size
    assert response.status_code == 200
    out = strict(get_system_health.Output, response.json())
    assert isinstance(out, get_system_health.Output)
    assert out.status == "healthy"
    (db,) = out.databases
    assert db.healthy is True
    assert db.integrity == "ok"
    assert db.schema_version == max(m.version for m in bundled_migrations())
    assert db.size_bytes == on_disk
    assert db.wal_bytes == wal_on_disk
    disk = os.statvfs(tmp_path)
    assert db.disk_free_bytes is not None
    assert abs(db.disk_free_bytes - disk.f_bavail * disk.f_frsize) < 64 * 1024 * 1024  # the same file system
    assert db.latency_ms is not None
    assert db.error is None


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
    async for client in running_client(make_app(authenticator=FixedTokens(), db=path)):
        response = await client.get(f"/xrpc/{ids.PUB_CHIVE_ADMIN_GET_SYSTEM_HEALTH}", headers=ADMIN)
    assert response.status_code == 200
    assert response.json()["status"] == "unhealthy"
    assert response.json()["databases"][0]["integrity"] == "failed"


async def test_node_metrics_describe_this_process(make_app: AppFactory) -> None:
    async for client in running_client(make_app(authenticator=FixedTokens())):
        response = await client.get(f"/xrpc/{ids.PUB_CHIVE_ADMIN_GET_NODE_METRICS}", headers=ADMIN)
    assert response.status_code == 200
    out = strict(get_node_metrics.Output, response.json())
    assert isinstance(out, get_node_metrics.Output)
    assert out.process_info.pid == os.getpid()
    assert out.process_info.rss > 1_000_000
    assert out.process_info.heap_total >= out.process_info.heap_used > 0
    names = {m.name: m for m in out.metrics}
    assert int(names["process_threads"].value) >= 1
    assert int(names["process_open_fds"].value) > 0
    assert names["event_loop_lag_microseconds"].unit == "microseconds"
