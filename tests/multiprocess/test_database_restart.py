"""The PostgreSQL server restarted under a running ``chive-admin serve``: while it is down every call answers 503
NotEnoughResources (never a 500, never a hang), the server reconnects by itself once it is back, and the op that
was running resumes and completes with no record lost or written twice.

The cluster is this test's own (the session's is shared by every other test): it is stopped and started again."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from support.api import call, started, wait_ended
from support.auth import bearer
from support.pds import scripted_pds
from support.postgres import start_cluster
from support.server import ServerProcess, create_database, create_key

from chive_admin._generated import ids
from chive_admin.auth.api_keys import CACHE_SECONDS, new_key
from chive_admin.store.target import PostgresUrl
from multiprocess.fleet import ADMIN_DID, Fleet, assert_each_record_once, fill, wait_row

#: seconds each listing page takes: the scan is still running when the database goes away
PAGE_SECONDS = 0.3
#: every answer must come within this: a call that waits on a database that is gone is a hang
CLIENT_TIMEOUT = 30.0


def answers(server: ServerProcess, headers: dict[str, str], op_id: str) -> list[httpx.Response]:
    """A query, a procedure, and a query with a credential the server has not seen (its lookup needs the database)."""
    with httpx.Client(base_url=server.url, timeout=CLIENT_TIMEOUT) as client:
        return [
            call(client, ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS, headers=headers, id=op_id),
            call(client, ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN, {"pdsUrl": "http://127.0.0.1:9/"}, headers=headers),
            call(client, ids.PUB_CHIVE_ADMIN_GET_BACKFILL_HISTORY, headers=bearer(new_key())),
        ]


def poll(what: str, within: float, done: Callable[[], bool]) -> float:
    """Seconds until ``done()``; the test fails after ``within`` (a bound, not a speed claim)."""
    since = time.monotonic()
    while not done():
        if time.monotonic() - since > within:
            pytest.fail(f"{what} not within {within:.0f} s")
        time.sleep(0.2)
    return time.monotonic() - since


def test_calls_answer_503_while_the_database_is_down_and_the_op_resumes_after(tmp_path: Path) -> None:
    with contextlib.ExitStack() as stack:
        cluster = stack.enter_context(start_cluster())
        db = PostgresUrl(cluster.url(cluster.create_database()))
        create_database(db)
        admin = bearer(create_key(db, ADMIN_DID, "restart"))
        fleet = Fleet(tmp_path, db)
        stack.callback(fleet.stop)  # before the cluster goes: the servers stop on a database that answers
        pds = stack.enter_context(scripted_pds())
        # more repositories than a scan lists at once (2 x --upstream-concurrency), each page slow: the scan is still
        # listing, with records to write, when the database goes away
        expected = fill(pds, "restart", repos=100, per_repo=40)
        pds.delays[ids.COM_ATPROTO_REPO_LIST_RECORDS] = PAGE_SECONDS
        server = fleet.start("--plc-url", pds.url)  # the scripted PDS is its repositories' directory too
        with httpx.Client(base_url=server.url, timeout=CLIENT_TIMEOUT) as client:
            op_id = started(call(client, ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN, {"pdsUrl": pds.url}, headers=admin))
        wait_row(db, op_id, lambda row: row.records_processed >= 100, within=60, what="progress")

        cluster.stop()
        # past the key cache's TTL: calls whose credential is cached, then calls that must look it up
        down_until = time.monotonic() + CACHE_SECONDS + 2
        seen = 0
        while time.monotonic() < down_until:
            for answer in answers(server, admin, op_id):
                assert answer.status_code == 503, answer.text
                assert answer.json()["error"] == "NotEnoughResources"
                seen += 1
            time.sleep(0.2)
        assert server.proc is not None
        assert server.proc.poll() is None  # still serving

        cluster.start_again()

        def answers_again() -> bool:
            with httpx.Client(base_url=server.url, timeout=CLIENT_TIMEOUT) as client:
                answer = call(client, ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS, headers=admin, id=op_id)
            assert answer.status_code in (200, 503), answer.text
            return answer.status_code == 200

        print(f"reconnected: 200 again {poll('a 200', 30, answers_again):.2f} s after the database was back")
        with httpx.Client(base_url=server.url, timeout=CLIENT_TIMEOUT) as client:
            op = wait_ended(client, op_id, headers=admin, within=120)
        assert op["status"] == "completed", op
        assert op["attempts"] >= 2  # the attempt the outage interrupted, then the one that finished
        assert_each_record_once(db, expected)
        assert "Traceback" not in server.output()
        print(f"{seen} answers while the database was down, all 503")
