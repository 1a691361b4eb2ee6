"""The engine through the XRPC family: lifecycle, two-phase cancel, idempotent trigger, graceful stop and resume."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast

import httpx
import pytest
from conftest import AppFactory, running_client
from starlette.applications import Starlette
from starlette.requests import Request
from support.auth import ADMIN, ADMIN_DID, FixedTokens
from support.engine import engine_config
from support.jobs import CountItems
from support.resume import left_off
from support.scripted import Answer, scripted_server
from support.seeding import new_op

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import get_backfill_status
from chive_admin.backfill.engine import STORAGE_FULL, Engine, EngineConfig
from chive_admin.backfill.job_types import JobRegistry, build_registry
from chive_admin.backfill.jobs import BUILTIN_JOBS
from chive_admin.store import operations as ops
from chive_admin.store import work_items
from chive_admin.store.db import Database

CID = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"
FAST = engine_config(workers=2, lease_seconds=3, poll_seconds=0.05, stop_grace_seconds=5)


def xrpc(nsid: str) -> str:
    return f"/xrpc/{nsid}"


@dataclass
class Server:
    app: Starlette
    client: httpx.AsyncClient

    async def trigger(self, **body: Any) -> dict[str, Any]:
        response = await self.client.post(xrpc(ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL), json=body, headers=ADMIN)
        assert response.status_code == 200, response.text
        op: dict[str, Any] = response.json()["operation"]
        return op

    async def status(self, op_id: str) -> dict[str, Any]:
        response = await self.client.get(
            xrpc(ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS), params={"id": op_id}, headers=ADMIN
        )
        assert response.status_code == 200, response.text
        get_backfill_status.Output.model_validate(response.json(), strict=True, by_alias=True, by_name=False)
        op: dict[str, Any] = response.json()["operation"]
        return op

    async def cancel(self, op_id: str) -> httpx.Response:
        return await self.client.post(xrpc(ids.PUB_CHIVE_ADMIN_CANCEL_BACKFILL), json={"id": op_id}, headers=ADMIN)

    async def wait(self, op_id: str, *statuses: str, limit: float = 30) -> dict[str, Any]:
        wanted = statuses or ("completed", "partial", "failed", "cancelled")
        deadline = asyncio.get_running_loop().time() + limit
        while True:
            op = await self.status(op_id)
            if op["status"] in wanted:
                return op
            if asyncio.get_running_loop().time() > deadline:
                pytest.fail(f"operation stuck: {op}")
            await asyncio.sleep(0.02)

    async def items(self, op_id: str) -> list[int]:
        async with self.app.state.services.db.read() as conn:
            try:
                rows = await conn.fetchall("SELECT item FROM test_items WHERE op_id = ? ORDER BY item", (op_id,))
            except Exception:  # the job has not created its table yet
                return []
        return [int(r[0]) for r in rows]


def registry() -> JobRegistry:
    return JobRegistry([*BUILTIN_JOBS, CountItems])


@contextlib.asynccontextmanager
async def serving(make_app: AppFactory, config: EngineConfig) -> AsyncIterator[Server]:
    """An app running the test jobs with ``config``, and a client on it."""
    app = make_app(authenticator=FixedTokens(), jobs=registry(), engine_config=config)
    async with running_client(app) as client:
        yield Server(app, client)


@pytest.fixture
async def server(make_app: AppFactory) -> AsyncIterator[Server]:
    async with serving(make_app, FAST) as running:
        yield running


async def test_an_operation_runs_to_completed_with_every_item_once(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_JOB_ITEMS", "95")
    op = await server.trigger(type="testCount", batchSize=10)
    assert (op["type"], op["startedBy"], op["params"]) == ("test-count", ADMIN_DID, {"batchSize": 10})
    done = await server.wait(op["id"])
    assert done["status"] == "completed"
    assert (done["recordsProcessed"], done["totalRecords"], done["attempts"], done["stage"]) == (95, 95, 1, "counting")
    assert "completedAt" in done
    assert "error" not in done
    assert await server.items(op["id"]) == list(range(95))
    history = await server.client.get(xrpc(ids.PUB_CHIVE_ADMIN_GET_BACKFILL_HISTORY), headers=ADMIN)
    assert [o["id"] for o in history.json()["operations"]] == [op["id"]]
    active = await server.client.get(xrpc(ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS), headers=ADMIN)
    assert active.json() == {"operations": []}


@pytest.mark.parametrize(
    ("dlq_every", "raise_after", "status"), [("", "", "completed"), ("7", "", "partial"), ("", "1", "completed")]
)
async def test_a_job_whose_last_batch_ends_it_is_ended_once(
    server: Server,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    dlq_every: str,
    raise_after: str,
    status: str,
) -> None:
    monkeypatch.setenv("TEST_JOB_ITEMS", "30")
    monkeypatch.setenv("TEST_JOB_LAST_BATCH", "1")
    monkeypatch.setenv("TEST_JOB_DLQ_EVERY", dlq_every)
    # what a job raises after its last batch (closing an export, say) does not undo the end committed
    monkeypatch.setenv("TEST_JOB_RAISE_AFTER_END", raise_after)
    caplog.set_level(logging.INFO, logger="chive_admin.backfill.engine")
    op = await server.wait((await server.trigger(type="testCount"))["id"])
    assert (op["status"], op["recordsProcessed"] + op.get("recordsFailed", 0)) == (status, 30)
    assert await server.items(op["id"]) == [n for n in range(30) if not dlq_every or n % int(dlq_every)]
    ends = [
        m for r in caplog.records if (m := r.getMessage()).startswith(f"operation {op['id']} ended") or "its end" in m
    ]
    assert ends == [f"operation {op['id']} ended {status}"]
    raised = [r.getMessage() for r in caplog.records if "after its last batch" in r.getMessage()]
    assert raised == (
        [f"operation {op['id']}: its job raised RuntimeError after its last batch ended it"] * bool(raise_after)
    )


async def test_dead_lettered_items_make_it_partial(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_JOB_ITEMS", "30")
    monkeypatch.setenv("TEST_JOB_DLQ_EVERY", "7")
    op = await server.wait((await server.trigger(type="testCount"))["id"])
    assert (op["status"], op["recordsFailed"], op["recordsProcessed"]) == ("partial", 5, 25)
    entries = await server.client.get(xrpc(ids.PUB_CHIVE_ADMIN_LIST_DLQ_ENTRIES), headers=ADMIN)
    assert entries.json()["total"] == 5
    assert {e["errorMessage"] for e in entries.json()["entries"]} == {f"item {n} refused" for n in (0, 7, 14, 21, 28)}


async def test_a_job_failure_ends_failed_with_its_code_and_keeps_committed_work(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_JOB_FAIL_AT", "25")
    op = await server.wait((await server.trigger(type="testCount"))["id"])
    assert (op["status"], op["errorCode"], op["errorContext"]) == ("failed", "test_failure", {"item": 25})
    assert op["recordsProcessed"] == 20  # the batch holding item 25 was rolled back, the two before it stay
    assert await server.items(op["id"]) == list(range(20))


async def test_a_crashing_job_fails_without_leaking_its_exception(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_JOB_CRASH_AT", "3")
    op = await server.wait((await server.trigger(type="testCount"))["id"])
    assert (op["status"], op["errorCode"]) == ("failed", "internal_error")
    assert "secret-detail" not in str(op)
    # the worker survived: the next op runs
    monkeypatch.delenv("TEST_JOB_CRASH_AT")
    assert (await server.wait((await server.trigger(type="testCount", batchSize=5))["id"]))["status"] == "completed"


async def test_a_checkpoint_the_job_cannot_read_fails_the_op_without_leaking_it(server: Server) -> None:
    op_id = await left_off(server.app, "test-count", {"batchSize": 10}, {"secret-detail": "not a count"})
    op = await server.wait(op_id)
    assert (op["status"], op["errorCode"], op["attempts"]) == ("failed", "internal_error", 2)
    assert "secret-detail" not in str(op)
    assert await server.items(op_id) == []  # nothing ran from a position it could not read


async def test_cancel_a_running_op_stops_it_within_one_batch(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_JOB_ITEMS", "100000")
    monkeypatch.setenv("TEST_JOB_DELAY", "0.01")
    op = await server.trigger(type="testCount", batchSize=10)
    running = await server.wait(op["id"], "running")
    while (await server.status(op["id"]))["recordsProcessed"] < 30:
        await asyncio.sleep(0.01)
    response = await server.cancel(running["id"])
    assert response.status_code == 200
    assert response.json() == {"success": True}
    at_request = len(await server.items(op["id"]))
    ended = await server.wait(op["id"])
    assert ended["status"] == "cancelled"
    kept = await server.items(op["id"])
    assert kept == list(range(len(kept)))  # what it committed stays, in order, once
    assert at_request <= len(kept) <= at_request + 10
    assert ended["recordsProcessed"] == len(kept)
    again = await server.cancel(op["id"])
    assert again.status_code == 400
    assert again.json() == {"error": "InvalidRequest", "message": f"Operation {op['id']} is already cancelled"}


# on PostgreSQL the cancel may reach a process whose workers do not run the op: the holder hears of it through its
# lease's heartbeat (the request written to the store, as that process's cancelBackfill writes it)
@pytest.mark.parametrize("requested_by", ["this process", "another process"])
async def test_cancel_interrupts_a_job_that_does_not_reach_its_next_checkpoint(
    server: Server, monkeypatch: pytest.MonkeyPatch, requested_by: str
) -> None:
    monkeypatch.setenv("TEST_JOB_ITEMS", "100")
    monkeypatch.setenv("TEST_JOB_DELAY", "3600")  # an hour between two checkpoints
    op = await server.trigger(type="testCount", batchSize=10)
    await server.wait(op["id"], "running")
    if requested_by == "this process":
        assert (await server.cancel(op["id"])).status_code == 200
    else:
        async with server.app.state.services.db.write() as conn:
            result, _ = await ops.request_cancel(conn, op["id"], "2026-01-01T00:00:00.000000Z")
        assert result is ops.CancelResult.REQUESTED
    ended = await server.wait(op["id"], limit=FAST.lease_seconds + 10)  # a bound for the test, not a speed claim
    assert (ended["status"], ended["recordsProcessed"]) == ("cancelled", 0)
    assert "errorCode" not in ended


async def test_cancel_a_queued_op_ends_it_before_it_starts(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_JOB_ITEMS", "100000")
    monkeypatch.setenv("TEST_JOB_DELAY", "0.01")
    one_worker = engine_config(workers=1, lease_seconds=3, poll_seconds=0.05)
    app = make_app(authenticator=FixedTokens(), jobs=registry(), engine_config=one_worker)
    async with running_client(app) as client:
        server = Server(app, client)
        busy = await server.trigger(type="testCount", batchSize=1)
        await server.wait(busy["id"], "running")
        waiting = await server.trigger(type="testCount", batchSize=2)
        assert (await server.cancel(waiting["id"])).json() == {"success": True}
        ended = await server.status(waiting["id"])
        assert (ended["status"], ended["attempts"], ended["recordsProcessed"]) == ("cancelled", 0, 0)
        assert "completedAt" in ended
        await server.cancel(busy["id"])
        await server.wait(busy["id"])
        assert await server.items(waiting["id"]) == []


async def test_cancel_unknown_id_names_it(server: Server) -> None:
    response = await server.cancel("01NOSUCHOPERATION")
    assert response.status_code == 400
    assert response.json() == {"error": "InvalidRequest", "message": "No operation has id '01NOSUCHOPERATION'"}


async def test_fifty_concurrent_identical_triggers_make_one_operation(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_JOB_ITEMS", "100000")
    monkeypatch.setenv("TEST_JOB_DELAY", "0.01")
    answers = await asyncio.gather(*(server.trigger(type="testCount", batchSize=3) for _ in range(50)))
    assert len({a["id"] for a in answers}) == 1
    async with server.app.state.services.db.read() as conn:
        rows = await conn.fetchall("SELECT count(*) FROM operations")
    assert rows[0][0] == 1
    other = await server.trigger(type="testCount", batchSize=4)
    assert other["id"] != answers[0]["id"]
    for op_id in (answers[0]["id"], other["id"]):
        await server.cancel(op_id)
        await server.wait(op_id)


TRIGGERS = {
    ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN: ("pds-scan", "pdsScan", {"pdsUrl": "https://pds.example"}),
    ids.PUB_CHIVE_ADMIN_TRIGGER_DID_SYNC: ("did-sync", "didSync", {"did": "did:plc:abc"}),
    ids.PUB_CHIVE_ADMIN_TRIGGER_FRESHNESS_SCAN: ("freshness-scan", "freshnessScan", {}),
    ids.PUB_CHIVE_ADMIN_TRIGGER_CITATION_EXTRACTION: ("citation-extraction", "citationExtraction", {}),
    ids.PUB_CHIVE_ADMIN_TRIGGER_FULL_REINDEX: ("full-reindex", "fullReindex", {"batchSize": 10}),
    ids.PUB_CHIVE_ADMIN_TRIGGER_GOVERNANCE_SYNC: ("governance-sync", "governanceSync", {}),
}


@pytest.mark.parametrize("nsid", sorted(TRIGGERS))
async def test_types_without_a_job_answer_501_and_store_nothing(make_app: AppFactory, nsid: str) -> None:
    op_type, name, body = TRIGGERS[nsid]
    # a registry without that type: the state of a server where its job has not landed
    app = make_app(authenticator=FixedTokens(), jobs=JobRegistry([CountItems]), engine_config=FAST)
    async with running_client(app) as client:
        direct = await client.post(xrpc(nsid), json=body, headers=ADMIN)
        generic = await client.post(
            xrpc(ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL), json={"type": name, **body}, headers=ADMIN
        )
        async with app.state.services.db.read() as conn:
            count = (await conn.fetchall("SELECT count(*) FROM operations"))[0][0]
    for response in (direct, generic):
        assert response.status_code == 501
        assert response.json() == {
            "error": "MethodNotImplemented",
            "message": f"{op_type} operations are not implemented yet",
        }
    assert count == 0


async def test_trigger_backfill_refuses_unknown_types_and_foreign_params(server: Server) -> None:
    unknown = await server.client.post(
        xrpc(ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL), json={"type": "everything"}, headers=ADMIN
    )
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "InvalidBackfillType"
    assert "pdsScan" in unknown.json()["message"]
    kebab = await server.client.post(
        xrpc(ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL), json={"type": "pds-scan"}, headers=ADMIN
    )
    assert kebab.json()["error"] == "InvalidBackfillType"
    foreign = await server.client.post(
        xrpc(ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL), json={"type": "testCount", "did": "did:plc:abc"}, headers=ADMIN
    )
    assert foreign.status_code == 400
    assert foreign.json() == {"error": "InvalidRequest", "message": "Invalid test-count parameters: did: unknown field"}
    bad = await server.client.post(
        xrpc(ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL), json={"type": "testCount", "batchSize": 0}, headers=ADMIN
    )
    assert bad.status_code == 400
    assert "batchSize" in bad.json()["message"]
    async with server.app.state.services.db.read() as conn:
        assert (await conn.fetchall("SELECT count(*) FROM operations"))[0][0] == 0


async def test_status_queries(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_JOB_ITEMS", "10")
    done = await server.wait((await server.trigger(type="testCount"))["id"])
    by_status = await server.client.get(
        xrpc(ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS), params={"status": "completed"}, headers=ADMIN
    )
    assert [o["id"] for o in by_status.json()["operations"]] == [done["id"]]
    unknown = await server.client.get(
        xrpc(ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS), params={"id": "nope"}, headers=ADMIN
    )
    assert unknown.status_code == 400
    assert unknown.json()["message"] == "No operation has id 'nope'"
    wrong_status = await server.client.get(
        xrpc(ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS), params={"status": "sleeping"}, headers=ADMIN
    )
    assert wrong_status.status_code == 400
    assert "queued" in wrong_status.json()["message"]
    anonymous = await server.client.get(xrpc(ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS))
    user = await server.client.get(
        xrpc(ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS), headers={"Authorization": "Bearer user"}
    )
    assert (anonymous.status_code, user.status_code) == (401, 403)


async def test_graceful_stop_releases_and_the_next_start_resumes_from_the_checkpoint(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_JOB_ITEMS", "400")
    monkeypatch.setenv("TEST_JOB_DELAY", "0.005")
    app = make_app(authenticator=FixedTokens(), jobs=registry(), engine_config=FAST)
    async with running_client(app) as client:
        server = Server(app, client)
        op = await server.trigger(type="testCount", batchSize=5)
        while (await server.status(op["id"]))["recordsProcessed"] < 50:
            await asyncio.sleep(0.01)
    # the lifespan ended (as on SIGTERM): the op went back to the queue with its checkpoint
    app2 = make_app(authenticator=FixedTokens(), jobs=registry(), engine_config=FAST)
    async with running_client(app2) as client:
        server = Server(app2, client)
        done = await server.wait(op["id"])
        items = await server.items(op["id"])
    assert done["status"] == "completed"
    assert done["attempts"] == 2
    assert items == list(range(400))  # each exactly once across both runs


async def test_a_lost_lease_stops_the_job_without_overwriting_the_new_owner(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_JOB_ITEMS", "100000")
    monkeypatch.setenv("TEST_JOB_DELAY", "0.01")
    op = await server.trigger(type="testCount", batchSize=5)
    await server.wait(op["id"], "running")
    async with server.app.state.services.db.write() as conn:  # another owner takes it over and ends it
        await conn.execute(
            "UPDATE operations SET lease_owner = 'someone-else', status = 'failed', error_code = 'taken' WHERE id = ?",
            (op["id"],),
        )
    await asyncio.sleep(0.2)
    after = await server.status(op["id"])
    assert (after["status"], after["errorCode"]) == ("failed", "taken")
    count = len(await server.items(op["id"]))
    await asyncio.sleep(0.1)
    assert len(await server.items(op["id"])) == count  # nothing more was written by the old worker


async def test_many_status_reads_while_jobs_write(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_JOB_ITEMS", "2000")
    first = await server.trigger(type="testCount", batchSize=2)
    second = await server.trigger(type="testCount", batchSize=3)
    responses = await asyncio.gather(
        *(server.client.get(xrpc(ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS), headers=ADMIN) for _ in range(200))
    )
    assert [r.status_code for r in responses] == [200] * 200
    assert not any("locked" in r.text for r in responses)
    for op in (first, second):
        assert (await server.wait(op["id"], limit=60))["status"] == "completed"


async def test_retention_prunes_old_ended_operations(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_JOB_ITEMS", "5")
    op = await server.wait((await server.trigger(type="testCount"))["id"])
    async with server.app.state.services.db.write() as conn:
        await conn.execute(
            "UPDATE operations SET completed_at = '2000-01-01T00:00:00.000000Z' WHERE id = ?", (op["id"],)
        )
    assert await server.app.state.services.engine.prune() == 1
    gone = await server.client.get(
        xrpc(ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS), params={"id": op["id"]}, headers=ADMIN
    )
    assert gone.status_code == 400


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:2583", "http://localhost:2583", "http://169.254.169.254", "http://[::1]"]
)
async def test_a_private_pds_url_is_refused_at_trigger_time_without_the_flag(make_app: AppFactory, url: str) -> None:
    app = make_app(authenticator=FixedTokens(), engine_config=FAST, allow_private_network=False)
    async with running_client(app) as client:
        response = await client.post(xrpc(ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN), json={"pdsUrl": url}, headers=ADMIN)
        async with app.state.services.db.read() as conn:
            count = (await conn.fetchall("SELECT count(*) FROM operations"))[0][0]
    assert response.status_code == 400
    assert response.json()["error"] == "InvalidRequest"
    assert "non-public" in response.json()["message"]
    assert count == 0


@pytest.fixture
async def slow_poll_server(make_app: AppFactory) -> AsyncIterator[Server]:
    """One worker that, left alone, looks for work only every 10 minutes: only a wake-up can start an op."""
    config = engine_config(workers=1, lease_seconds=3, poll_seconds=600, stop_grace_seconds=5)
    async with serving(make_app, config) as running:
        yield running


async def test_a_trigger_committed_while_a_claim_runs_still_wakes_the_worker(
    slow_poll_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker must not sleep a whole poll interval past an op queued during its empty claim."""
    server = slow_poll_server
    monkeypatch.setenv("TEST_JOB_ITEMS", "3")
    engine = server.app.state.services.engine
    claim = engine._claim
    empty_claim_running, release = asyncio.Event(), asyncio.Event()

    async def slow_empty_claim(owner: str) -> Any:
        op = await claim(owner)
        if op is None and not release.is_set():
            empty_claim_running.set()
            await release.wait()
        return op

    monkeypatch.setattr(engine, "_claim", slow_empty_claim)
    first = await server.trigger(type="testCount", batchSize=10)
    assert (await server.wait(first["id"]))["status"] == "completed"
    await empty_claim_running.wait()  # the worker looked for more, found nothing, and is not idle yet
    second = await server.trigger(type="testCount", batchSize=5)
    release.set()
    assert (await server.wait(second["id"], limit=20))["status"] == "completed"


