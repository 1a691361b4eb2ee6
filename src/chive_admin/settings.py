"""Server settings: each one declared once, on its :class:`Settings` field; the rest is derived from there.

A declaration (:func:`setting`, :func:`repeated`, :func:`switch`) gives the field its default and says how a value
is checked (text in, the value out, or a :class:`SettingsError` naming where the text came from), what it is for,
and how its default is documented when the value alone does not say it. Derived from the declarations:

- the ``serve`` flags (:func:`add_arguments`): ``--<field-name>`` with dashes (a repeatable one names its own,
  singular flag), each help ending in the default;
- the variables ``CHIVE_ADMIN_<FIELD_NAME>`` (a repeatable one comma-separated), and a warning for any
  ``CHIVE_ADMIN_*`` variable that nothing reads (:func:`unknown_variables`);
- :func:`build`: a flag's value, else its variable's, else the default, every one checked before anything
  starts, so a bad value is one clear line instead of a traceback from deep inside the server;
- the README's configuration table, which ``tests/test_readme.py`` compares with them row by row.

Adding a setting is one declared field here plus one row in the README's table; the server reads it as
``settings.<field>``. A default that another module needs as well (the engine's, an upstream call's) is a
``DEFAULT_*`` constant here, which that module imports rather than repeating the figure.
"""

from __future__ import annotations

import argparse
import difflib
import ipaddress
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, TypeVar, cast
from urllib.parse import urlsplit

from chive_admin.lex.formats import validate_did
from chive_admin.store.target import DbTarget, TargetError, parse_target

T = TypeVar("T")

ENV_PREFIX = "CHIVE_ADMIN_"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8590
DEFAULT_DB = Path("chive-admin.db")
DEFAULT_PLC_URL = "https://plc.directory"
#: the relay a network backfill discovers repositories through (HappyView's default too)
DEFAULT_RELAY_URL = "https://bsky.network"
#: how a pds-scan without a pdsUrl finds repositories: through the relay, or on every PDS the registry knows
DISCOVERY_MODES = ("relay", "pds")
DEFAULT_WORKERS = 2
DEFAULT_LEASE_SECONDS = 30
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_RETENTION_DAYS = 90
#: operations waiting for a worker at most; a trigger past it is refused (503), none is dropped
DEFAULT_MAX_QUEUED_OPS = 1000
DEFAULT_UPSTREAM_CONCURRENCY = 16
#: seconds an upstream (PDS, PLC) read may take before the attempt counts as failed
DEFAULT_UPSTREAM_TIMEOUT = 30
#: attempts per upstream call, the first one included
DEFAULT_UPSTREAM_ATTEMPTS = 6
#: seconds a client has to send a request's headers, and then again its body
DEFAULT_CLIENT_TIMEOUT = 10
#: open client connections at once; each holds a file descriptor, and the usual soft limit is 1,024 of them
DEFAULT_MAX_CONNECTIONS = 512
#: a firehose source disconnected for longer than this (seconds) makes getSystemHealth say degraded
FIREHOSE_DOWN_DEGRADED_S = 60
#: an index lagging a firehose source by more than this (seconds) makes getSystemHealth say degraded
FIREHOSE_LAG_DEGRADED_S = 60
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
LOG_FORMATS = ("text", "json")
#: variables of the client commands (``ops``, ``dlq``): read there, so not unknown to the server either
CLIENT_VARIABLES = frozenset({"CHIVE_ADMIN_URL", "CHIVE_ADMIN_KEY"})
#: seconds one upstream request may take, connect to last byte (an export: more while it keeps a minimum rate)
DEFAULT_UPSTREAM_DEADLINE = 60
#: export reader processes: one per core beyond the first (the server's own), at least one, at most four
DEFAULT_EXPORT_READERS = max(1, min(4, (os.cpu_count() or 1) - 1))
_HOST_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
#: a setting's check: where the text came from (a flag or a variable, for the message) and the text -> the value
Check = Callable[[str, str], T]


