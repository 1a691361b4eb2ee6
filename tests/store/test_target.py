"""What --db names: a SQLite file or a PostgreSQL URL, never printed with its password."""

from __future__ import annotations

from pathlib import Path

import pytest

from chive_admin.store.target import PostgresUrl, TargetError, describe, parse_target


def test_a_path_or_a_sqlite_url_is_a_file() -> None:
    assert parse_target("data/admin.db") == Path("data/admin.db")
    assert parse_target("sqlite:///data/admin.db") == Path("data/admin.db")
    assert parse_target("sqlite:////var/lib/admin.db") == Path("/var/lib/admin.db")


def test_a_postgresql_url_is_kept_whole_but_shown_without_its_password() -> None:
    target = parse_target("postgresql://chive:s3cr%40t@db.internal:5433/chive_admin")
    assert isinstance(target, PostgresUrl)
    assert target.url == "postgresql://chive:s3cr%40t@db.internal:5433/chive_admin"
    for shown in (str(target), repr(target), describe(target), f"{target}"):
        assert "s3cr" not in shown
    assert describe(target) == "postgresql://chive:***@db.internal:5433/chive_admin"
    assert isinstance(parse_target("postgres://u@h/d"), PostgresUrl)  # libpq's short scheme


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("postgresql://u:pw@h:notaport/d", "not a valid"),
        ("postgresql://u:pw@h:5432/", "names no database"),
        ("postgresql:///d", "names no host"),
        ("mysql://u:pw@h/d", "mysql:// is not a database"),
        ("sqlite:///", "names no file"),
    ],
)
def test_a_bad_target_is_refused_without_the_password(value: str, why: str) -> None:
    with pytest.raises(TargetError, match=why) as caught:
        parse_target(value)
    assert "pw@" not in str(caught.value)
