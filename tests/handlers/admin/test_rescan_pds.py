"""rescanPDS: schedule a pds-scan of one host, or keep the one already scheduled; an address the SSRF guard refuses
schedules nothing."""

from __future__ import annotations

from conftest import AppFactory
from support.admin_api import Api, answer, refusal, serving
from support.auth import FixedTokens

from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import rescan_pds
from chive_admin.store import operations as ops

METHOD = ids.PUB_CHIVE_ADMIN_RESCAN_PDS
PDS = "http://127.0.0.1:1"


async def active(api: Api) -> list[ops.Operation]:
    async with api.services.db.read() as conn:
        return await ops.list_active(conn, 10)


async def test_one_scan_of_the_host_is_scheduled(api: Api) -> None:
    for _ in range(2):
        assert answer(await api.post(METHOD, {"pdsUrl": PDS}), rescan_pds.Output).success is True
    [op] = await active(api)
    assert (op.type, op.params, op.status) == ("pds-scan", {"pdsUrl": PDS}, "queued")


async def test_a_url_that_is_no_uri_is_refused(api: Api) -> None:
    assert "pdsUrl" in refusal(await api.post(METHOD, {"pdsUrl": "not a url"}), 400, "InvalidRequest")
    assert await active(api) == []


async def test_a_private_address_is_refused_without_the_flag(make_app: AppFactory) -> None:
    async with serving(make_app(authenticator=FixedTokens(), allow_private_network=False)) as api:
        message = refusal(await api.post(METHOD, {"pdsUrl": PDS}), 400, "InvalidRequest")
        assert await active(api) == []
    assert message.startswith("pdsUrl: ")
    assert "non-public" in message