class SettingsError(ValueError):
    """A setting has a value the server cannot run with; the message names the flag."""


# --- checks: each takes the name to blame and the text, and answers the value or a SettingsError naming it ---


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


def check_firehose_url(flag: str, value: str) -> str:
    """A firehose source: its http(s) service URL, or the ws(s) URL of the same origin."""
    parts = urlsplit(value)
    if parts.scheme in ("ws", "wss"):
        return check_url(flag, ("https" if parts.scheme == "wss" else "http") + value[len(parts.scheme) :])
    return check_url(flag, value)


def check_relay_url(flag: str, value: str) -> str | None:
    """A relay's http(s) URL, or ``none`` (no relay: a pds-scan without pdsUrl crawls the known PDSes)."""
    return None if value.strip().lower() == "none" else check_url(flag, value)


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


def whole(low: int, high: int) -> Check[int]:
    """A whole number from ``low`` to ``high``, both included."""
    return lambda flag, value: check_int(flag, value, low, high)


def seconds(low: int, high: int) -> Check[float]:
    """Whole seconds from ``low`` to ``high``, as a float (what timers take)."""
    return lambda flag, value: float(check_int(flag, value, low, high))


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


def choice(choices: tuple[str, ...]) -> Check[str]:
    """One of ``choices``, in any case."""
    return lambda flag, value: check_choice(flag, value, choices)


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


def database_target(flag: str, value: str) -> DbTarget:
    """A ``postgresql://`` URL, or a database file the server can create or open (its directory exists and is
    writable)."""
    try:
        target = parse_target(value)
    except TargetError as exc:
        raise SettingsError(f"{flag}: {exc}") from None
    return check_db_path(target, flag) if isinstance(target, Path) else target


def as_given(flag: str, value: str) -> str:
    """Taken as it is; what it names is checked where it is used (a job plugin, when it is loaded)."""
    return value


# --- declarations ---

Kind = Literal["value", "switch", "repeatable"]
_DECLARATION = "setting"  # the key of a field's metadata that holds its Declaration


@dataclass(frozen=True)
class Declaration:
    """One setting, as its :class:`Settings` field declares it: everything the flags, the variables,
    :func:`build` and the README's table are derived from."""

    check: Check[object]
    help: str
    default: object
    kind: Kind = "value"
    #: the default as the README shows it (Markdown), for a default its value does not say (computed from the
    #: machine or from other settings); else it is derived from the value
    shown: str | None = None
    #: a repeatable setting's flag, singular (``--admin-did`` for ``admin_dids``); else derived from the name
    own_flag: str | None = None
    metavar: str | None = None
    #: a value given twice counts once
    unique: bool = True
    #: the field's name, filled in from the field (a field does not know its name when its default is made)
    name: str = ""

    @property
    def flag(self) -> str:
        return self.own_flag or "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def documented_default(self) -> str:
        """The default as the README's table shows it."""
        if self.shown is not None:
            return self.shown
        if self.default is False:
            return "off"
        if not _is_set(self.default):
            return "none"
        return f"`{_text(self.default)}`"

    @property
    def help_text(self) -> str:
        """The help of its flag: what it is for, then its default (and how to give several values)."""
        default = self.documented_default.replace("`", "")
        if self.shown is not None and _is_set(self.default):
            default = f"{_text(self.default)}: {default}"  # a computed default: what it came to here, then how
        if self.kind == "repeatable":
            note = f"repeatable; env {self.env}, comma-separated; default {default}"
        else:
            note = f"default {default}"
        return f"{self.help} ({note})".replace("%", "%%")  # argparse formats help with %

    def value(self, given: object, environ: Mapping[str, str]) -> object:
        """The value from the flag's ``given`` value (``None``: the flag was not given), else from the variable
        in ``environ``, else the default; an empty text counts as none given."""
        if self.kind == "repeatable":
            return self._values(given, environ)
        source, text = (self.flag, str(given)) if given is not None else (self.env, environ.get(self.env, ""))
        if text:
            return self.check(source, text)
        if not _is_set(self.default):
            return self.default
        # checked as if it had been typed: a default database file in a directory that cannot be written is
        # refused at once, as one given would be
        return self.check(source, _text(self.default))

    def _values(self, given: object, environ: Mapping[str, str]) -> tuple[object, ...]:
        items = _items(given)
        source = self.flag
        if not items:
            source, items = self.env, [item.strip() for item in environ.get(self.env, "").split(",") if item.strip()]
        values = [self.check(source, item) for item in items]
        return tuple(dict.fromkeys(values) if self.unique else values)


