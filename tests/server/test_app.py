"""The app: its lifespan holds the database (and its owner lock) and the services, every path answers JSON errors,
and ``/xrpc/_health`` answers anyone."""

from __future__ import annotations

import pytest
from conftest import AppFactory, running_client
from support.admin_api import ADMIN, refusal, serving
from support.auth import FixedTokens

from chive_admin import __version__
from chive_admin._generated import ids
from chive_admin.handlers import HANDLERS
from chive_admin.server.app import create_app
from chive_admin.settings import Settings
from chive_admin.store.db import DatabaseLockedByOtherProcess
from chive_admin.store.sqlite_db import OwnerLock


async def test_health_answers_its_version_to_anyone(make_app: AppFactory) -> None:
    async for api in serving(make_app()):
        response = await api.client.get("/xrpc/_health")
        head = await api.client.head("/xrpc/_health")
    assert response.status_code == 200
    assert response.json() == {"version": __version__}
    assert head.status_code == 200


async def test_paths_beside_xrpc_answer_xrpc_error_bodies(make_app: AppFactory) -> None:
    async for api in serving(make_app()):
        refusal(await api.client.get("/nothing-here"), 404, "NotFound")
        refusal(await api.client.post("/.well-known/did.json"), 405, "InvalidRequest")
        refusal(await api.client.post("/xrpc/_health"), 400, "InvalidRequest")  # no NSID: not a method
        refusal(await api.client.put(f"/xrpc/{ids.PUB_CHIVE_ADMIN_LIST_PDSES}", headers=ADMIN), 400, "InvalidRequest")


async def test_the_lifespan_holds_the_database_and_the_services(make_app: AppFactory, settings: Settings) -> None:
    app = make_app(authenticator=FixedTokens())
    async for api in serving(app):
        services = api.services
        assert services.settings is settings
        assert services.db.path == settings.db.resolve()
        assert services.readers is None  # the test settings read exports on a thread
        with pytest.raises(DatabaseLockedByOtherProcess):
            OwnerLock(settings.db).acquire()
        assert (await api.get(ids.PUB_CHIVE_ADMIN_LIST_PDSES)).status_code == 200
    lock = OwnerLock(settings.db)  # released at the end of the lifespan
    lock.acquire()
    lock.release()


async def test_the_real_handlers_are_served_by_default(settings: Settings) -> None:
    app = create_app(settings)
    async for client in running_client(app):
        response = await client.get(f"/xrpc/{ids.PUB_CHIVE_ADMIN_LIST_PDSES}")
    refusal(response, 401, "AuthenticationRequired")  # the real authenticator: no key, no answer
    assert ids.PUB_CHIVE_ADMIN_LIST_PDSES in HANDLERS
