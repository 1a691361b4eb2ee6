"""The app: its lifespan holds the database (and its owner lock) and the services, every path answers JSON errors,
and ``/xrpc/_health`` answers anyone."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import threading
import weakref

import pytest
from conftest import AppFactory, running_client
from support.admin_api import ADMIN, refusal, serving
from support.auth import FixedTokens

from chive_admin import __version__, api_first
from chive_admin._generated import ids
from chive_admin._generated.models.pub.chive.admin import list_pdses
from chive_admin.handlers import HANDLERS
from chive_admin.handlers.call import Call
from chive_admin.server.app import create_app
from chive_admin.settings import Settings
from chive_admin.store.db import DatabaseLockedByOtherProcess
from chive_admin.store.sqlite_db import OwnerLock


async def test_health_answers_its_version_to_anyone(make_app: AppFactory) -> None:
    async with serving(make_app()) as api:
        response = await api.client.get("/xrpc/_health")
        head = await api.client.head("/xrpc/_health")
    assert response.status_code == 200
    assert response.json() == {"version": __version__}
    assert head.status_code == 200


async def test_paths_beside_xrpc_answer_xrpc_error_bodies(make_app: AppFactory) -> None:
    async with serving(make_app()) as api:
        refusal(await api.client.get("/nothing-here"), 404, "NotFound")
        refusal(await api.client.post("/.well-known/did.json"), 405, "InvalidRequest")
        refusal(await api.client.post("/xrpc/_health"), 400, "InvalidRequest")  # no NSID: not a method
        refusal(await api.client.put(f"/xrpc/{ids.PUB_CHIVE_ADMIN_LIST_PDSES}", headers=ADMIN), 400, "InvalidRequest")


async def test_the_lifespan_holds_the_database_and_the_services(make_app: AppFactory, settings: Settings) -> None:
    app = make_app(authenticator=FixedTokens())
    async with serving(app) as api:
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
    async with running_client(app) as client:
        response = await client.get(f"/xrpc/{ids.PUB_CHIVE_ADMIN_LIST_PDSES}")
    refusal(response, 401, "AuthenticationRequired")  # the real authenticator: no key, no answer
    assert ids.PUB_CHIVE_ADMIN_LIST_PDSES in HANDLERS


async def test_a_failure_inside_a_running_client_still_closes_the_database(make_app: AppFactory) -> None:
    """A test that fails inside ``running_client`` must still stop the app: an app left open keeps its database
    threads alive, and the interpreter then waits on them forever after the last test."""

    def db_threads() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if "connection_worker" in t.name}

    async def fail_inside() -> None:
        async with running_client(make_app()) as client:
            assert (await client.get("/xrpc/_health")).status_code == 200
            assert db_threads() - before  # the app's database is open
            raise RuntimeError("boom")

    before = db_threads()
    with pytest.raises(RuntimeError, match="boom"):
        await fail_inside()
    left = db_threads() - before
    for thread in left:  # a closed connection's thread ends on its own, soon after
        thread.join(10)
    assert not {t for t in left if t.is_alive()}


async def test_a_frozen_heap_leaves_start_up_objects_to_the_collector_no_more(settings: Settings) -> None:
    """The served app freezes its start-up heap, so the collector's full passes (on the event loop) no longer walk
    it; what is made afterwards is still collected."""
    frozen_before = gc.get_freeze_count()
    try:
        async with serving(create_app(settings, authenticator=FixedTokens(), freeze_heap=True)) as api:
            assert gc.get_freeze_count() > frozen_before
            services = api.services
            assert not any(services is o for o in gc.get_objects())  # out of every generation the collector walks

            class Cycle:
                other: object = None

            garbage = Cycle()
            garbage.other = Cycle()
            garbage.other.other = garbage  # type: ignore[attr-defined]
            gone = weakref.ref(garbage)
            del garbage
            gc.collect()
            assert gone() is None
    finally:
        gc.unfreeze()  # the test session's later apps are collected as usual


async def test_an_app_does_not_freeze_the_heap_unless_asked(settings: Settings) -> None:
    frozen_before = gc.get_freeze_count()
    async with serving(create_app(settings, authenticator=FixedTokens())):
        assert gc.get_freeze_count() == frozen_before


async def test_backfill_steps_wait_while_a_request_is_answered(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api_first, "HOLD", 60.0)  # only the request's end releases the step here
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow(call: Call[list_pdses.Params, None]) -> list_pdses.Output:
        entered.set()
        await release.wait()
        return list_pdses.Output(stats=list_pdses.PdsStats(total=0, items=[]))

    app = make_app(authenticator=FixedTokens(), handlers={ids.PUB_CHIVE_ADMIN_LIST_PDSES: slow})
    async with serving(app) as api:
        request = asyncio.create_task(api.client.get(f"/xrpc/{ids.PUB_CHIVE_ADMIN_LIST_PDSES}", headers=ADMIN))
        await asyncio.wait_for(entered.wait(), 30)
        step = asyncio.create_task(api_first.api_first(), context=contextvars.Context())  # as a job's worker
        for _ in range(20):
            await asyncio.sleep(0)
        assert not step.done()
        release.set()
        assert (await request).status_code == 200
        await asyncio.wait_for(step, 30)