def setting(default: T, check: Check[T], help: str, *, shown: str | None = None) -> T:
    """A setting with one value: flag ``--<field-name>``, variable ``CHIVE_ADMIN_<FIELD_NAME>``."""
    return field(default=default, metadata={_DECLARATION: Declaration(check, help, default, shown=shown)})


def repeated(flag: str, check: Check[T], help: str, *, metavar: str, unique: bool = True) -> tuple[T, ...]:
    """A setting with any number of values: ``flag`` once per value, or the variable, comma-separated."""
    none: tuple[T, ...] = ()
    declared = Declaration(check, help, none, kind="repeatable", own_flag=flag, metavar=metavar, unique=unique)
    return field(default=none, metadata={_DECLARATION: declared})


def switch(help: str) -> bool:
    """An on/off setting, off by default: the flag turns it on; the variable takes true/false, yes/no, on/off."""
    return field(default=False, metadata={_DECLARATION: Declaration(check_bool, help, False, kind="switch")})


def _is_set(default: object) -> bool:
    """Whether a default is a value, rather than "none", "off" or "computed elsewhere"."""
    return not (default is None or default is False or default == "" or default == ())


def _text(value: object) -> str:
    """A default as it would be typed."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Path) and not value.is_absolute():
        return f"./{value}"
    return str(value)


def _items(given: object) -> list[str]:
    """The values of a repeatable flag: argparse's list of them (or one value given on its own)."""
    if given is None:
        return []
    if isinstance(given, Iterable) and not isinstance(given, str):
        return [str(item).strip() for item in given]
    return [str(given).strip()]


