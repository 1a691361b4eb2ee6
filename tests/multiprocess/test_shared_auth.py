"""What authentication remembers holds across processes on one PostgreSQL database: a service-auth token used on
one process is refused as replayed on the other, and a revoked API key or role is refused by the other within the
caches' stated TTL (``auth.api_keys.CACHE_SECONDS``, ``auth.roles.CACHE_SECONDS``)."""

from __future__ import annotations

import subprocess
import time

import httpx
import pytest
from support.api import call
from support.auth import bearer
from support.cars import KEY
from support.db_rows import rows
from support.jwts import service_token
from support.pds import scripted_pds
from support.server import ServerProcess, cli_command, create_key, db_arg

from chive_admin._generated import ids
from chive_admin.auth import api_keys, roles
from multiprocess.fleet import ADMIN_DID, Fleet

METHOD = ids.PUB_CHIVE_ADMIN_GET_BACKFILL_HISTORY
#: the service behind a load balancer: one DID for every process (a token names it as its audience)
SERVICE_DID = "did:web:chive-admin.test"
ISSUER = "did:plc:multiissuer0000000000000"
#: beyond a cache's TTL, what a loaded machine may add before the refusal is seen (a limit, not a speed claim)
SLACK_SECONDS = 5.0


def status(server: ServerProcess, headers: dict[str, str]) -> int:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        return call(client, METHOD, headers=headers).status_code


def refused_within(server: ServerProcess, headers: dict[str, str], code: int, ttl: float) -> float:
    """Seconds until ``server`` answers ``code`` to ``headers``; the test fails if that takes longer than ``ttl``
    (and the slack)."""
    since = time.monotonic()
    while (answered := status(server, headers)) != code:
        assert answered == 200, answered
        if time.monotonic() - since > ttl + SLACK_SECONDS:
            pytest.fail(f"still accepted {ttl + SLACK_SECONDS:.0f} s after the revocation")
        time.sleep(0.1)
    return time.monotonic() - since


def test_a_service_token_used_on_one_process_is_a_replay_on_the_other(fleet: Fleet) -> None:
    with scripted_pds() as plc:
        plc.repo(ISSUER)  # the PLC directory names the issuer's key, KEY
        args = ("--plc-url", plc.url, "--service-did", SERVICE_DID, "--admin-did", ISSUER)
        a, b = fleet.start(*args), fleet.start(*args)
        for first, second in ((a, b), (b, a)):
            token = bearer(service_token(KEY, iss=ISSUER, aud=SERVICE_DID, lxm=METHOD))
            assert status(first, token) == 200
            with httpx.Client(base_url=second.url, timeout=30) as client:
                replayed = call(client, METHOD, headers=token)
            assert replayed.status_code == 401, replayed.text
            assert replayed.json()["error"] == "AuthenticationRequired"


def test_an_api_key_revoked_beside_the_servers_is_refused_by_each_within_the_ttl(fleet: Fleet) -> None:
    a, b = fleet.start(), fleet.start()
    key = bearer(create_key(fleet.db, ADMIN_DID, "revoked"))
    assert [status(a, key), status(b, key)] == [200, 200]  # each process has the key cached now
    [(key_id,)] = rows(fleet.db, "SELECT id FROM api_keys WHERE name = ?", "revoked")
    subprocess.run(cli_command("keys", "revoke", str(key_id), "--db", db_arg(fleet.db)), check=True)
    for server in (a, b):
        refused_within(server, key, 401, api_keys.CACHE_SECONDS)


def test_a_role_revoked_through_one_process_is_refused_by_the_other_within_the_ttl(
    fleet: Fleet, admin: dict[str, str]
) -> None:
    a, b = fleet.start(), fleet.start()
    user = "did:plc:multiuser000000000000000"
    key = bearer(create_key(fleet.db, user, "user"))
    with httpx.Client(base_url=a.url, timeout=30) as on_a:
        assert call(on_a, ids.PUB_CHIVE_ADMIN_ASSIGN_ROLE, {"did": user, "role": "admin"}, headers=admin).is_success
        assert status(b, key) == 200  # b has the user's roles cached now
        assert call(on_a, ids.PUB_CHIVE_ADMIN_REVOKE_ROLE, {"did": user, "role": "admin"}, headers=admin).is_success
    refused_within(b, key, 403, roles.CACHE_SECONDS)
