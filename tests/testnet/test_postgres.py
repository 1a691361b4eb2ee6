"""The throwaway PostgreSQL cluster: reachable with its password only, stopped and started again with its data,
databases copied from a template, and nothing left behind by destroy() or by a start that fails halfway."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from support.postgres import start_cluster
from support.processes import pid_alive, processes_naming

from testnet.postgres import REPO_ROOT, PostgresCluster


@pytest.fixture
def base() -> Iterator[Path]:
    """A base_dir for clusters that the postgres system user can reach (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="chive-pg-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
async def database(postgres_cluster: PostgresCluster) -> AsyncIterator[str]:
    name = postgres_cluster.create_database()
    yield name
    postgres_cluster.drop_database(name)


async def test_a_created_database_answers_its_owner_over_tcp(postgres_cluster: PostgresCluster, database: str) -> None:
    conn = await asyncpg.connect(postgres_cluster.url(database), timeout=10)
    try:
        await conn.execute("CREATE TABLE t (id int PRIMARY KEY, body text)")
        await conn.execute("INSERT INTO t VALUES ($1, $2)", 1, "é✓")
        assert await conn.fetchval("SELECT body FROM t WHERE id = 1") == "é✓"
        who = await conn.fetchrow(
            "SELECT current_user AS name, rolsuper, rolcreatedb, pg_encoding_to_char(encoding) AS encoding"
            " FROM pg_roles, pg_database WHERE rolname = current_user AND datname = current_database()"
        )
        assert dict(who) == {"name": "chive", "rolsuper": False, "rolcreatedb": True, "encoding": "UTF8"}
        assert await conn.fetchval("SHOW max_connections") == "200"
        assert await conn.fetchval("SHOW fsync") == "on"
    finally:
        await conn.close()


async def test_a_wrong_password_is_refused(postgres_cluster: PostgresCluster, database: str) -> None:
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(postgres_cluster.url(database, password="not-the-password"), timeout=10)


async def test_the_superuser_cannot_log_in_over_tcp(postgres_cluster: PostgresCluster) -> None:
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(
            host=postgres_cluster.host,
            port=postgres_cluster.port,
            user=postgres_cluster.superuser,
            password=postgres_cluster.password,
            database="postgres",
            timeout=10,
        )


def test_the_data_directory_is_private_to_the_server_user(postgres_cluster: PostgresCluster) -> None:
    info = postgres_cluster.data_dir.stat()
    assert stat.S_IMODE(info.st_mode) == 0o700
    if os.geteuid() == 0:
        import pwd

        assert info.st_uid == pwd.getpwnam("postgres").pw_uid


async def test_a_database_made_from_a_template_has_its_tables(postgres_cluster: PostgresCluster) -> None:
    template = postgres_cluster.create_database()
    conn = await asyncpg.connect(postgres_cluster.url(template), timeout=10)
    try:
        await conn.execute("CREATE TABLE migrated (version int NOT NULL); INSERT INTO migrated VALUES (7)")
    finally:
        await conn.close()  # a template with an open connection cannot be copied
    copy = postgres_cluster.create_database(template=template)
    try:
        conn = await asyncpg.connect(postgres_cluster.url(copy), timeout=10)
        try:
            assert await conn.fetchval("SELECT version FROM migrated") == 7
            owner = await conn.fetchval(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
            )
            assert owner == "chive"
        finally:
            await conn.close()
    finally:
        postgres_cluster.drop_database(copy)
        postgres_cluster.drop_database(template)


async def test_drop_database_ends_its_open_connections(postgres_cluster: PostgresCluster) -> None:
    name = postgres_cluster.create_database()
    conn = await asyncpg.connect(postgres_cluster.url(name), timeout=10)
    try:
        postgres_cluster.drop_database(name)
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, OSError)):
            await conn.fetchval("SELECT 1")
        assert postgres_cluster.run_sql(f"SELECT count(*) FROM pg_database WHERE datname = '{name}'").strip() == "0"
        postgres_cluster.drop_database(name)  # already gone: not an error
    finally:
        conn.terminate()


def test_names_are_checked_before_they_reach_sql(postgres_cluster: PostgresCluster) -> None:
    for bad in ('x"; DROP DATABASE postgres; --', "Upper", "", "a" * 64, "9lives"):
        with pytest.raises(ValueError, match="plain PostgreSQL name"):
            postgres_cluster.create_database(bad)
        with pytest.raises(ValueError, match="plain PostgreSQL name"):
            postgres_cluster.url(bad)
    with pytest.raises(ValueError, match="plain PostgreSQL name"):
        postgres_cluster.create_database(template="no-such")


async def test_a_stopped_cluster_refuses_connections_and_starts_again_with_its_data() -> None:
    with start_cluster() as cluster:
        name = cluster.create_database()
        conn = await asyncpg.connect(cluster.url(name), timeout=10)
        try:
            await conn.execute("CREATE TABLE kept (id int); INSERT INTO kept VALUES (1), (2)")
        finally:
            await conn.close()
        port = cluster.port

        cluster.stop()
        assert cluster.postmaster_pid() is None
        with pytest.raises(ConnectionRefusedError):
            await asyncpg.connect(cluster.url(name), timeout=10)
        cluster.stop()  # stopping a stopped cluster is a no-op

        cluster.start_again()
        assert cluster.port == port
        conn = await asyncpg.connect(cluster.url(name), timeout=10)
        try:
            assert await conn.fetchval("SELECT sum(id) FROM kept") == 3
        finally:
            await conn.close()


def test_destroy_leaves_no_process_and_no_file(base: Path) -> None:
    cluster = start_cluster(base)
    pid = cluster.postmaster_pid()
    assert pid is not None
    assert pid_alive(pid)
    assert cluster.root.parent == base

    cluster.destroy()

    assert not pid_alive(pid)
    assert processes_naming(str(cluster.root)) == []
    assert not cluster.root.exists()
    assert list(base.iterdir()) == []
    cluster.destroy()  # idempotent


def test_a_start_that_fails_halfway_leaves_nothing(base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[Path, int | None]] = []

    def fail_after_the_server_is_up(self: PostgresCluster) -> None:
        seen.append((self.root, self.postmaster_pid()))
        raise RuntimeError("injected: the role could not be created")

    monkeypatch.setattr(PostgresCluster, "_create_role", fail_after_the_server_is_up)
    with pytest.raises(RuntimeError, match="injected"):
        PostgresCluster.start(base)

    [(root, pid)] = seen
    assert pid is not None  # the failure came with the server running
    assert not pid_alive(pid)
    assert processes_naming(str(root)) == []
    assert list(base.iterdir()) == []


def test_without_postgresql_a_test_fails_naming_the_install_script(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("testnet.postgres._has_server", lambda bindir: False)
    with pytest.raises(pytest.fail.Exception, match=r"run scripts/install-postgres\.sh"):
        start_cluster()


def test_a_cluster_left_running_is_destroyed_when_python_exits(base: Path) -> None:
    script = (
        "import sys; from pathlib import Path; from testnet.postgres import PostgresCluster\n"
        "c = PostgresCluster.start(Path(sys.argv[1])); print(c.root, c.postmaster_pid())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(base)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    root, pid = result.stdout.split()
    assert not pid_alive(int(pid))
    assert processes_naming(root) == []
    assert list(base.iterdir()) == []
