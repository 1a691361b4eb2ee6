"""``GET /metrics``: the Prometheus text for an admin credential or for the scrape token, for nobody else."""

from __future__ import annotations

import pytest
from conftest import AppFactory
from prometheus_client.parser import text_string_to_metric_families
from support.admin_api import ADMIN, USER, refusal, serving
from support.auth import FixedTokens

from chive_admin.server.metrics_route import CONTENT_TYPE

TOKEN = "scrape-token-0123456789"


async def test_an_admin_or_the_scrape_token_reads_the_exposition(make_app: AppFactory) -> None:
    async with serving(make_app(authenticator=FixedTokens(), metrics_token=TOKEN)) as api:
        as_admin = await api.client.get("/metrics", headers=ADMIN)
        as_scraper = await api.client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    for response in (as_admin, as_scraper):
        assert response.status_code == 200
        assert response.headers["content-type"] == CONTENT_TYPE
        names = {family.name for family in text_string_to_metric_families(response.text)}
        assert {"chive_admin_requests", "chive_admin_dlq_entries", "process_resident_memory_bytes"} <= names


@pytest.mark.parametrize(
    ("headers", "status", "error"),
    [
        ({}, 401, "AuthenticationRequired"),
        ({"Authorization": "Bearer not-the-token-at-all"}, 401, "AuthenticationRequired"),
        ({"Authorization": f"Bearer {TOKEN}x"}, 401, "AuthenticationRequired"),
        ({"Authorization": TOKEN}, 401, "AuthenticationRequired"),
        (USER, 403, "AdminRequired"),
    ],
)
async def test_anyone_else_is_refused_as_by_an_admin_method(
    make_app: AppFactory, headers: dict[str, str], status: int, error: str
) -> None:
    async with serving(make_app(authenticator=FixedTokens(), metrics_token=TOKEN)) as api:
        refusal(await api.client.get("/metrics", headers=headers), status, error)


async def test_without_a_scrape_token_only_admins_read_it(make_app: AppFactory) -> None:
    async with serving(make_app(authenticator=FixedTokens())) as api:
        for header in ("Bearer ", "Bearer None", "Bearer"):
            refusal(await api.client.get("/metrics", headers={"Authorization": header}), 401, "AuthenticationRequired")
        assert (await api.client.get("/metrics", headers=ADMIN)).status_code == 200
