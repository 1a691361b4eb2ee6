"""Fixtures of the job tests: a scripted PDS (and PLC directory) on loopback, and the server in-process in front of
it, its upstream calls tried once (a fault here is the test's, not a hiccup to retry)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from conftest import AppFactory, running_client
from support.auth import FixedTokens
from support.pds import ScriptedPds, scripted_pds
from support.served import FAST, Served


@pytest.fixture
def pds() -> Iterator[ScriptedPds]:
    with scripted_pds() as running:
        yield running


@pytest.fixture
async def served(make_app: AppFactory, pds: ScriptedPds) -> AsyncIterator[Served]:
    app = make_app(authenticator=FixedTokens(), engine_config=FAST, plc_url=pds.url, upstream_attempts=1)
    async for client in running_client(app):
        yield Served(app, client)
