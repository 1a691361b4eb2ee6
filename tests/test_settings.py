"""Settings: flags over env over defaults, each value checked, all of it derived from one declaration per field."""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
from dataclasses import fields
from pathlib import Path
from typing import NamedTuple

import pytest

from chive_admin.settings import (
    CLIENT_VARIABLES,
    DECLARATIONS,
    Declaration,
    Settings,
    SettingsError,
    add_arguments,
    build,
    default_service_did,
    from_arguments,
    server_variables,
    unknown_variables,
)
from chive_admin.store.target import PostgresUrl


class Case(NamedTuple):
    """A good text and the value it gives; a bad text and its error after ``<flag or variable>: ``."""

    good: str
    value: object
    bad: str | None
    error: str | None


#: written out by hand, not derived: what each setting takes and refuses is what these tests pin down
CASES = {
    "host": Case("::1", "::1", "bad host!", "'bad host!' is neither an IP address nor a host name"),
    "port": Case("9000", 9000, "eighty", "'eighty' is not a whole number"),
    "db": Case("state.db", Path("state.db"), "/nonexistent-dir/x.db", "directory /nonexistent-dir does not exist"),
    "service_did": Case("did:web:example.org", "did:web:example.org", "did:web:", "'did:web:' is not a valid DID"),
    "admin_dids": Case("did:plc:aaa,did:plc:bbb", ("did:plc:aaa", "did:plc:bbb"), "nope", "'nope' is not a valid DID"),
    "plc_url": Case("http://127.0.0.1:2582/", "http://127.0.0.1:2582", "ftp://x", "'ftp://x' is not an http(s) URL"),
    "handle_resolver": Case(
        "http://127.0.0.1:2583/", "http://127.0.0.1:2583", "ftp://x", "'ftp://x' is not an http(s) URL"
    ),
    "governance_did": Case("did:plc:gov", "did:plc:gov", "did:bad", "'did:bad' is not a valid DID"),
    # a relay's wss:// URL is its https:// service URL (what the firehose client turns back into wss://)
    "firehose_url": Case("wss://relay.example/", "https://relay.example", "ftp://x", "'ftp://x' is not an http(s) URL"),
    "firehose_pdses": Case("1", True, "several", "'several' is not a boolean (true/false)"),
    # `none` turns the network backfill's relay off
    "relay_url": Case("None", None, "ftp://x", "'ftp://x' is not an http(s) URL"),
    "discovery": Case("PDS", "pds", "dns", "'dns' is not one of relay, pds"),
    "workers": Case("8", 8, "abc", "'abc' is not a whole number"),
    "lease_seconds": Case("10", 10.0, "2", "2 is out of range (3…600)"),
    "allow_private_network": Case("yes", True, "maybe", "'maybe' is not a boolean (true/false)"),
    "log_level": Case("DEBUG", "debug", "loud", "'loud' is not one of critical, error, warning, info, debug"),
    "retention_days": Case("7", 7, "0", "0 is out of range (1…36500)"),
    "max_queued_ops": Case("50", 50, "0", "0 is out of range (1…1000000)"),
    "metrics_token": Case("t" * 16, "t" * 16, "short", "must be at least 16 printable ASCII characters"),
    "log_format": Case("JSON", "json", "xml", "'xml' is not one of text, json"),
    "upstream_timeout": Case("45", 45.0, "601", "601 is out of range (1…600)"),
    "upstream_attempts": Case("3", 3, "21", "21 is out of range (1…20)"),
    "upstream_deadline": Case("120", 120.0, "3601", "3601 is out of range (1…3600)"),
    "upstream_concurrency": Case("4", 4, "many", "'many' is not a whole number"),
    "export_readers": Case("0", 0, "65", "65 is out of range (0…64)"),
    "job_plugins": Case("a.b:C,d:E", ("a.b:C", "d:E"), None, None),  # loaded (and refused) by the job registry
    "trusted_proxies": Case(
        "10.1.2.3/8,::1", (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1")), "*", "'*' is not an IP"
    ),
    "client_timeout": Case("5", 5.0, "0", "0 is out of range (1…600)"),
    "max_connections": Case("64", 64, "100001", "100001 is out of range (1…100000)"),
}

#: the whole-number settings and their ranges, both ends included
RANGES = {
    "port": (1, 65535),
    "workers": (0, 64),
    "lease_seconds": (3, 600),
    "retention_days": (1, 36500),
    "max_queued_ops": (1, 1_000_000),
    "upstream_timeout": (1, 600),
    "upstream_attempts": (1, 20),
    "upstream_deadline": (1, 3600),
    "upstream_concurrency": (1, 256),
    "export_readers": (0, 64),
    "client_timeout": (1, 600),
    "max_connections": (1, 100_000),
}

BY_NAME = {declared.name: declared for declared in DECLARATIONS}


def flag_value(declared: Declaration, text: str) -> object:
    """What argparse hands over for ``text``: a list for a repeatable flag, ``True`` for a switch."""
    if declared.kind == "repeatable":
        return text.split(",")
    if declared.kind == "switch":
        return True
    return text


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the default database, and relative ones, land here


def test_the_cases_cover_every_declared_setting() -> None:
    assert set(CASES) == set(BY_NAME)


@pytest.mark.parametrize("name", CASES)
def test_every_setting_from_its_flag(name: str) -> None:
    case = CASES[name]
    value = True if BY_NAME[name].kind == "switch" else case.value
    assert getattr(build(**{name: flag_value(BY_NAME[name], case.good)}, environ={}), name) == value


@pytest.mark.parametrize("name", CASES)
def test_every_setting_from_its_variable(name: str) -> None:
    assert getattr(build(environ={BY_NAME[name].env: CASES[name].good}), name) == CASES[name].value


@pytest.mark.parametrize("name", CASES)
def test_a_flag_wins_over_its_variable(name: str) -> None:
    declared, case = BY_NAME[name], CASES[name]
    environ = {declared.env: case.bad or "x.y:Z"}  # the variable alone would be refused (or another value)
    value = True if declared.kind == "switch" else case.value
    assert getattr(build(**{name: flag_value(declared, case.good)}, environ=environ), name) == value


@pytest.mark.parametrize("name", [name for name, case in CASES.items() if case.bad is not None])
def test_a_bad_value_names_the_flag_it_came_from(name: str) -> None:
    declared, case = BY_NAME[name], CASES[name]
    assert case.bad is not None
    assert case.error is not None
    given = case.bad.split(",") if declared.kind == "repeatable" else case.bad
    with pytest.raises(SettingsError, match=f"^{re.escape(f'{declared.flag}: {case.error}')}"):
        build(**{name: given}, environ={declared.env: case.good})


@pytest.mark.parametrize("name", [name for name, case in CASES.items() if case.bad is not None])
def test_a_bad_value_names_the_variable_it_came_from(name: str) -> None:
    declared, case = BY_NAME[name], CASES[name]
    with pytest.raises(SettingsError, match=f"^{re.escape(f'{declared.env}: {case.error}')}"):
        build(environ={declared.env: case.bad or ""})


@pytest.mark.parametrize("name", RANGES)
def test_ranges_include_both_ends_and_nothing_beyond(name: str) -> None:
    low, high = RANGES[name]
    assert getattr(build(**{name: str(low)}, environ={}), name) == low
    assert getattr(build(**{name: str(high)}, environ={}), name) == high
    for outside in (low - 1, high + 1):
        with pytest.raises(
            SettingsError, match=f"^{BY_NAME[name].flag}: {outside} is out of range \\({low}…{high}\\)$"
        ):
            build(**{name: str(outside)}, environ={})


def test_defaults_need_no_configuration() -> None:
    s = build(environ={})
    assert (s.host, s.port, s.db, s.workers) == ("127.0.0.1", 8590, Path("chive-admin.db"), 2)
    assert s.service_did == "did:web:127.0.0.1%3A8590"
    assert s.plc_url == "https://plc.directory"
    assert s.admin_dids == ()
    assert s.allow_private_network is False
    assert (s.upstream_attempts, s.upstream_concurrency) == (6, 16)
    assert s.export_readers == max(1, min(4, (os.cpu_count() or 1) - 1))
    assert s == Settings()  # the declared defaults are the dataclass's


def test_an_empty_value_is_no_value() -> None:
    assert build(workers="", environ={"CHIVE_ADMIN_WORKERS": "5"}).workers == 2  # given empty: the default
    assert build(environ={"CHIVE_ADMIN_WORKERS": "", "CHIVE_ADMIN_GOVERNANCE_DID": ""}) == build(environ={})


def test_a_default_is_checked_as_a_given_value_would_be(tmp_path: Path) -> None:
    (tmp_path / "chive-admin.db").mkdir()
    with pytest.raises(SettingsError, match=r"^CHIVE_ADMIN_DB: chive-admin\.db is a directory"):
        build(environ={})


def test_export_readers_may_be_zero_from_a_flag_or_the_env() -> None:
    # 0 is a value here (read exports on a thread), not "not given"
    assert build(export_readers="0", environ={}).export_readers == 0
    assert build(export_readers=3, environ={"CHIVE_ADMIN_EXPORT_READERS": "0"}).export_readers == 3


def test_repeated_values_are_stripped_and_counted_once() -> None:
    env = {"CHIVE_ADMIN_ADMIN_DIDS": "did:plc:aaa, did:plc:bbb,did:plc:aaa,", "CHIVE_ADMIN_TRUSTED_PROXIES": " ::1 ,"}
    s = build(environ=env)
    assert s.admin_dids == ("did:plc:aaa", "did:plc:bbb")
    assert [str(network) for network in s.trusted_proxies] == ["::1/128"]
    assert build(admin_dids=[" did:plc:ccc "], environ=env).admin_dids == ("did:plc:ccc",)
    # a plugin named twice stays twice: the job registry refuses a type registered twice
    assert build(job_plugins=["a:B", "a:B"], environ={}).job_plugins == ("a:B", "a:B")


def test_an_empty_repeated_flag_reads_the_variable() -> None:
    assert build(admin_dids=[], environ={"CHIVE_ADMIN_ADMIN_DIDS": "did:plc:aaa"}).admin_dids == ("did:plc:aaa",)


def test_the_first_bad_item_is_named() -> None:
    with pytest.raises(SettingsError, match=r"^CHIVE_ADMIN_ADMIN_DIDS: 'nope' is not a valid DID"):
        build(environ={"CHIVE_ADMIN_ADMIN_DIDS": "did:plc:ok,nope"})
    with pytest.raises(SettingsError, match=r"^--admin-did: 'nope'"):
        build(admin_dids=["did:plc:ok", "nope"], environ={})


def test_a_url_takes_neither_query_nor_fragment() -> None:
    with pytest.raises(SettingsError, match=r"^--plc-url: 'https://plc\.example/\?q=1' must not have a query"):
        build(plc_url="https://plc.example/?q=1", environ={})


def test_an_empty_metrics_token_is_none() -> None:
    assert build(metrics_token="", environ={"CHIVE_ADMIN_METRICS_TOKEN": "t" * 16}).metrics_token is None


def test_default_service_did_names_a_host_not_a_wildcard() -> None:
    assert default_service_did("0.0.0.0", 8590) == "did:web:localhost%3A8590"
    assert Settings(host="0.0.0.0").public_url == "http://localhost:8590"
    assert build(host="0.0.0.0", port="9000", environ={}).service_did == "did:web:localhost%3A9000"


def test_build_refuses_a_name_that_is_no_setting() -> None:
    with pytest.raises(TypeError, match="admin_did"):
        build(admin_did=["did:plc:aaa"], environ={})


def test_unknown_variables_warn_with_the_close_match() -> None:
    env = {
        "CHIVE_ADMIN_ADMIN_DID": "did:plc:x",
        "CHIVE_ADMIN_PLC_ULR": "http://x",
        "CHIVE_ADMIN_URL": "http://127.0.0.1:8590",
        "CHIVE_ADMIN_KEY": "ca_x",
        "CHIVE_ADMIN_TRUSTED_PROXIES": "10.0.0.1",
        "CHIVE_TESTNET_DIR": "/elsewhere",
        "PATH": "/usr/bin",
    }
    assert unknown_variables(env) == [
        "CHIVE_ADMIN_ADMIN_DID is not a chive-admin setting and is ignored (did you mean CHIVE_ADMIN_ADMIN_DIDS?)",
        "CHIVE_ADMIN_PLC_ULR is not a chive-admin setting and is ignored (did you mean CHIVE_ADMIN_PLC_URL?)",
    ]


def test_every_setting_but_the_body_cap_has_a_variable() -> None:
    names = server_variables()
    assert {"CHIVE_ADMIN_ADMIN_DIDS", "CHIVE_ADMIN_JOB_PLUGINS", "CHIVE_ADMIN_TRUSTED_PROXIES"} <= names
    assert {"CHIVE_ADMIN_" + field.name.upper() for field in fields(Settings)} - names == {"CHIVE_ADMIN_MAX_BODY_BYTES"}
    assert not names & CLIENT_VARIABLES


def test_a_variable_is_its_flag_in_capitals_but_for_repeatable_ones() -> None:
    # what `chive-admin --help` promises: CHIVE_ADMIN_<FLAG>; a repeatable flag is singular, its variable plural
    for declared in DECLARATIONS:
        from_flag = "CHIVE_ADMIN_" + declared.flag.removeprefix("--").replace("-", "_").upper()
        assert (declared.env == from_flag) == (declared.kind != "repeatable"), declared.name
    assert BY_NAME["admin_dids"].flag == "--admin-did"


@pytest.mark.parametrize(
    "declared",
    [d for d in DECLARATIONS if d.shown is None and d.documented_default.startswith("`")],
    ids=lambda declared: str(declared.name),
)
def test_the_default_shown_is_the_default_the_server_runs_with(declared: Declaration) -> None:
    shown = declared.documented_default.strip("`")  # `./chive-admin.db`, `30`, `info`…
    assert getattr(build(**{declared.name: shown}, environ={}), declared.name) == declared.default


def test_the_parsed_command_line_builds_the_settings() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--port", "9000", "--admin-did", "did:plc:aaa", "--admin-did", "did:plc:bbb"])
    s = from_arguments(args, environ={"CHIVE_ADMIN_WORKERS": "3", "CHIVE_ADMIN_PORT": "1"})
    assert (s.port, s.admin_dids, s.workers) == (9000, ("did:plc:aaa", "did:plc:bbb"), 3)
    assert from_arguments(parser.parse_args([]), environ={}) == build(environ={})


def test_db_takes_a_postgresql_url_and_never_shows_its_password() -> None:
    s = build(db="postgresql://chive:hunter22@db.internal:5432/chive_admin", environ={})
    assert isinstance(s.db, PostgresUrl)
    assert s.db.url == "postgresql://chive:hunter22@db.internal:5432/chive_admin"
    assert "hunter22" not in repr(s)
    assert build(db="sqlite:///state.db", environ={}).db == Path("state.db")
    with pytest.raises(SettingsError, match="--db: mysql:// is not a database") as refused:
        build(db="mysql://chive:hunter22@h/d", environ={})
    assert "hunter22" not in str(refused.value)
