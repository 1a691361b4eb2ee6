"""Fixtures shared by every test package."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from support.databases import BACKENDS, BOTH_BACKENDS, POSTGRES, SQLITE, new_target, postgres_template  # noqa: F401
from support.pds import ScriptedPds, atproto_client, scripted_pds
from support.postgres import postgres_cluster  # noqa: F401  (a session fixture for every test)

from chive_admin.auth.policy import Authenticator
from chive_admin.backfill.engine import EngineConfig
from chive_admin.backfill.job_types import JobRegistry
from chive_admin.handlers.call import Handler
from chive_admin.server.app import create_app
from chive_admin.settings import Settings
from chive_admin.store.db import Database
from chive_admin.store.target import DbTarget
from chive_admin.upstream.atproto import AtprotoClient

REPO_ROOT = Path(__file__).resolve().parent.parent
TESTS = REPO_ROOT / "tests"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests of the folders in ``BOTH_BACKENDS`` that use a database run once per backend; a test marked
    ``sqlite_only`` (it reads the SQLite file itself) runs on SQLite alone, one marked ``postgres_only`` on
    PostgreSQL alone, and one marked ``both_backends`` on both wherever it is."""
    if "backend" not in metafunc.fixturenames:
        return
    if metafunc.definition.get_closest_marker("postgres_only") is not None:
        metafunc.parametrize("backend", (POSTGRES,), scope="module")
        return
    folder = Path(str(metafunc.definition.path)).relative_to(TESTS).parts[0]
    marked = metafunc.definition.get_closest_marker("both_backends") is not None
    both = (marked or folder in BOTH_BACKENDS) and metafunc.definition.get_closest_marker("sqlite_only") is None
    # module scope: a module's tests run backend by backend, and a module fixture that the tests change (a PDS's
    # population) can ask for ``backend`` to be made once per backend
    metafunc.parametrize("backend", BACKENDS if both else (SQLITE,), scope="module")


@pytest.fixture
def db_target(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> DbTarget:
    """Where a test's own ``Settings`` put the database: a SQLite file, or a PostgreSQL database of its own."""
    return new_target(request, backend, tmp_path / "test-target.db")


@pytest.fixture
def settings(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Settings:
    # exports read on a thread: an app started per test need not start a reader process (the interop tests, which
    # sync real exports, run the default, reader processes)
    target = new_target(request, backend, tmp_path / "chive-admin.db")
    return Settings(db=target, allow_private_network=True, export_readers=0)


@pytest.fixture
async def db(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    """A database migrated as ``serve`` leaves it, with one reader, closed after the test: a real SQLite file, or
    a real PostgreSQL database of its own."""
    database = await Database.open(new_target(request, backend, tmp_path / "test.db"), readers=1)
    yield database
    await database.close()


@pytest.fixture
def pds() -> Iterator[ScriptedPds]:
    """A scripted PDS, and the PLC directory that names it, on loopback (``support.pds``)."""
    with scripted_pds() as running:
        yield running


@pytest.fixture
async def upstream() -> AsyncIterator[AtprotoClient]:
    """The production upstream client, loopback allowed, each call tried once."""
    async with atproto_client() as client:
        yield client


AppFactory = Callable[..., Starlette]


@pytest.fixture
def make_app(settings: Settings) -> AppFactory:
    def factory(
        *,
        handlers: Mapping[str, Handler] | None = None,
        authenticator: Authenticator | None = None,
        jobs: JobRegistry | None = None,
        engine_config: EngineConfig | None = None,
        **overrides: Any,
    ) -> Starlette:
        effective = Settings(**{**settings.__dict__, **overrides}) if overrides else settings
        kwargs: dict[str, Any] = {"authenticator": authenticator, "jobs": jobs, "engine_config": engine_config}
        if handlers is not None:
            kwargs["handlers"] = handlers
        return create_app(effective, **kwargs)

    return factory


@contextlib.asynccontextmanager
async def running_client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on the app in-process, with the app's lifespan (database, services) running."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://chive-admin.test") as client:
            yield client


@pytest.fixture
async def client(make_app: AppFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with running_client(make_app()) as c:
        yield c
