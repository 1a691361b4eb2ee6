"""Settings: flags over env over defaults, each value checked."""

from __future__ import annotations

import os
import re
from dataclasses import fields
from pathlib import Path

import pytest

from chive_admin.settings import (
    CLIENT_VARIABLES,
    Settings,
    SettingsError,
    build,
    default_service_did,
    server_variables,
    unknown_variables,
)

NONE: dict[str, None] = {
    "host": None,
    "port": None,
    "db": None,
    "service_did": None,
    "admin_dids": None,
    "plc_url": None,
    "governance_did": None,
    "workers": None,
    "allow_private_network": None,
    "log_level": None,
}


def test_defaults_need_no_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = build(**NONE, environ={})
    assert (s.host, s.port, s.db, s.workers) == ("127.0.0.1", 8590, Path("chive-admin.db"), 2)
    assert s.service_did == "did:web:127.0.0.1%3A8590"
    assert s.plc_url == "https://plc.directory"
    assert s.admin_dids == ()
    assert s.allow_private_network is False
    assert (s.upstream_attempts, s.upstream_concurrency) == (6, 16)
    assert s.export_readers == max(1, min(4, (os.cpu_count() or 1) - 1))
    assert s.max_queued_ops == 1000


def test_export_readers_may_be_zero_from_a_flag_or_the_env() -> None:
    # 0 is a value here (read exports on a thread), not "not given"
    assert build(**NONE, export_readers="0", environ={}).export_readers == 0
    assert build(**NONE, environ={"CHIVE_ADMIN_EXPORT_READERS": "0"}).export_readers == 0
    assert build(**NONE, export_readers=3, environ={"CHIVE_ADMIN_EXPORT_READERS": "0"}).export_readers == 3


def test_max_queued_ops_from_a_flag_or_the_env() -> None:
    assert build(**NONE, max_queued_ops="50", environ={}).max_queued_ops == 50
    assert build(**NONE, environ={"CHIVE_ADMIN_MAX_QUEUED_OPS": "7"}).max_queued_ops == 7


def test_env_is_read_and_flags_win(tmp_path: Path) -> None:
    env = {
        "CHIVE_ADMIN_PORT": "9000",
        "CHIVE_ADMIN_ADMIN_DIDS": "did:plc:aaa, did:plc:bbb,did:plc:aaa",
        "CHIVE_ADMIN_ALLOW_PRIVATE_NETWORK": "true",
        "CHIVE_ADMIN_DB": str(tmp_path / "env.db"),
        "CHIVE_ADMIN_PLC_URL": "http://127.0.0.1:2582/",
        "CHIVE_ADMIN_UPSTREAM_CONCURRENCY": "4",
    }
    s = build(**NONE, environ=env)
    assert s.port == 9000
    assert s.admin_dids == ("did:plc:aaa", "did:plc:bbb")
    assert s.allow_private_network is True
    assert s.db == tmp_path / "env.db"
    assert s.plc_url == "http://127.0.0.1:2582"
    assert s.upstream_concurrency == 4
    s = build(**{**NONE, "port": "9001", "admin_dids": ["did:plc:ccc"]}, environ=env)
    assert s.port == 9001
    assert s.admin_dids == ("did:plc:ccc",)


def test_default_service_did_names_a_host_not_a_wildcard() -> None:
    assert default_service_did("0.0.0.0", 8590) == "did:web:localhost%3A8590"
    assert Settings(host="0.0.0.0").public_url == "http://localhost:8590"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"host": "bad host!"}, "--host"),
        ({"log_level": "loud"}, "--log-level"),
        ({"governance_did": "did:bad"}, "--governance-did"),
        ({"allow_private_network": "maybe"}, "--allow-private-network"),
        ({"plc_url": "https://plc.example/?q=1"}, "query"),
        ({"upstream_concurrency": "0"}, "--upstream-concurrency"),
        ({"upstream_concurrency": "many"}, "--upstream-concurrency"),
        ({"export_readers": "-1"}, "--export-readers"),
        ({"export_readers": "65"}, "--export-readers"),
        ({"max_queued_ops": "0"}, "--max-queued-ops"),
        ({"max_queued_ops": "lots"}, "--max-queued-ops"),
    ],
)
def test_bad_values(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        build(**{**NONE, **overrides}, environ={})


@pytest.mark.parametrize(
    ("overrides", "env", "message"),
    [
        ({}, {"CHIVE_ADMIN_WORKERS": "abc"}, "CHIVE_ADMIN_WORKERS: 'abc' is not a whole number"),
        ({}, {"CHIVE_ADMIN_PLC_URL": "ftp://x"}, "CHIVE_ADMIN_PLC_URL: 'ftp://x' is not an http"),
        ({}, {"CHIVE_ADMIN_LOG_LEVEL": "loud"}, "CHIVE_ADMIN_LOG_LEVEL: 'loud' is not one of"),
        ({}, {"CHIVE_ADMIN_ALLOW_PRIVATE_NETWORK": "maybe"}, "CHIVE_ADMIN_ALLOW_PRIVATE_NETWORK: 'maybe'"),
        ({}, {"CHIVE_ADMIN_ADMIN_DIDS": "did:plc:ok,nope"}, "CHIVE_ADMIN_ADMIN_DIDS: 'nope' is not a valid DID"),
        ({}, {"CHIVE_ADMIN_DB": "/nonexistent-dir/x.db"}, "CHIVE_ADMIN_DB: directory /nonexistent-dir"),
        ({"workers": "abc"}, {}, "--workers: 'abc' is not a whole number"),
        ({"admin_dids": ["nope"]}, {"CHIVE_ADMIN_ADMIN_DIDS": "did:plc:ok"}, "--admin-did: 'nope'"),
    ],
)
def test_errors_name_the_flag_or_the_variable_the_value_came_from(
    overrides: dict[str, object], env: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=f"^{re.escape(message)}"):
        build(**{**NONE, **overrides}, environ=env)


def test_a_flag_wins_over_a_bad_variable() -> None:
    assert build(**{**NONE, "workers": "3"}, environ={"CHIVE_ADMIN_WORKERS": "abc"}).workers == 3


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


def test_trusted_proxies_are_networks() -> None:
    s = build(**{**NONE, "trusted_proxies": ["127.0.0.1", "10.1.2.3/8", "::1"]}, environ={})
    assert [str(n) for n in s.trusted_proxies] == ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]
    assert build(**NONE, environ={"CHIVE_ADMIN_TRUSTED_PROXIES": " 192.0.2.1 ,"}).trusted_proxies == (
        build(**{**NONE, "trusted_proxies": ["192.0.2.1"]}, environ={}).trusted_proxies
    )
    assert build(**NONE, environ={}).trusted_proxies == ()
