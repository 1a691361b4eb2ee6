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

import asyncpg

from chive_admin.settings import DEFAULT_DB, SettingsError, database_target, env_value
from chive_admin.store.db import Database, DatabaseUnavailable, MigrationError
from chive_admin.store.sqlite_db import SharedAccess
from chive_admin.store.target import DbTarget, describe


def add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        default=None,
        help=f"the server's SQLite database file (env CHIVE_ADMIN_DB, default ./{DEFAULT_DB}); it must exist",
    )


def existing_db(flag: str | None, environ: Mapping[str, str] | None = None) -> DbTarget:
    """The database ``--db`` (else ``CHIVE_ADMIN_DB``, else the default) names: a PostgreSQL URL, or the absolute
    path of a SQLite file, which must exist."""
    from_env = env_value(os.environ if environ is None else environ, "--db")
    source = "--db" if flag else "CHIVE_ADMIN_DB" if from_env else "the default"
    target = database_target("--db", str(flag or from_env or DEFAULT_DB))
    if not isinstance(target, Path):
        return target
    path = target.resolve()
    if not path.is_file():
        raise SettingsError(
            f"--db: no database at {path} ({source}); only `chive-admin serve` creates one: "
            "run this where the server runs, or give its file with --db or CHIVE_ADMIN_DB"
        )
    return path


def chosen_db(args: argparse.Namespace) -> DbTarget:
    """The database of a local command's ``--db``, named on stderr so the operator sees which one was used."""
    target = existing_db(args.db)
    print(f"database: {describe(target)}", file=sys.stderr)
    return target


@asynccontextmanager
async def opened(target: DbTarget) -> AsyncIterator[Database]:
    """The database beside a running server: on SQLite no owner lock is taken (WAL and the busy timeout make a few
    writes safe next to the server's writer). A file that is no database, a server that cannot be reached, or a
    database a newer version wrote, is one clear line."""
    lock = SharedAccess(target) if isinstance(target, Path) else None
    try:
        db = await Database.open(target, readers=1, writers=1, lock=lock)
    except (sqlite3.Error, asyncpg.PostgresError, MigrationError) as exc:
        raise DatabaseUnavailable(f"--db: cannot use database {describe(target)}: {exc}") from None
    try:
        yield db
    except (sqlite3.Error, asyncpg.PostgresError) as exc:
        raise DatabaseUnavailable(f"--db: database {describe(target)}: {exc}") from None
    finally:
        await db.close()
