"""Fixtures of the auth tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chive_admin.store.db import Database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """A real, migrated SQLite database of its own."""
    database = await Database.open(tmp_path / "auth.db", readers=1)
    yield database
    await database.close()
