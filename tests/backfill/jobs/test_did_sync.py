"""did-sync against a scripted PLC directory and PDS (one loopback server): what a hostile export does to the op."""

from __future__ import annotations

import asyncio
import gzip
from collections import deque
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from conftest import AppFactory, running_client
from support.auth import ADMIN, FixedTokens
from support.car_host import CAR, car_host
from support.cars import DID, build_car
from support.engine import engine_config
from support.metrics import upstream_bytes
from support.resume import ended, left_off
from support.scripted import Answer, Script

from chive_admin._generated import ids
from chive_admin.store import index, operations
from testnet import records

FAST = engine_config(workers=1, lease_seconds=3, poll_seconds=0.05, stop_grace_seconds=5)


@pytest.fixture
def network() -> Iterator[tuple[str, Script, deque[Answer]]]:
    """A PLC directory that knows ``DID`` and the PDS that hosts it, on one scripted server, and the answers its
    getRepo gives, in order (then 404), for the test to fill."""
    with car_host() as network:
        yield network


@pytest.fixture
async def client(make_app: AppFactory, network: tuple[str, Script, deque[Answer]]) -> AsyncIterator[httpx.AsyncClient]:
    url, _, _ = network
    app = make_app(authenticator=FixedTokens(), engine_config=FAST, plc_url=url)
    async with running_client(app) as running:
        yield running


async def synced(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.post(f"/xrpc/{ids.PUB_CHIVE_ADMIN_TRIGGER_DID_SYNC}", json={"did": DID}, headers=ADMIN)
    assert response.status_code == 200, response.text
    op_id = response.json()["operationId"]
    async with asyncio.timeout(30):  # a limit for the test, not a speed claim
        while True:
            status = await client.get(
                f"/xrpc/{ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS}", params={"id": op_id}, headers=ADMIN
            )
            op: dict[str, Any] = status.json()["operation"]
            if op["status"] in ("completed", "partial", "failed", "cancelled"):
                return op
            await asyncio.sleep(0.02)


def exports(script: Script) -> int:
    return sum(1 for seen in script.seen if seen.startswith(f"/xrpc/{ids.COM_ATPROTO_SYNC_GET_REPO}?"))


async def test_a_gzip_export_is_synced(client: httpx.AsyncClient, network: tuple[str, Script, deque[Answer]]) -> None:
    # the compressed length is announced: it is no longer compared with the inflated size (a "truncated" export)
    _, script, answers = network
    car = build_car({"pub.chive.review.comment/3kabc": {"$type": "pub.chive.review.comment"}})
    answers.append(Answer(200, gzip.compress(car), {"content-type": CAR, "content-encoding": "gzip"}))
    op = await synced(client)
    assert (op["status"], exports(script)) in (("completed", 1), ("partial", 1))


async def test_a_gzip_bomb_export_fails_the_op_after_one_request_and_one_piece(
    client: httpx.AsyncClient, network: tuple[str, Script, deque[Answer]]
) -> None:
    _, script, answers = network
    bomb = gzip.compress(bytes(256 * 1024 * 1024), compresslevel=9)  # 256 MiB of zeros in 255 KB
    answers.extend([Answer(200, bomb, {"content-type": CAR, "content-encoding": "gzip"})] * 6)
    before = upstream_bytes("inflated")
    op = await synced(client)
    assert op["status"] == "failed"
    assert op["errorCode"] == "upstream_refused_content"
    assert "CAR header" in op["error"]
    assert exports(script) == 1  # refused for what it holds: not asked for again
    assert upstream_bytes("inflated") - before <= 1024 * 1024  # a piece of it, not the 256 MiB


async def test_a_sync_stored_by_the_previous_version_runs_again_from_the_start(
    make_app: AppFactory, network: tuple[str, Script, deque[Answer]]
) -> None:
    # an export is one download: the previous version stored no checkpoint (NULL), so a resumed sync fetches again
    url, script, answers = network
    value = records.review_comment(eprint_uri=records.at_uri(DID, records.SUBMISSION, "e1"))
    answers.append(Answer(200, build_car({f"{records.COMMENT}/3kabc": value}), {"content-type": CAR}))
    app = make_app(authenticator=FixedTokens(), engine_config=FAST, plc_url=url)
    async with running_client(app) as _:
        progress = operations.Progress(stage="fetching_repo")
        op = await ended(app, await left_off(app, "did-sync", {"did": DID}, None, progress=progress))
    assert (op.status, op.attempts, op.checkpoint) == ("completed", 2, None)
    assert (op.progress.records_processed, op.progress.total_records, op.progress.counts["inserted"]) == (1, 1, 1)
    assert exports(script) == 1


async def test_a_taken_down_record_stays_hidden_through_resyncs_and_a_recreate(
    make_app: AppFactory, network: tuple[str, Script, deque[Answer]]
) -> None:
    url, _, answers = network
    eprint = records.at_uri(DID, records.SUBMISSION, "e1")
    uri = records.at_uri(DID, records.COMMENT, "3kabc")
    kept = records.at_uri(DID, records.SUBMISSION, "e2")

    def export(text: str | None) -> Answer:
        held: dict[str, object] = {f"{records.COMMENT}/3kkept": records.review_comment(eprint_uri=kept)}
        if text is not None:
            held[f"{records.COMMENT}/3kabc"] = records.review_comment(eprint_uri=eprint, text=text)
        return Answer(200, build_car(held), {"content-type": CAR})

    app = make_app(authenticator=FixedTokens(), engine_config=FAST, plc_url=url)

    async def shown() -> tuple[dict[str, int], bool]:
        async with app.state.services.db.read() as conn:
            visible = await index.counts_by(conn, records.COMMENT, "eprintUri")
            indexed = await conn.fetchone("SELECT count(*) FROM records WHERE uri = ?", (uri,))
            return visible, bool(indexed and indexed[0])

    async with running_client(app) as client:
        answers.append(export("First version"))
        assert (await synced(client))["status"] == "completed"
        assert await shown() == ({kept: 1, eprint: 1}, True)
        body = {"uri": uri, "collection": records.COMMENT, "reason": "harassment"}
        taken = await client.post(f"/xrpc/{ids.PUB_CHIVE_ADMIN_DELETE_CONTENT}", json=body, headers=ADMIN)
        assert taken.json() == {"success": True}
        assert await shown() == ({kept: 1}, True)
        # a re-sync with a new version, one without the record (deleted upstream), one with it recreated
        for text in ("Second version", None, "Recreated"):
            answers.append(export(text))
            assert (await synced(client))["status"] == "completed"
            assert await shown() == ({kept: 1}, text is not None)
