"""Fixtures of the job tests: the server in-process in front of the scripted PDS (``pds``), its upstream calls
tried once (a fault here is the test's, not a hiccup to retry)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from conftest import AppFactory, running_client
from support.auth import FixedTokens
from support.pds import ScriptedPds
from support.served import FAST, Served


@pytest.fixture
async def served(make_app: AppFactory, pds: ScriptedPds) -> AsyncIterator[Served]:
    app = make_app(authenticator=FixedTokens(), engine_config=FAST, plc_url=pds.url, upstream_attempts=1)
    async with running_client(app) as client:
        yield Served(app, client)
