"""What ``--db`` names: a SQLite file (the embedded default) or a PostgreSQL server shared by several processes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

SCHEMES = ("postgresql", "postgres")
SQLITE_PREFIX = "sqlite:///"


class TargetError(ValueError):
    """``--db`` names nothing usable; the message never holds the password."""


@dataclass(frozen=True)
class PostgresUrl:
    """A ``postgresql://user:password@host:port/dbname`` URL. Printed, it shows no password."""

    url: str

    @classmethod
    def parse(cls, value: str) -> PostgresUrl:
        try:
            parts = urlsplit(value)
            port = parts.port  # a port that is not a number raises here
        except ValueError:
            raise TargetError("not a valid postgresql:// URL") from None
        if parts.scheme not in SCHEMES:
            raise TargetError(f"scheme {parts.scheme!r} is not postgresql://")
        if not parts.hostname and "host=" not in parts.query:
            raise TargetError(f"{cls(value)} names no host")
        if not unquote(parts.path.lstrip("/")):
            raise TargetError(f"{cls(value)} names no database (postgresql://user:password@host:port/dbname)")
        del port
        return cls(value)

    @property
    def redacted(self) -> str:
        parts = urlsplit(self.url)
        if parts.password is None:
            return self.url
        user = parts.username or ""
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, f"{user}:***@{host}", parts.path, parts.query, parts.fragment))

    def __str__(self) -> str:
        return self.redacted

    def __repr__(self) -> str:
        return f"PostgresUrl({self.redacted!r})"


DbTarget = Path | PostgresUrl


def parse_target(value: str) -> DbTarget:
    """A ``postgresql://`` URL, a ``sqlite:///path`` URL, or a plain file path (SQLite)."""
    if value.split("://", 1)[0] in SCHEMES and "://" in value:
        return PostgresUrl.parse(value)
    if value.startswith(SQLITE_PREFIX):
        # SQLAlchemy's form: sqlite:///relative.db, sqlite:////absolute/path.db
        rest = value[len(SQLITE_PREFIX) :]
        if not rest:
            raise TargetError("sqlite:/// names no file")
        return Path(rest)
    if "://" in value:
        raise TargetError(f"{value.split('://', 1)[0]}:// is not a database this server uses (postgresql:// or a file)")
    return Path(value)


def describe(target: DbTarget) -> str:
    """For banners and log lines: the file's absolute path, or the URL without its password."""
    return str(target.resolve()) if isinstance(target, Path) else target.redacted
