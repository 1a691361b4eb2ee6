"""The ASGI application."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from chive_admin import __version__
from chive_admin._generated.catalog import ROUTES
from chive_admin.api_first import answering
from chive_admin.auth.api_keys import ApiKeyStore
from chive_admin.auth.audit import AuditLog
from chive_admin.auth.authenticator import AdminAuthenticator
from chive_admin.auth.identity import IdentityResolver
from chive_admin.auth.policy import Authenticator
from chive_admin.auth.replay import SharedReplayCache
from chive_admin.auth.roles import RoleBook
from chive_admin.auth.service_jwt import ServiceJwtVerifier
from chive_admin.backfill.engine import Engine, EngineConfig
from chive_admin.backfill.job_types import JobRegistry, build_registry
from chive_admin.backfill.jobs import BUILTIN_JOBS
from chive_admin.dashboard.routes import dashboard_routes
from chive_admin.engagement.activity import ActivityBook
from chive_admin.engagement.hourly_answers import HourlyAnswers
from chive_admin.engagement.recorder import EngagementRecorder
from chive_admin.handlers import HANDLERS
from chive_admin.handlers.call import Handler
from chive_admin.ingest.export_readers import ExportReaders
from chive_admin.ingest.handles import HandleVerifier
from chive_admin.live.sources import LiveConfig, LiveSources
from chive_admin.server.banner import announce
from chive_admin.server.metrics_route import prometheus
from chive_admin.server.router import XRPCRouter
from chive_admin.server.well_known import did_document
from chive_admin.services import Services
from chive_admin.settings import Settings
from chive_admin.store.db import Database
from chive_admin.store.sqlite_db import OwnerLock
from chive_admin.telemetry.health import IntegrityMonitor
from chive_admin.telemetry.metrics import count_upstream_attempt, count_upstream_bytes
from chive_admin.upstream.atproto import AtprotoClient
from chive_admin.upstream.calls import RetryPolicy, XrpcCaller
from chive_admin.upstream.did_docs import DidDocFetcher
from chive_admin.upstream.guard import upstream_http
from chive_admin.upstream.handles import HandleResolver
from chive_admin.upstream.hosts import HostLimits, HostPolicy
from chive_admin.upstream.relay import RelayClient, relay_policy
from chive_admin.xrpc.answer_cache import AnswerCache
from chive_admin.xrpc.errors import XRPCError
from chive_admin.xrpc.responses import error_response, json_response

log = logging.getLogger(__name__)

_HTTP_ERROR_NAMES = {404: "NotFound", 405: "InvalidRequest", 413: "PayloadTooLarge"}


async def health(request: Request) -> Response:
    return json_response({"version": __version__})


async def http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status >= 500:
        return error_response(XRPCError.internal())
    name = _HTTP_ERROR_NAMES.get(status, "InvalidRequest")
    return error_response(XRPCError(status, name, "Not found" if status == 404 else "Invalid request"))


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error outside the XRPC router", exc_info=exc)
    return error_response(XRPCError.internal())


class AnswerFirst:
    """Counts the HTTP requests being answered, for :mod:`chive_admin.api_first`: backfill steps wait while any is."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with answering():
            await self.app(scope, receive, send)


def settle_heap() -> None:
    """Collect, then freeze what is left (``gc.freeze``): the modules, models and services made at start-up, which
    live as long as the process.

    The collector's full passes run on the event loop, in whatever callback happens to allocate, and walk every
    tracked object: over the start-up heap of the server one is a stall of every request in flight, and ingest's
    allocations bring one on every few seconds. Frozen objects are never walked again, so those passes
    see only what was made since (a batch or two): well under a millisecond.
    """
    gc.collect()
    gc.freeze()