@dataclass(frozen=True)
class Settings:
    """What the server runs with. Each field declared with :func:`setting` (or a variant) is a flag and a variable
    (see the module docstring); the others are fixed bounds, settable only by code (tests, benchmarks)."""

    host: str = setting(DEFAULT_HOST, check_host, "address to listen on")
    port: int = setting(DEFAULT_PORT, whole(1, 65535), "port to listen on")
    # setting() answers a dataclass field, as field() does (no value shared by every instance)
    db: DbTarget = setting(  # noqa: RUF009
        cast(DbTarget, DEFAULT_DB),
        database_target,
        "SQLite database file, or a `postgresql://user:pass@host:port/dbname` URL shared by several processes;"
        " created (SQLite) and migrated on start",
    )
    #: left empty, ``did:web`` of host and port (:func:`default_service_did`)
    service_did: str = setting(
        "",
        check_did,
        "this service's DID: the `aud` that service-auth tokens must carry",
        shown="`did:web:<host>%3A<port>`",
    )
    admin_dids: tuple[str, ...] = repeated("--admin-did", check_did, "a DID that is always admin", metavar="DID")
    plc_url: str = setting(DEFAULT_PLC_URL, check_url, "PLC directory for did:plc resolution")
    #: asked only for handles DNS and HTTPS do not resolve (the only way for `.test` handles)
    handle_resolver: str | None = setting(
        None,
        check_url,
        "a service trusted to resolve handles (com.atproto.identity.resolveHandle), after DNS and HTTPS",
    )
    governance_did: str | None = setting(
        None, check_did, "repo DID whose pub.chive.graph.* records governance-sync mirrors"
    )
    #: off by default: one source, a relay or a PDS (see the README's "Live indexing")
    firehose_url: str | None = setting(
        None,
        check_firehose_url,
        "a relay or PDS whose com.atproto.sync.subscribeRepos keeps the index current (live indexing)",
    )
    #: off by default: one subscription per host of the PDS registry, the registry polled for new hosts
    firehose_pdses: bool = switch(
        "also subscribe to every PDS of the registry (one source per host, each with its own cursor; live indexing)"
    )
    #: None: no relay (``none``); a pds-scan without pdsUrl then crawls the known PDSes
    relay_url: str | None = setting(
        cast("str | None", DEFAULT_RELAY_URL),
        check_relay_url,
        "a relay whose com.atproto.sync.listReposByCollection a pds-scan without pdsUrl discovers repositories"
        " through (network backfill); `none` disables it",
    )
    discovery: str = setting(
        "relay",
        choice(DISCOVERY_MODES),
        "how a pds-scan without pdsUrl finds repositories: relay (--relay-url), or pds (every PDS the registry knows)",
    )
    workers: int = setting(
        DEFAULT_WORKERS,
        whole(0, 64),
        "backfill operations run at once; 0 (PostgreSQL only): this process answers the API and runs no ingest (no"
        " operations, no firehose), leaving it to the processes beside it",
    )
    #: how long a claim holds without a heartbeat: on a shared database, how soon another process takes the op
    #: of one that died
    lease_seconds: float = setting(
        float(DEFAULT_LEASE_SECONDS),
        seconds(3, 600),
        "seconds an operation's claim (or a firehose source's lease) holds without a heartbeat; on PostgreSQL, how"
        " soon another process resumes the op (or reads the source) of one that died",
    )
    allow_private_network: bool = switch(
        "let upstream calls reach loopback/private addresses: for local development and tests only"
    )
    log_level: str = setting("info", choice(LOG_LEVELS), "what is logged: " + ", ".join(LOG_LEVELS))
    #: ended operations older than this are pruned by the engine
    retention_days: int = setting(
        DEFAULT_RETENTION_DAYS, whole(1, 36500), "days ended operations are kept before pruning"
    )
    #: a trigger past it is refused with 503 NotEnoughResources
    max_queued_ops: int = setting(
        DEFAULT_MAX_QUEUED_OPS, whole(1, 1_000_000), "operations waiting for a worker at most (queued)"
    )
    #: for a Prometheus scraper
    metrics_token: str | None = setting(
        None, check_token, "a bearer token that may read /metrics without admin credentials"
    )
    log_format: str = setting("text", choice(LOG_FORMATS), "text, or json: one JSON object per line")
    upstream_timeout: float = setting(
        float(DEFAULT_UPSTREAM_TIMEOUT), seconds(1, 600), "seconds an upstream (PDS, PLC) read may take"
    )
    #: retries with backoff and jitter on timeouts, resets, 5xx and 429
    upstream_attempts: int = setting(
        DEFAULT_UPSTREAM_ATTEMPTS, whole(1, 20), "attempts per upstream call, retries included"
    )
    #: however steadily the bytes come; an export may take longer while it keeps arriving at
    #: ``upstream.calls.RetryPolicy.export_min_rate``
    upstream_deadline: float = setting(
        float(DEFAULT_UPSTREAM_DEADLINE),
        seconds(1, 3600),
        "seconds one upstream request may take, connect to last byte; an export may take longer (see the README)",
    )
    #: shared by every job (a pds-scan fetches as many repositories at once); at network distance a listing is
    #: bound by round trips, so this sets its speed
    upstream_concurrency: int = setting(
        DEFAULT_UPSTREAM_CONCURRENCY, whole(1, 256), "requests in flight to one upstream host at once"
    )
    export_readers: int = setting(
        DEFAULT_EXPORT_READERS,
        whole(0, 64),
        "processes that read repository exports (did-sync), beside one more that checks listing pages (pds-scan); 0:"
        " exports are read on a thread of the server, pages checked on its event loop",
        shown="one per core beyond the first, 1-4",
    )
    #: an extension point; the engine's own tests use it. Not deduplicated: a plugin named twice is refused by
    #: the job registry as a type registered twice
    job_plugins: tuple[str, ...] = repeated(
        "--job-plugin", as_given, "load an extra job type", metavar="MODULE:CLASS", unique=False
    )
    #: from anyone else ``X-Forwarded-For``/``-Proto`` are ignored
    trusted_proxies: tuple[IPNetwork, ...] = repeated(
        "--trusted-proxy",
        check_network,
        "a reverse proxy whose X-Forwarded-For is believed; from anyone else forwarded headers are ignored",
        metavar="IP|CIDR",
    )
    client_timeout: float = setting(
        float(DEFAULT_CLIENT_TIMEOUT),
        seconds(1, 600),
        "seconds a client has to send a request's headers, then again its body, before it is cut off",
    )
    #: one more is closed as soon as it is accepted
    max_connections: int = setting(
        DEFAULT_MAX_CONNECTIONS, whole(1, 100_000), "client connections open at once; more are closed at once"
    )
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES

    def __post_init__(self) -> None:
        if not self.service_did:
            object.__setattr__(self, "service_did", default_service_did(self.host, self.port))

    @property
    def public_url(self) -> str:
        host = "localhost" if self.host in ("0.0.0.0", "::") else self.host  # noqa: S104 - a name for the DID, not a bind
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"


