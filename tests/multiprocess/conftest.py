"""Fixtures of the multi-process tests: a fresh PostgreSQL database (a copy of the session's migrated template), the
fleet of servers on it, and the admin's API key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.auth import bearer
from support.databases import POSTGRES, new_target
from support.server import create_key

from chive_admin.store.target import PostgresUrl
from multiprocess.fleet import ADMIN_DID, Fleet


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> PostgresUrl:
    target = new_target(request, POSTGRES, tmp_path / "unused.db")
    assert isinstance(target, PostgresUrl)
    return target


@pytest.fixture
def fleet(tmp_path: Path, database: PostgresUrl) -> Iterator[Fleet]:
    servers = Fleet(tmp_path, database)
    try:
        yield servers
    finally:
        servers.stop()


@pytest.fixture
def admin(database: PostgresUrl) -> dict[str, str]:
    """The headers of the admin's API key, made with ``chive-admin keys create`` on the shared database."""
    return bearer(create_key(database, ADMIN_DID, "multi"))
