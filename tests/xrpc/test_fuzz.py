"""Every served route, fuzzed from its lexicon with an admin API key: valid and invalid params and bodies (wrong
types, huge and odd strings, missing and extra fields, non-objects). Never a 5xx; every error a valid XRPC error
body; every 200 an output that validates against the lexicon. Fixed example budget, so it fits in CI."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import AppFactory, running_client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from support.auth import bearer

from chive_admin._generated.catalog import ROUTES
from chive_admin.auth.api_keys import key_hash, new_key, new_key_id
from chive_admin.clock import now_stamp
from chive_admin.handlers import HANDLERS
from chive_admin.lex import Route
from chive_admin.store import api_keys as api_keys_store

ADMIN = "did:plc:fuzzadmin0000000000000000"
#: CI budget; CHIVE_FUZZ_EXAMPLES raises it for the full-size run
EXAMPLES = int(os.environ.get("CHIVE_FUZZ_EXAMPLES", "20"))

odd_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "\x00", "é", "🦋" * 10, "did:plc:abc", "at://did:plc:x/y/z", "https://x.example", "0"]),
    st.text(min_size=2000, max_size=3000),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), odd_text, st.floats())
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(odd_text, inner, max_size=4), max_leaves=12
)


def field_names(model: Any) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def params_for(route: Route) -> st.SearchStrategy[list[tuple[str, str]]]:
    names = [*route.param_specs, "unknown", "cursor", "limit"]
    value = st.one_of(odd_text, st.integers(-5, 10**12).map(str), st.sampled_from(["true", "false", "1", "abc"]))
    return st.lists(st.tuples(st.sampled_from(names), value), max_size=4)


def body_for(route: Route) -> st.SearchStrategy[Any]:
    names = field_names(route.input) if route.input else []
    known = st.dictionaries(st.sampled_from(names or ["x"]), json_values, max_size=len(names) + 1)
    return st.one_of(known, known.map(lambda d: {**d, "extraField": 1}), json_values)


class Harness:
    """The app, its lifespan and a client on one event loop owned by this (synchronous) test, so Hypothesis can
    drive each example to completion."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self._clients = running_client(app)
        self.client: httpx.AsyncClient = self.loop.run_until_complete(self._clients.__aenter__())
        self.key = self.loop.run_until_complete(self._key())

    async def _key(self) -> str:
        key = new_key()
        async with self.app.state.services.db.write() as conn:
            await api_keys_store.create_key(
                conn, key_id=new_key_id(), did=ADMIN, name="fuzz", key_hash=key_hash(key), now=now_stamp()
            )
        return key

    def close(self) -> None:
        self.loop.run_until_complete(self._clients.__aexit__(None, None, None))
        self.loop.close()


@pytest.fixture
def harness(make_app: AppFactory) -> Iterator[Harness]:
    app = make_app(
        admin_dids=(ADMIN,),
        allow_private_network=False,  # fuzzed URLs must not reach anything
        plc_url="http://127.0.0.1:9",
    )
    h = Harness(app)
    try:
        yield h
    finally:
        h.close()


def check(route: Route, response: httpx.Response) -> None:
    if route.nsid not in HANDLERS and response.status_code == 501:  # not built yet: the honest answer
        assert response.json()["error"] == "MethodNotImplemented"
        return
    assert response.status_code < 500, (route.nsid, response.status_code, response.text[:300])
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error", "message"}, body
        assert isinstance(body["error"], str)
        assert isinstance(body["message"], str)
        assert "Traceback" not in body["message"]
    elif route.output is not None and response.status_code == 200:
        route.output.model_validate(response.json(), strict=True, by_alias=True, by_name=False)


@pytest.mark.parametrize("nsid", sorted(ROUTES))
def test_fuzz_route(nsid: str, harness: Harness) -> None:
    client, route = harness.client, ROUTES[nsid]
    headers = bearer(harness.key)

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(params=params_for(route), body=body_for(route))
    def one(params: list[tuple[str, str]], body: Any) -> None:
        async def send() -> httpx.Response:
            if route.kind == "query":
                return await client.get(f"/xrpc/{nsid}", params=params, headers=headers)
            raw = json.dumps(body).encode()
            return await client.post(
                f"/xrpc/{nsid}", content=raw, headers={**headers, "Content-Type": "application/json"}
            )

        check(route, harness.loop.run_until_complete(send()))

    one()
