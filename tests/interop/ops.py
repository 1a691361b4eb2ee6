"""What the backfill interop tests share: run an operation to its end over XRPC, and what a PDS should index."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from conftest import running_client
from support.auth import ADMIN, FixedTokens

from chive_admin._generated import ids
from chive_admin.backfill.engine import EngineConfig
from chive_admin.repo.validate import is_indexed, record_problem
from chive_admin.server.app import create_app
from chive_admin.settings import Settings
from testnet.pds_client import PdsClient


@contextlib.asynccontextmanager
async def served_app(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client on the app in-process (``ADMIN`` is admin, the engine polls fast); ``client.app`` is the app."""
    app = create_app(
        settings,
        authenticator=FixedTokens(),
        engine_config=replace(EngineConfig.from_settings(settings), poll_seconds=0.05),
    )
    async with running_client(app) as client:
        client.app = app  # type: ignore[attr-defined]
        yield client


async def run_op(client: httpx.AsyncClient, nsid: str, body: dict[str, Any], limit: float = 120) -> dict[str, Any]:
    """POST a trigger, then poll getBackfillStatus until the operation has ended; its last state."""
    return await wait_op(client, await trigger_op(client, nsid, body), limit)


async def trigger_op(client: httpx.AsyncClient, nsid: str, body: dict[str, Any]) -> str:
    """POST a trigger; the id of its operation."""
    response = await client.post(f"/xrpc/{nsid}", json=body, headers=ADMIN)
    assert response.status_code == 200, response.text
    answer = response.json()
    return str(answer["operationId"] if "operationId" in answer else answer["operation"]["id"])


async def wait_op(client: httpx.AsyncClient, op_id: str, limit: float = 120) -> dict[str, Any]:
    """Poll getBackfillStatus until the operation has ended; its last state."""
    deadline = asyncio.get_running_loop().time() + limit
    while asyncio.get_running_loop().time() < deadline:
        status = await client.get(
            f"/xrpc/{ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS}", params={"id": op_id}, headers=ADMIN
        )
        op: dict[str, Any] = status.json()["operation"]
        if op["status"] not in ("queued", "running", "cancelling"):
            return op
        await asyncio.sleep(0.02)
    pytest.fail(f"operation {op_id} did not end within {limit} s")


def expected_index(pds: PdsClient) -> set[tuple[str, str]]:
    """(uri, cid) of every valid pub.chive.* record of every active repo on the PDS, read with plain XRPC."""
    out: set[tuple[str, str]] = set()
    for repo in pds.list_repos():
        if repo.get("active") is False:
            continue
        for collection in pds.describe_repo(repo["did"]).get("collections", []):
            if is_indexed(collection):
                out |= {
                    (r["uri"], r["cid"])
                    for r in pds.list_all_records(repo["did"], collection)
                    if record_problem(collection, r["value"]) is None
                }
    return out