# -- a hostile PDS: a cancel interrupts whatever upstream wait the job is in --------------------------------------

FIRST_PAGE = {
    "cursor": "after-page-1",
    "repos": [{"did": "did:plc:hostilepage1repo000000000", "head": CID, "rev": "3kabcdefghi22", "active": True}],
}
HOSTILE = {
    # a listRepos page dripping a byte at a time: every byte well within the read timeout
    "drip": Answer(200, b" " * 100_000, drip=0.1),
    # a 429 asking for 11 days (capped at 120 s, a cooldown of the host), then the same again
    "retry-after": Answer(429, b'{"error":"RateLimitExceeded"}', {"retry-after": "999999"}),
}


@pytest.mark.parametrize("hostile", HOSTILE)
async def test_a_cancel_interrupts_an_upstream_wait_and_keeps_the_checkpoint(server: Server, hostile: str) -> None:
    with scripted_server() as (url, script):

        def pds(request: Request) -> Answer:
            if request.query_params.get("cursor") is None:
                return Answer(200, json.dumps(FIRST_PAGE).encode())
            return HOSTILE[hostile]

        script.default = pds
        op = await server.trigger(type="pdsScan", pdsUrl=url)
        while len(script.seen) < 2:  # the second page is being waited for
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)
        assert (await server.status(op["id"]))["status"] == "running"
        assert (await server.cancel(op["id"])).status_code == 200
        # a bound for the test, not a speed claim: the drip would take hours, the 429 cooldown two minutes
        ended = await server.wait(op["id"], limit=10)
    assert ended["status"] == "cancelled"
    assert "errorCode" not in ended
    async with server.app.state.services.db.read() as conn:
        stored = await ops.get(conn, op["id"])
        listed = await work_items.with_state(conn, op["id"], "pending")
    assert stored is not None
    assert stored.checkpoint == {"phase": "discovering", "host": 0, "cursor": "after-page-1", "listed": 1}
    assert [did for did, _ in listed] == ["did:plc:hostilepage1repo000000000"]
    assert len(script.seen) == 2
    # the worker is free again: the next op runs at once
    assert (await server.wait((await server.trigger(type="testCount", batchSize=50))["id"]))["status"] == "completed"


