"""The upstream client the sync tests fetch from the testnet with."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from chive_admin.upstream.atproto import AtprotoClient
from chive_admin.upstream.calls import XrpcCaller
from chive_admin.upstream.guard import upstream_http
from chive_admin.upstream.hosts import HostPolicy


@pytest.fixture
async def client() -> AsyncIterator[AtprotoClient]:
    async with upstream_http(allow_private=True, timeout=httpx.Timeout(30.0)) as http:
        yield AtprotoClient(XrpcCaller(http, HostPolicy()))
