"""The apps the handler tests call: ``api`` answers ``support.auth.FixedTokens``' callers; ``keyed`` runs the real
authenticator (API keys, the roles table, the bootstrap admin ``BOOTSTRAP_ADMIN``). Neither engine runs an operation, so
each stays in the status a test leaves it in."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from conftest import AppFactory
from support.admin_api import BOOTSTRAP_ADMIN, Api, serving
from support.auth import FixedTokens
from support.engine import engine_config
from support.jobs import CountItems

from chive_admin.backfill.job_types import JobRegistry
from chive_admin.backfill.jobs import BUILTIN_JOBS

IDLE = engine_config(workers=0)


@pytest.fixture
async def api(make_app: AppFactory) -> AsyncIterator[Api]:
    app = make_app(authenticator=FixedTokens(), jobs=JobRegistry([*BUILTIN_JOBS, CountItems]), engine_config=IDLE)
    async with serving(app) as running:
        yield running


@pytest.fixture
async def keyed(make_app: AppFactory) -> AsyncIterator[Api]:
    async with serving(make_app(admin_dids=(BOOTSTRAP_ADMIN,), engine_config=IDLE)) as running:
        yield running