# while the disk is full an op's own row cannot record why it is stuck: the engine's view says so
async def test_an_op_whose_state_cannot_be_written_shows_why(make_app: AppFactory) -> None:
    app = make_app(authenticator=FixedTokens(), jobs=JobRegistry([CountItems]), engine_config=engine_config(workers=0))
    status = f"/xrpc/{ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS}"
    async with running_client(app) as client:
        made = await client.post(
            f"/xrpc/{ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL}", json={"type": "testCount"}, headers=ADMIN
        )
        op_id = made.json()["operation"]["id"]
        engine = app.state.services.engine
        tries = 0
        space = asyncio.Event()

        async def write(space: asyncio.Event = space) -> bool:
            nonlocal tries
            tries += 1
            if not space.is_set():
                raise sqlite3.OperationalError("database or disk is full")
            return True

        waiting = asyncio.create_task(engine._persist(op_id, "recording its end", write))
        while tries == 0:
            await asyncio.sleep(0.01)
        one = (await client.get(status, params={"id": op_id}, headers=ADMIN)).json()["operation"]
        listed = (await client.get(status, headers=ADMIN)).json()["operations"]
        assert (one["errorCode"], one["status"]) == (STORAGE_FULL, "queued")
        assert [op["errorCode"] for op in listed] == [STORAGE_FULL]
        space.set()
        assert await waiting is True
        after = (await client.get(status, params={"id": op_id}, headers=ADMIN)).json()["operation"]
        assert "errorCode" not in after