#: every declared setting, in the order of the fields: the order of ``serve --help`` and of the README's table
DECLARATIONS: tuple[Declaration, ...] = tuple(
    replace(f.metadata[_DECLARATION], name=f.name) for f in fields(Settings) if _DECLARATION in f.metadata
)


def default_service_did(host: str, port: int) -> str:
    """``did:web:<host>%3A<port>``: what the server is on a machine with no configuration at all."""
    name = "localhost" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - a name for the DID, not a bind
    return f"did:web:{name}%3A{port}"


# --- derived: the flags, the values, the variables ---


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per declared setting. None has an argparse default, so that :func:`build` can tell a flag not
    given (``None``: its variable is read) from one given."""
    for declared in DECLARATIONS:
        if declared.kind == "switch":
            parser.add_argument(
                declared.flag, dest=declared.name, action="store_const", const=True, help=declared.help_text
            )
        elif declared.kind == "repeatable":
            parser.add_argument(
                declared.flag, dest=declared.name, action="append", metavar=declared.metavar, help=declared.help_text
            )
        else:
            parser.add_argument(declared.flag, dest=declared.name, help=declared.help_text)


def from_arguments(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from a command line parsed with :func:`add_arguments`."""
    return build(environ=environ, **{declared.name: getattr(args, declared.name) for declared in DECLARATIONS})


def build(*, environ: Mapping[str, str] | None = None, **given: object) -> Settings:
    """Settings from flag values by field name (``None`` or left out: not given), falling back to each setting's
    variable in ``environ`` (``os.environ`` by default), then to its default.

    An error names where the bad value came from: the flag, or the variable when no flag was given.
    """
    unknown = given.keys() - {declared.name for declared in DECLARATIONS}
    if unknown:
        raise TypeError(f"build() got values for no setting: {', '.join(sorted(unknown))}")
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {declared.name: declared.value(given.get(declared.name), env) for declared in DECLARATIONS}
    return Settings(**values)


def env_value(environ: Mapping[str, str], flag: str) -> str | None:
    """The value of the variable of the setting whose flag is ``flag``."""
    return environ.get(next(declared.env for declared in DECLARATIONS if declared.flag == flag))


def server_variables() -> frozenset[str]:
    """The ``CHIVE_ADMIN_*`` variables the server reads: one per declared setting."""
    return frozenset(declared.env for declared in DECLARATIONS)


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
