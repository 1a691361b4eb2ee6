"""The database a test runs on: a SQLite file, or a database of its own on the session's PostgreSQL cluster.

The tests of ``store``, ``backfill``, ``handlers``, ``ingest`` and ``interop`` run on both backends
(``tests/conftest.py`` parametrises ``backend``): the suite is the proof that the two behave the same. A
PostgreSQL database is a copy of a template migrated once per session, so a test pays a ``CREATE DATABASE``, not
the migrations.
"""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import pytest

from chive_admin.store.db import Database
from chive_admin.store.target import DbTarget, PostgresUrl
from testnet.postgres import PostgresCluster

SQLITE = "sqlite"
POSTGRES = "postgresql"
BACKENDS = (SQLITE, POSTGRES)
#: the top-level test folders whose tests run on both backends
BOTH_BACKENDS = frozenset({"store", "backfill", "handlers", "ingest", "live", "interop", "engagement"})
TEMPLATE = "chive_template"
#: what a constraint the database itself enforces raises, on either backend
INTEGRITY_ERRORS = (sqlite3.IntegrityError, asyncpg.IntegrityConstraintViolationError)


def migrate_template(cluster: PostgresCluster) -> str:
    """The session's template database, migrated as ``serve`` leaves a new one."""
    cluster.create_database(TEMPLATE)

    async def migrate() -> None:
        await (await Database.open(PostgresUrl(cluster.url(TEMPLATE)), readers=1, writers=1)).close()

    # on a thread of its own: the fixture may be first asked for from inside a test's running event loop
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, migrate()).result()
    return TEMPLATE


@pytest.fixture(scope="session")
def postgres_template(postgres_cluster: PostgresCluster) -> str:
    return migrate_template(postgres_cluster)


def new_target(request: pytest.FixtureRequest, backend: str, sqlite_path: Path) -> DbTarget:
    """``sqlite_path``, or a fresh PostgreSQL database dropped when the test ends."""
    if backend == SQLITE:
        return sqlite_path
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    template: str = request.getfixturevalue("postgres_template")
    name = cluster.create_database(template=template)
    request.addfinalizer(lambda: cluster.drop_database(name))
    return PostgresUrl(cluster.url(name))
