"""``.gitignore`` keeps every file the database brings with it out of git, by the names the store gives them."""

from __future__ import annotations

import fnmatch
from pathlib import Path

from chive_admin.settings import DEFAULT_DB
from chive_admin.store.sqlite_db import OwnerLock

REPO = Path(__file__).resolve().parent.parent


def ignored(name: str) -> bool:
    patterns = [line.strip() for line in (REPO / ".gitignore").read_text().splitlines()]
    return any(fnmatch.fnmatch(name, p) for p in patterns if p and not p.startswith(("#", "!")))


def test_the_database_and_its_companions_are_ignored() -> None:
    db = REPO / DEFAULT_DB
    companions = [db.name + suffix for suffix in ("", "-wal", "-shm", "-journal")]
    assert all(ignored(name) for name in [*companions, OwnerLock(db).path.name])
