"""The database of the local commands (``keys``, ``roles``): the one ``serve`` would use (``--db``, else
``CHIVE_ADMIN_DB``, else the default), which must exist; opened beside a running server; a bad file is one line."""

from __future__ import annotations

import argparse
import os
import subprocess
from pathlib import Path

import pytest
from support.server import cli_command, create_database

from chive_admin.cli.local_db import add_db_option, chosen_db, existing_db, opened
from chive_admin.settings import SettingsError
from chive_admin.store.db import Database, DatabaseUnavailable

ADMIN = "did:plc:localdbadmin00000000000000"


def test_the_flag_wins_then_the_variable_then_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    flag, env, default = tmp_path / "flag.db", tmp_path / "env.db", tmp_path / "chive-admin.db"
    for path in (flag, env, default):
        create_database(path)
    monkeypatch.chdir(tmp_path)
    environ = {"CHIVE_ADMIN_DB": str(env)}
    assert existing_db(str(flag), environ) == flag.resolve()
    assert existing_db(None, environ) == env.resolve()
    assert existing_db(None, {}) == default.resolve()
    assert existing_db("chive-admin.db", {}).is_absolute()


@pytest.mark.parametrize(
    ("flag", "env", "source"),
    [("typo.db", None, "--db"), (None, "missing.db", "CHIVE_ADMIN_DB"), (None, None, "the default")],
)
def test_a_missing_database_is_never_created_and_its_source_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flag: str | None, env: str | None, source: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SettingsError) as caught:
        existing_db(flag, {"CHIVE_ADMIN_DB": env} if env else {})
    message = str(caught.value)
    assert message.startswith(f"--db: no database at {tmp_path.resolve()}/")
    assert f"({source})" in message
    assert "only `chive-admin serve` creates one" in message
    assert list(tmp_path.iterdir()) == []


def test_the_chosen_database_is_named_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "named.db"
    create_database(db)
    parser = argparse.ArgumentParser()
    add_db_option(parser)
    assert chosen_db(parser.parse_args(["--db", str(db)])) == db.resolve()
    assert capsys.readouterr().err == f"database: {db.resolve()}\n"


async def test_opened_beside_a_server_that_holds_the_database(tmp_path: Path) -> None:
    path = tmp_path / "served.db"
    server = await Database.open(path, readers=1)  # holds the owner lock
    try:
        async with opened(path) as db, db.write() as conn:
            await conn.execute("CREATE TABLE beside (x)")
        async with server.read() as conn:
            assert [tuple(r) for r in await conn.fetchall("SELECT count(*) FROM beside")] == [(0,)]
    finally:
        await server.close()


async def test_a_file_that_is_no_database_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are my notes, not a database" * 100)
    with pytest.raises(DatabaseUnavailable, match=r"^--db: cannot use database .*notes\.db: "):
        async with opened(path):
            pass


def test_keys_and_roles_use_chive_admin_db_and_never_create_a_database(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for args, env in (
        (["keys", "list"], {}),  # the default, ./chive-admin.db, in a directory without one
        (["keys", "list", "--db", str(tmp_path / "typo.db")], {}),
        (["keys", "create", "--did", ADMIN, "--name", "x"], {"CHIVE_ADMIN_DB": str(tmp_path / "missing.db")}),
        (["roles", "list"], {"CHIVE_ADMIN_DB": str(tmp_path / "missing.db")}),
    ):
        refused = subprocess.run(
            cli_command(*args), cwd=elsewhere, env={**os.environ, **env}, capture_output=True, text=True, check=False
        )
        assert refused.returncode == 2, args
        assert refused.stderr.count("\n") == 1, refused.stderr
        assert "only `chive-admin serve` creates one" in refused.stderr
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["elsewhere"]  # nothing created anywhere

    db = tmp_path / "served.db"
    create_database(db)
    made = subprocess.run(
        cli_command("keys", "create", "--did", ADMIN, "--name", "env"),
        cwd=elsewhere,
        env={**os.environ, "CHIVE_ADMIN_DB": str(db)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    assert f"database: {db.resolve()}\n" in made.stderr
    listed = subprocess.run(
        cli_command("keys", "list", "--db", str(db)), capture_output=True, text=True, timeout=60, check=True
    )
    assert "env" in listed.stdout
    assert not (elsewhere / "chive-admin.db").exists()
