"""Server settings: command-line flags, each also readable from ``CHIVE_ADMIN_<FLAG>``; flags win over env.

Every value is checked here, before anything starts, so a bad value is one clear line instead of a traceback
from deep inside the server.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from chive_admin.lex.formats import validate_did

T = TypeVar("T")

ENV_PREFIX = "CHIVE_ADMIN_"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8590
DEFAULT_DB = Path("chive-admin.db")
DEFAULT_PLC_URL = "https://plc.directory"
DEFAULT_WORKERS = 2
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_RETENTION_DAYS = 90
DEFAULT_UPSTREAM_CONCURRENCY = 16
#: seconds a client has to send a request's headers, and then again its body
DEFAULT_CLIENT_TIMEOUT = 10
#: open client connections at once; each holds a file descriptor, and the usual soft limit is 1,024 of them
DEFAULT_MAX_CONNECTIONS = 512
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
#: variables of the client commands (``ops``, ``dlq``): read there, so not unknown to the server either
CLIENT_VARIABLES = frozenset({"CHIVE_ADMIN_URL", "CHIVE_ADMIN_KEY"})
#: seconds one upstream request may take, connect to last byte (an export: more while it keeps a minimum rate)
DEFAULT_UPSTREAM_DEADLINE = 60
#: operations waiting for a worker at most; a trigger past it is refused (503), none is dropped
DEFAULT_MAX_QUEUED_OPS = 1000
#: export reader processes: one per core beyond the first (the server's own), at least one, at most four
DEFAULT_EXPORT_READERS = max(1, min(4, (os.cpu_count() or 1) - 1))
_HOST_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class SettingsError(ValueError):
    """A setting has a value the server cannot run with; the message names the flag."""


@dataclass(frozen=True)
class Settings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    db: Path = DEFAULT_DB
    service_did: str = ""
    admin_dids: tuple[str, ...] = ()
    plc_url: str = DEFAULT_PLC_URL
    governance_did: str | None = None
    workers: int = DEFAULT_WORKERS
    allow_private_network: bool = False
    max_body_bytes: int = field(default=DEFAULT_MAX_BODY_BYTES, metadata={"env": False})  # no flag either
    log_level: str = "info"
    #: ended operations older than this are pruned by the engine
    retention_days: int = DEFAULT_RETENTION_DAYS
    #: extra job classes, ``module:Class`` (an extension point; the engine's own tests use it)
    job_plugins: tuple[str, ...] = ()
    #: a bearer token that may read /metrics without admin credentials (for a Prometheus scraper)
    metrics_token: str | None = None
    log_format: str = "text"
    #: seconds an upstream (PDS, PLC) read may take before the attempt counts as failed
    upstream_timeout: float = 30.0
    #: seconds one upstream request may take from connecting to the last byte of its answer, however steadily the
    #: bytes come (an export may take longer while it keeps arriving at ``upstream.xrpc.EXPORT_MIN_RATE``)
    upstream_deadline: float = DEFAULT_UPSTREAM_DEADLINE
    #: attempts per upstream call (retries with backoff and jitter on timeouts, resets, 5xx and 429)
    upstream_attempts: int = 6
    #: requests in flight to one upstream host at once, shared by every job (a pds-scan fetches as many
    #: repositories at once); at network distance a listing is bound by round trips, so this sets its speed
    upstream_concurrency: int = DEFAULT_UPSTREAM_CONCURRENCY
    #: processes that read repository exports (did-sync); 0 reads them on a thread of the server instead
    export_readers: int = DEFAULT_EXPORT_READERS
    #: proxies whose ``X-Forwarded-For``/``-Proto`` are believed; from anyone else those headers are ignored
    trusted_proxies: tuple[IPNetwork, ...] = ()
    #: seconds a client has to send a request's headers, and then again its body, before it is cut off
    client_timeout: float = float(DEFAULT_CLIENT_TIMEOUT)
    #: client connections open at once; one more is closed as soon as it is accepted
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    #: operations queued at most (waiting for a worker); a trigger past it is refused with 503 NotEnoughResources
    max_queued_ops: int = DEFAULT_MAX_QUEUED_OPS

    def __post_init__(self) -> None:
        if not self.service_did:
            object.__setattr__(self, "service_did", default_service_did(self.host, self.port))

    @property
    def public_url(self) -> str:
        host = "localhost" if self.host in ("0.0.0.0", "::") else self.host  # noqa: S104 - a name for the DID, not a bind
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"


def default_service_did(host: str, port: int) -> str:
    """``did:web:<host>%3A<port>``: what the server is on a machine with no configuration at all."""
    name = "localhost" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - a name for the DID, not a bind
    return f"did:web:{name}%3A{port}"


def check_did(flag: str, value: str) -> str:
    try:
        return validate_did(value)
    except ValueError as exc:
        raise SettingsError(f"{flag}: {value!r} is not a valid DID ({exc})") from None


def check_url(flag: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"{flag}: {value!r} is not an http(s) URL")
    if parts.query or parts.fragment:
        raise SettingsError(f"{flag}: {value!r} must not have a query or fragment")
    return value.rstrip("/")


def check_host(flag: str, value: str) -> str:
    if not value:
        raise SettingsError(f"{flag}: must not be empty")
    try:
        ipaddress.ip_address(value)
    except ValueError:
        if not _HOST_NAME.fullmatch(value):
            raise SettingsError(f"{flag}: {value!r} is neither an IP address nor a host name") from None
    return value


def check_network(flag: str, value: str) -> IPNetwork:
    """An IP address or a CIDR block (``10.0.0.0/8``); host bits are allowed (``10.1.2.3/8`` means 10.0.0.0/8)."""
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise SettingsError(f"{flag}: {value!r} is not an IP address or CIDR block") from None


def check_int(flag: str, value: str | int, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{flag}: {value!r} is not a whole number") from None
    if not low <= number <= high:
        raise SettingsError(f"{flag}: {number} is out of range ({low}…{high})")
    return number


def check_token(flag: str, value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if len(value) < 16 or not value.isascii() or not value.isprintable() or " " in value:
        raise SettingsError(f"{flag}: must be at least 16 printable ASCII characters without spaces")
    return value


def check_choice(flag: str, value: str, choices: tuple[str, ...]) -> str:
    if value.lower() not in choices:
        raise SettingsError(f"{flag}: {value!r} is not one of {', '.join(choices)}")
    return value.lower()


def check_bool(flag: str, value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise SettingsError(f"{flag}: {value!r} is not a boolean (true/false)")


def check_db_path(value: str | Path, flag: str = "--db") -> Path:
    path = Path(value)
    if path.exists() and path.is_dir():
        raise SettingsError(f"{flag}: {path} is a directory, not a database file")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise SettingsError(f"{flag}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise SettingsError(f"{flag}: directory {parent} is not writable")
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise SettingsError(f"{flag}: {path} is not readable and writable")
    return path


def env_value(environ: Mapping[str, str], flag: str) -> str | None:
    return environ.get(env_name(flag))


def env_name(flag: str) -> str:
    """``--plc-url`` -> ``CHIVE_ADMIN_PLC_URL``."""
    return ENV_PREFIX + flag.lstrip("-").replace("-", "_").upper()


def server_variables() -> frozenset[str]:
    """The ``CHIVE_ADMIN_*`` variables the server reads: one per setting (``CHIVE_ADMIN_<FIELD>``)."""
    return frozenset(ENV_PREFIX + f.name.upper() for f in fields(Settings) if f.metadata.get("env", True))


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """A warning for each ``CHIVE_ADMIN_*`` variable nothing reads: a typo (``CHIVE_ADMIN_ADMIN_DID``) would
    otherwise pass silently and leave the setting at its default."""
    known = server_variables() | CLIENT_VARIABLES
    warnings = []
    for name in sorted(environ):
        if name.startswith(ENV_PREFIX) and name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.8)
            hint = f" (did you mean {close[0]}?)" if close else ""
            warnings.append(f"{name} is not a chive-admin setting and is ignored{hint}")
    return warnings


def build(
    *,
    host: str | None,
    port: str | int | None,
    db: str | Path | None,
    service_did: str | None,
    admin_dids: Sequence[str] | None,
    plc_url: str | None,
    governance_did: str | None,
    workers: str | int | None,
    allow_private_network: bool | None,
    log_level: str | None,
    retention_days: str | int | None = None,
    job_plugins: Sequence[str] | None = None,
    metrics_token: str | None = None,
    log_format: str | None = None,
    upstream_timeout: str | float | None = None,
    upstream_attempts: str | int | None = None,
    upstream_deadline: str | float | None = None,
    upstream_concurrency: str | int | None = None,
    export_readers: str | int | None = None,
    trusted_proxies: Sequence[str] | None = None,
    client_timeout: str | int | None = None,
    max_connections: str | int | None = None,
    max_queued_ops: str | int | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Settings from flag values (``None`` where a flag was not given), falling back to env, then defaults.

    An error names where the bad value came from: the flag, or the env variable when no flag was given.
    """
    env = os.environ if environ is None else environ

    def pick(flag: str, given: object) -> tuple[str, str | None]:
        """The name to blame and the value: the flag's when one was given, else its env variable's."""
        if given is not None:
            return flag, str(given)
        return env_name(flag), env.get(env_name(flag))

    def pick_list(flag: str, variable: str, given: Sequence[str] | None) -> tuple[str, list[str]]:
        if given:
            return flag, list(given)
        name = ENV_PREFIX + variable
        return name, [v.strip() for v in (env.get(name) or "").split(",") if v.strip()]

    host_v = check_host(*_or(pick("--host", host), DEFAULT_HOST))
    port_v = check_int(*_or(pick("--port", port), DEFAULT_PORT), 1, 65535)
    admins_from, raw_admins = pick_list("--admin-did", "ADMIN_DIDS", admin_dids)
    _, plugins = pick_list("--job-plugin", "JOB_PLUGINS", job_plugins)
    proxies_from, proxies = pick_list("--trusted-proxy", "TRUSTED_PROXIES", trusted_proxies)
    service_from, service = pick("--service-did", service_did)
    governance_from, governance = pick("--governance-did", governance_did)
    private_from, private = pick("--allow-private-network", allow_private_network)
    level_from, level_raw = pick("--log-level", log_level)
    level = check_choice(level_from, level_raw or "info", LOG_LEVELS)
    readers_from, readers_raw = pick("--export-readers", export_readers)
    db_from, db_path = _or(pick("--db", db), DEFAULT_DB)
    return Settings(
        host=host_v,
        port=port_v,
        db=check_db_path(db_path, db_from),
        service_did=check_did(service_from, service) if service else "",
        admin_dids=tuple(dict.fromkeys(check_did(admins_from, d.strip()) for d in raw_admins)),
        plc_url=check_url(*_or(pick("--plc-url", plc_url), DEFAULT_PLC_URL)),
        governance_did=check_did(governance_from, governance) if governance else None,
        workers=check_int(*_or(pick("--workers", workers), DEFAULT_WORKERS), 1, 64),
        allow_private_network=check_bool(private_from, private) if private is not None else False,
        log_level=level,
        retention_days=check_int(*_or(pick("--retention-days", retention_days), DEFAULT_RETENTION_DAYS), 1, 36500),
        job_plugins=tuple(plugins),
        metrics_token=check_token(*_or(pick("--metrics-token", metrics_token), None)),
        log_format=check_choice(*_or(pick("--log-format", log_format), "text"), ("text", "json")),
        upstream_timeout=float(check_int(*_or(pick("--upstream-timeout", upstream_timeout), 30), 1, 600)),
        upstream_attempts=check_int(*_or(pick("--upstream-attempts", upstream_attempts), 6), 1, 20),
        upstream_deadline=float(
            check_int(*_or(pick("--upstream-deadline", upstream_deadline), DEFAULT_UPSTREAM_DEADLINE), 1, 3600)
        ),
        upstream_concurrency=check_int(
            *_or(pick("--upstream-concurrency", upstream_concurrency), DEFAULT_UPSTREAM_CONCURRENCY), 1, 256
        ),
        export_readers=check_int(readers_from, _given(readers_raw, DEFAULT_EXPORT_READERS), 0, 64),
        trusted_proxies=tuple(dict.fromkeys(check_network(proxies_from, p) for p in proxies)),
        client_timeout=float(check_int(*_or(pick("--client-timeout", client_timeout), DEFAULT_CLIENT_TIMEOUT), 1, 600)),
        max_connections=check_int(
            *_or(pick("--max-connections", max_connections), DEFAULT_MAX_CONNECTIONS), 1, 100_000
        ),
        max_queued_ops=check_int(*_or(pick("--max-queued-ops", max_queued_ops), DEFAULT_MAX_QUEUED_OPS), 1, 1_000_000),
    )


def _or(picked: tuple[str, str | None], default: T) -> tuple[str, str | T]:
    """``(name, value)`` for a check: the value picked, or the default when none was (or it was empty)."""
    name, value = picked
    return name, value or default


def _given(value: str | None, default: int) -> str | int:
    """``value`` when one was given, even ``"0"`` (which ``or`` would replace with the default)."""
    return default if value is None or value == "" else value
