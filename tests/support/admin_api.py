"""Calling XRPC methods of an app running in-process, as the handler tests do: a request by NSID from an admin (or
from anyone else), its answer read strictly against the method's output model or as an XRPC error body, and
operations of any status and dead-letter entries put straight into the store."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from conftest import running_client
from pydantic import BaseModel
from starlette.applications import Starlette

from chive_admin.auth.api_keys import key_hash, new_key, new_key_id
from chive_admin.clock import now_stamp
from chive_admin.store import api_keys as api_keys_store
from chive_admin.store import dead_letters
from chive_admin.store import operations as ops
from support.auth import ADMIN as ADMIN  # FixedTokens' admin (re-exported for the handler tests)
from support.auth import USER as USER  # a caller FixedTokens knows who holds no role
from support.seeding import new_op

if TYPE_CHECKING:
    from chive_admin.services import Services

#: an admin by configuration (``--admin-did``), for apps with the real authenticator
BOOTSTRAP_ADMIN = "did:plc:bootstrapadmin00000000000"

M = TypeVar("M", bound=BaseModel)


@dataclass
class Api:
    app: Starlette
    client: httpx.AsyncClient

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services

    async def get(
        self, nsid: str, params: Mapping[str, str | int] | None = None, *, headers: Mapping[str, str] = ADMIN
    ) -> httpx.Response:
        query = {name: str(value) for name, value in (params or {}).items()}
        return await self.client.get(f"/xrpc/{nsid}", params=query, headers=headers)

    async def post(self, nsid: str, body: object, *, headers: Mapping[str, str] = ADMIN) -> httpx.Response:
        return await self.client.post(f"/xrpc/{nsid}", json=body, headers=headers)

    async def key_for(self, did: str, name: str = "test") -> dict[str, str]:
        """The headers of a new API key of ``did`` (for an app with the real authenticator)."""
        key = new_key()
        async with self.services.db.write() as conn:
            await api_keys_store.create_key(
                conn, key_id=new_key_id(), did=did, name=name, key_hash=key_hash(key), now=now_stamp()
            )
        return {"Authorization": f"Bearer {key}"}

    async def stored_op(self, op_type: str, params: dict[str, Any] | None = None, *, status: str) -> ops.Operation:
        """An operation put in ``status`` by the store's own transitions, as a worker would have left it (for an
        app whose engine runs nothing). Any status but ``queued`` claims the oldest queued op of ``op_type``: make
        queued ones last."""
        async with self.services.db.write() as conn:
            op = await new_op(conn, op_type, params or {}, claimed_by=None if status == "queued" else "test")
            if status == "cancelling":
                await ops.request_cancel(conn, op.id, now_stamp())
            elif status in ops.ENDED:
                await ops.finish(conn, op.id, "test", ops.Outcome(status), now_stamp())
            stored = await ops.get(conn, op.id)
        assert stored is not None
        assert stored.status == status
        self.services.status_answers.changed()
        return stored

    async def dead_letter(
        self, item: int, *, error_type: str = "test_item", context: dict[str, Any] | None = None, created_at: str = ""
    ) -> int:
        """A dead-letter entry of the test job (``support.jobs.CountItems``) for ``item``; its id."""
        async with self.services.db.write() as conn:
            return await dead_letters.add(
                conn,
                operation_id=None,
                job_type="test-count",
                error_type=error_type,
                message=f"item {item} refused",
                context=context or {"item": item},
                item={"item": item},
                now=created_at or now_stamp(),
            )


@contextlib.asynccontextmanager
async def serving(app: Starlette) -> AsyncIterator[Api]:
    async with running_client(app) as client:
        yield Api(app, client)


def answer(response: httpx.Response, model: type[M]) -> M:
    """The 200 answer, validated as strictly as a client holding the lexicon would."""
    assert response.status_code == 200, response.text
    return model.model_validate(response.json(), strict=True, by_alias=True, by_name=False)


def refusal(response: httpx.Response, status: int, error: str) -> str:
    """Assert an XRPC error body of ``status`` and ``error``; its message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "message"}
    assert body["error"] == error
    assert isinstance(body["message"], str)
    assert body["message"]
    message: str = body["message"]
    return message