# -- start-up: what an engine takes over ------------------------------------------------------------------------

PAST = "2000-01-01T00:00:00.000000Z"


async def test_a_live_lease_is_taken_only_by_a_process_that_owns_the_database(db: Database) -> None:
    """SQLite: this process owns the file, so an op left running was its predecessor's and resumes at once.
    PostgreSQL: it may be a live peer's, so only the op whose lease ran out is taken back; the other stays its
    holder's."""
    async with db.write() as conn:
        live = await new_op(conn, "did-sync", {"did": "did:plc:live"}, claimed_by="peer/0")
        dead = await new_op(conn, "did-sync", {"did": "did:plc:dead"}, claimed_by="gone/0", lease_until=PAST)
    # no workers: what start-up itself does, before anything is claimed again
    engine = Engine(db, build_registry(BUILTIN_JOBS, ()), engine_config(workers=0))
    await engine.start(cast(Any, object()))
    try:
        async with db.read() as conn:
            after = {op_id: await ops.get(conn, op_id) for op_id in (live.id, dead.id)}
    finally:
        await engine.stop()
    assert after[dead.id] is not None
    assert (after[dead.id].status, after[dead.id].lease_owner) == ("queued", None)
    assert after[live.id] is not None
    if db.exclusive:
        assert (after[live.id].status, after[live.id].lease_owner) == ("queued", None)
    else:
        assert (after[live.id].status, after[live.id].lease_owner) == ("running", "peer/0")


async def test_a_claim_rolled_back_by_a_full_disk_says_nothing_was_requeued(
    db: Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async with db.write() as conn:
        dead = await new_op(conn, "did-sync", {"did": "did:plc:dead"}, claimed_by="gone/0", lease_until=PAST)
    engine = Engine(db, build_registry(BUILTIN_JOBS, ()), engine_config(workers=0))
    claim_next = ops.claim_next

    async def full(*args: Any, **kwargs: Any) -> ops.Operation | None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(ops, "claim_next", full)
    with caplog.at_level("WARNING", logger="chive_admin.backfill.engine"), pytest.raises(sqlite3.OperationalError):
        await engine._claim("here/0")
    assert "requeued" not in caplog.text
    async with db.read() as conn:
        kept = await ops.get(conn, dead.id)
    assert kept is not None
    assert (kept.status, kept.lease_owner) == ("running", "gone/0")
    # with room again the same claim requeues it, says so, and takes it
    monkeypatch.setattr(ops, "claim_next", claim_next)
    claimed = await engine._claim("here/0")
    assert claimed is not None
    assert claimed.id == dead.id
    assert "requeued 1 operation(s) whose lease expired; 0 cancelled" in caplog.text
