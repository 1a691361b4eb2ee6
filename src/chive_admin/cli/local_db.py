"""The database file as the local commands (``keys``, ``roles``) use it: beside a running server, never created.

Only ``serve`` creates a database. A command that made one wherever it was run from (another directory, a mistyped
``--db``) would write keys and roles to a file no server reads, without a word; so these commands take the same
``--db`` / ``CHIVE_ADMIN_DB`` / default as ``serve``, refuse a file that does not exist, and name the file they used.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from chive_admin.settings import DEFAULT_DB, SettingsError, check_db_path, env_value
from chive_admin.store.db import Database, DatabaseUnavailable, MigrationError, SharedAccess


def add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        default=None,
        help=f"the server's SQLite database file (env CHIVE_ADMIN_DB, default ./{DEFAULT_DB}); it must exist",
    )


def existing_db(flag: str | None, environ: Mapping[str, str] | None = None) -> Path:
    """The absolute path of the database ``--db`` (else ``CHIVE_ADMIN_DB``, else the default) names; it must exist."""
    from_env = env_value(os.environ if environ is None else environ, "--db")
    source = "--db" if flag else "CHIVE_ADMIN_DB" if from_env else "the default"
    path = check_db_path(flag or from_env or DEFAULT_DB).resolve()
    if not path.is_file():
        raise SettingsError(
            f"--db: no database at {path} ({source}); only `chive-admin serve` creates one: "
            "run this where the server runs, or give its file with --db or CHIVE_ADMIN_DB"
        )
    return path


def chosen_db(args: argparse.Namespace) -> Path:
    """The database of a local command's ``--db``, named on stderr so the operator sees which file was used."""
    path = existing_db(args.db)
    print(f"database: {path}", file=sys.stderr)
    return path


@asynccontextmanager
async def opened(path: Path) -> AsyncIterator[Database]:
    """The database beside a running server: no owner lock taken (WAL and the busy timeout make a few writes safe
    next to the server's writer). A file that is no database, or one a newer version wrote, is one clear line."""
    try:
        db = await Database.open(path, readers=1, lock=SharedAccess(path))
    except (sqlite3.Error, MigrationError) as exc:
        raise DatabaseUnavailable(f"--db: cannot use database {path}: {exc}") from None
    try:
        yield db
    except sqlite3.Error as exc:
        raise DatabaseUnavailable(f"--db: database {path}: {exc}") from None
    finally:
        await db.close()
