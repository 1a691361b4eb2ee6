"""The dead-letter queue methods: list (paged, total), dismiss, retry one, retry all (an operation), purge."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from conftest import AppFactory, running_client
from starlette.applications import Starlette
from support.api import Operation, call, wait_ended
from support.auth import FixedTokens
from support.engine import engine_config
from support.jobs import CountItems
from support.resume import ended, left_off

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import list_dlq_entries
from chive_admin.backfill.job_types import JobRegistry
from chive_admin.backfill.jobs import BUILTIN_JOBS
from chive_admin.store import dead_letters


class Dlq:
    def __init__(self, app: Starlette, client: httpx.AsyncClient) -> None:
        self.app, self.client = app, client

    async def entries(self, **params: int) -> dict[str, Any]:
        response = await call(
            self.client, ids.PUB_CHIVE_ADMIN_LIST_DLQ_ENTRIES, **{k: str(v) for k, v in params.items()}
        )
        assert response.status_code == 200, response.text
        list_dlq_entries.Output.model_validate(response.json(), strict=True, by_alias=True, by_name=False)
        data: dict[str, Any] = response.json()
        return data

    async def wait_all_ended(self) -> list[Operation]:
        """Wait for every active operation to end (the DLQ methods do not answer with the op they start); the
        history then, most recently ended first."""
        for op in (await call(self.client, ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS)).json()["operations"]:
            await wait_ended(self.client, op["id"])
        history: list[Operation] = (await call(self.client, ids.PUB_CHIVE_ADMIN_GET_BACKFILL_HISTORY)).json()[
            "operations"
        ]
        return history

    async def items(self) -> list[int]:
        async with self.app.state.services.db.read() as conn:
            rows = await conn.fetchall("SELECT item FROM test_items ORDER BY item")
        return [int(r[0]) for r in rows]


@pytest.fixture
async def dlq(make_app: AppFactory, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Dlq]:
    """A server whose first operation dead-lettered items 0, 5, 10 and 15 of 20."""
    monkeypatch.setenv("TEST_JOB_ITEMS", "20")
    monkeypatch.setenv("TEST_JOB_DLQ_EVERY", "5")
    app = make_app(
        authenticator=FixedTokens(),
        jobs=JobRegistry([*BUILTIN_JOBS, CountItems]),
        engine_config=engine_config(workers=1, poll_seconds=0.02),
    )
    async with running_client(app) as client:
        server = Dlq(app, client)
        await call(server.client, ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL, {"type": "testCount", "batchSize": 4})
        assert [op["status"] for op in await server.wait_all_ended()] == ["partial"]
        yield server


async def test_list_pages_with_total(dlq: Dlq) -> None:
    everything = await dlq.entries()
    assert everything["total"] == 4
    assert [e["errorType"] for e in everything["entries"]] == ["test_item"] * 4
    assert everything["entries"][0]["errorMessage"] == "item 0 refused"
    assert everything["entries"][0]["retryCount"] == 0
    page = await dlq.entries(limit=2, offset=1)
    assert [e["errorMessage"] for e in page["entries"]] == ["item 5 refused", "item 10 refused"]
    assert page["total"] == 4
    assert (await dlq.entries(offset=10))["entries"] == []


async def test_dismiss_by_index(dlq: Dlq) -> None:
    response = await call(dlq.client, ids.PUB_CHIVE_ADMIN_DISMISS_DLQ_ENTRY, {"index": 1})
    assert response.json()["success"] is True
    assert [e["errorMessage"] for e in (await dlq.entries())["entries"]] == [
        "item 0 refused",
        "item 10 refused",
        "item 15 refused",
    ]
    for index in (3, 99, -1):
        missing = await call(dlq.client, ids.PUB_CHIVE_ADMIN_DISMISS_DLQ_ENTRY, {"index": index})
        assert missing.status_code == 400
        assert missing.json()["error"] == "InvalidRequest"
        assert str(index) in missing.json()["message"]


async def test_retry_one_entry_runs_it_through_its_job(dlq: Dlq) -> None:
    response = await call(dlq.client, ids.PUB_CHIVE_ADMIN_RETRY_DLQ_ENTRY, {"index": 2})
    assert response.status_code == 200
    assert response.json()["success"] is True
    history = await dlq.wait_all_ended()
    assert (history[0]["type"], history[0]["status"], history[0]["recordsProcessed"]) == ("dlq-retry", "completed", 1)
    assert 10 in await dlq.items()
    assert [e["errorMessage"] for e in (await dlq.entries())["entries"]] == [
        "item 0 refused",
        "item 5 refused",
        "item 15 refused",
    ]
    unknown = await call(dlq.client, ids.PUB_CHIVE_ADMIN_RETRY_DLQ_ENTRY, {"index": 3})
    assert unknown.status_code == 400


async def test_a_retry_that_fails_again_keeps_the_entry_and_counts_it(
    dlq: Dlq, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_JOB_RETRY_FAIL", "1")
    response = await call(dlq.client, ids.PUB_CHIVE_ADMIN_RETRY_ALL_DLQ, {"errorType": "test_item"})
    assert response.json() == {"retriedCount": 4}
    history = await dlq.wait_all_ended()
    assert (history[0]["status"], history[0]["recordsFailed"]) == ("partial", 4)
    entries = (await dlq.entries())["entries"]
    assert [e["retryCount"] for e in entries] == [1, 1, 1, 1]
    assert entries[0]["errorMessage"] == "item 0 refused again"
    assert "lastRetryAt" in entries[0]


async def test_retry_all_is_an_operation_and_empties_the_queue(dlq: Dlq) -> None:
    assert (await call(dlq.client, ids.PUB_CHIVE_ADMIN_RETRY_ALL_DLQ, {"errorType": "other"})).json() == {
        "retriedCount": 0
    }
    response = await call(dlq.client, ids.PUB_CHIVE_ADMIN_RETRY_ALL_DLQ, {})
    assert response.json() == {"retriedCount": 4}
    history = await dlq.wait_all_ended()
    assert (history[0]["type"], history[0]["status"], history[0]["totalRecords"]) == ("dlq-retry", "completed", 4)
    assert await dlq.items() == list(range(20))
    assert (await dlq.entries())["total"] == 0


async def test_purge_old_entries(dlq: Dlq) -> None:
    async with dlq.app.state.services.db.write() as conn:
        await conn.execute("UPDATE dead_letters SET created_at = '2020-01-01T00:00:00.000000Z' WHERE id <= 2")
    assert (await call(dlq.client, ids.PUB_CHIVE_ADMIN_PURGE_OLD_DLQ, {"olderThanDays": 30})).json() == {
        "purgedCount": 2
    }
    assert (await call(dlq.client, ids.PUB_CHIVE_ADMIN_PURGE_OLD_DLQ, {})).json() == {"purgedCount": 0}
    assert (await dlq.entries())["total"] == 2
    bad = await call(dlq.client, ids.PUB_CHIVE_ADMIN_PURGE_OLD_DLQ, {"olderThanDays": 0})
    assert bad.status_code == 400


@pytest.mark.parametrize(
    "extra",
    # a citation-extraction item retried by the previous version wrote its own position into the retry's checkpoint
    [{}, {"after": "at://did:plc:author000000000000000000/pub.chive.eprint.submission/e1"}],
)
async def test_a_retry_stored_by_the_previous_version_resumes_at_its_next_entry(
    dlq: Dlq, extra: dict[str, str]
) -> None:
    async with dlq.app.state.services.db.read() as conn:
        chosen = await dead_letters.ids(conn)  # items 0, 5, 10 and 15
    # the JSON the previous version stored after retrying two of the four
    stored = {"ids": chosen, "next": 2, **extra}
    op_id = await left_off(dlq.app, "dlq-retry", {"entryIds": chosen}, stored)
    op = await ended(dlq.app, op_id)
    assert (op.status, op.attempts) == ("completed", 2)
    assert op.checkpoint == {"ids": chosen, "next": 4}
    assert await dlq.items() == sorted([n for n in range(20) if n % 5] + [10, 15])
    assert [e["errorMessage"] for e in (await dlq.entries())["entries"]] == ["item 0 refused", "item 5 refused"]