def create_app(
    settings: Settings,
    *,
    handlers: Mapping[str, Handler] = HANDLERS,
    authenticator: Authenticator | None = None,
    owner_lock: OwnerLock | None = None,
    jobs: JobRegistry | None = None,
    engine_config: EngineConfig | None = None,
    freeze_heap: bool = False,
) -> Starlette:
    """The app; the database opens (and the owner lock is taken) in its lifespan, not here.

    ``freeze_heap`` (the served process: one app for the life of the process) moves what start-up made out of the
    cyclic garbage collector's sight once the app has started (:func:`settle_heap`)."""
    router = XRPCRouter(ROUTES, handlers, max_body_bytes=settings.max_body_bytes, body_seconds=settings.client_timeout)
    registry = jobs if jobs is not None else build_registry(BUILTIN_JOBS, settings.job_plugins)
    config = engine_config or EngineConfig.from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        db = await Database.open(settings.db, lock=owner_lock)
        timeout = httpx.Timeout(settings.upstream_timeout, connect=min(10.0, settings.upstream_timeout))
        http = upstream_http(
            allow_private=settings.allow_private_network,
            timeout=timeout,
            deadline=settings.upstream_deadline,
            on_bytes=count_upstream_bytes,
        )
        status_answers = AnswerCache()
        engine = Engine(db, registry, config, on_change=status_answers.changed)
        xrpc = XrpcCaller(
            http,
            HostPolicy(HostLimits(concurrency=settings.upstream_concurrency)),
            RetryPolicy(attempts=settings.upstream_attempts, deadline=settings.upstream_deadline),
            on_attempt=count_upstream_attempt,
        )
        # DID documents have a connection pool of their own: jobs cannot starve admins' resolutions of connections,
        # nor tokens naming slow hosts the jobs (the resolver bounds what strangers' tokens may hold of it)
        identity_http = upstream_http(
            allow_private=settings.allow_private_network, timeout=timeout, on_bytes=count_upstream_bytes
        )
        identities = IdentityResolver(
            DidDocFetcher(identity_http, settings.plc_url, allow_private=settings.allow_private_network)
        )
        upstream = AtprotoClient(xrpc)
        relay = None
        if settings.relay_url is not None:
            policy = relay_policy(attempts=settings.upstream_attempts, deadline=settings.upstream_deadline)
            relay = RelayClient(settings.relay_url, http, xrpc.hosts, policy)
        handles = HandleVerifier(HandleResolver(identity_http, upstream, trusted=settings.handle_resolver))
        keys = ApiKeyStore(db)
        roles = RoleBook(db, settings.admin_dids)
        # a server that owns its database keeps the jti set in memory; processes sharing one keep it there
        replay = None if db.exclusive else SharedReplayCache(db)
        verifier = ServiceJwtVerifier(settings.service_did, identities, replay=replay)
        services = Services(
            settings=settings,
            db=db,
            authenticator=authenticator or AdminAuthenticator(verifier, keys, roles),
            integrity=IntegrityMonitor(db),
            engine=engine,
            status_answers=status_answers,
            upstream=upstream,
            identities=identities,
            handles=handles,
            audit=AuditLog(db, keys),
            keys=keys,
            roles=roles,
            engagement=EngagementRecorder(db),
            activity=ActivityBook(db),
            hourly_answers=HourlyAnswers(),
            relay=relay,
        )
        app.state.services = services
        live_task: asyncio.Task[None] | None = None
        try:
            # a process without workers (``--workers 0``) answers the API only: no ingest here, not even the live
            # sources', whose leases the processes beside it take
            ingests = config.workers > 0
            if settings.export_readers and ingests:
                services.readers = ExportReaders(settings.export_readers)
                await services.readers.warm()
            services.audit.start()
            services.engagement.start()
            await engine.start(services)
            if (settings.firehose_url or settings.firehose_pdses) and ingests:
                live = LiveConfig(
                    relay=settings.firehose_url,
                    pdses=settings.firehose_pdses,
                    allow_private=settings.allow_private_network,
                    # a process that owns its database (SQLite) is the only one that can read a source
                    lease_seconds=None if db.exclusive else settings.lease_seconds,
                )
                services.sources = LiveSources(db, identities, services.handles, engine, live)
                services.live = services.sources.relay
                live_task = asyncio.create_task(services.sources.run(), name="live-indexer")
            await announce(services)
            if freeze_heap:
                settle_heap()
            yield
        finally:
            if live_task is not None:  # first: a batch in flight is rolled back whole, the cursor with it
                live_task.cancel()
                await asyncio.gather(live_task, return_exceptions=True)
            await engine.stop()
            await services.engagement.stop()
            await services.hourly_answers.close()
            if services.readers is not None:
                await services.readers.close()
            await services.audit.stop()
            await xrpc.aclose()
            if relay is not None:
                await relay.aclose()
            await http.aclose()
            await identities.close()
            await identity_http.aclose()
            await db.close()

    return Starlette(
        routes=[
            Route("/xrpc/_health", health, methods=["GET", "HEAD"]),
            Route("/.well-known/did.json", did_document, methods=["GET", "HEAD"]),
            Route("/metrics", prometheus, methods=["GET"]),
            *dashboard_routes(),
            Route(
                "/xrpc/{method:path}",
                router.endpoint,
                methods=["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"],
            ),
        ],
        exception_handlers={HTTPException: http_error, Exception: server_error},
        middleware=[Middleware(AnswerFirst)],
        lifespan=lifespan,
    )
