"""The app of the activity tests: users present their own (stand-in) service-auth tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from conftest import AppFactory
from support.admin_api import Api, serving
from support.engine import engine_config
from support.users import UserTokens


@pytest.fixture
async def users(make_app: AppFactory) -> AsyncIterator[Api]:
    async with serving(make_app(authenticator=UserTokens(), engine_config=engine_config(workers=0))) as running:
        yield running
