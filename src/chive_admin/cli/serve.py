"""Running ``chive-admin serve``: the port first, then the database, then uvicorn with bounded connections.

- The listening socket is bound before the database is created or migrated, so a busy port is one line and exit 2
  with nothing left behind; uvicorn then serves on that socket.
- uvicorn bounds only the idle time between requests (``timeout_keep_alive``): a client sending its headers or its
  body one byte a second was never dropped. :class:`BoundedH11Protocol` gives a request ``--client-timeout``
  seconds for its headers and twice that for its body (the XRPC layer answers a slow body itself, after one
  ``--client-timeout``; this is the backstop for routes that never read theirs), and closes a connection over
  ``--max-connections`` as soon as it is accepted (uvicorn's ``limit_concurrency`` would answer 503 only once a
  request's headers were in, which a slow client never sends).
- ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed only from ``--trusted-proxy`` addresses; with none,
  uvicorn's proxy-header middleware is off (its default trusts 127.0.0.1, so any local process could claim any
  client address).
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import socket
from pathlib import Path
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from chive_admin.settings import (
    DEFAULT_CLIENT_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    Settings,
    SettingsError,
    unknown_variables,
)
from chive_admin.store.postgres_db import reachable
from chive_admin.store.sqlite_db import OwnerLock, preflight
from chive_admin.store.target import PostgresUrl
from chive_admin.telemetry.logs import configure_logging

log = logging.getLogger(__name__)

BACKLOG = 2048
#: uvicorn's own defaults, stated: idle seconds between two requests, and the most header bytes of one request
KEEP_ALIVE_SECONDS = 5
MAX_HEADER_BYTES = 16 * 1024


def listen(host: str, port: int) -> list[socket.socket]:
    """Sockets listening on ``host:port``, one per address the host names (as asyncio would bind them);
    ``SettingsError`` with one line saying why not."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise SettingsError(_listen_failure(host, port, exc)) from None
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(found):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart need not wait out TIME_WAIT
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # "::" is IPv6 only, as before
            sock.bind(address)
            sock.listen(BACKLOG)  # listening, not only bound: Linux lets two SO_REUSEADDR sockets bind one port
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise SettingsError(_listen_failure(host, port, exc)) from None
    return sockets


def _listen_failure(host: str, port: int, exc: OSError) -> str:
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return f"cannot listen on {where}: the port is in use (another server?); choose another with --port"
    if exc.errno == errno.EACCES:
        return f"cannot listen on {where}: permission denied (ports below 1024 need privileges)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {where}: {host} is not an address of this machine (--host)"
    if isinstance(exc, socket.gaierror):
        return f"cannot listen on {where}: cannot resolve {host!r} (--host)"
    return f"cannot listen on {where}: {exc.strerror or exc}"


def raw_error(status: int, reason: str, error: str, message: str) -> bytes:
    """A whole HTTP/1.1 XRPC error response that closes the connection, for when no request cycle exists."""
    body = json.dumps({"error": error, "message": message}, separators=(",", ":")).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each part of a request, and a cap on connections.

    The deadline follows the client's side of the h11 state machine: ``IDLE`` (headers still coming, counted from
    their first byte) gets ``client_timeout`` seconds, ``SEND_BODY`` twice that; any other state (the request is in,
    or the connection is closing) has none. A connection idle between requests is closed without a word, as
    uvicorn's keep-alive timeout does (a 408 there could cross the client's next request); one that stopped halfway
    through its headers gets a 408. A wait that is ours (reading paused until the app takes the body) is not the
    client's fault, so the body deadline starts again instead.
    """

    client_timeout: float = DEFAULT_CLIENT_TIMEOUT  # bounded_protocol() sets both from the settings
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    _deadline: asyncio.TimerHandle | None = None
    _watched: object = None
    _started: bool = False  # a byte of the current request has arrived

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            log.debug("refused a connection: %d open, at most %d", len(self.connections) - 1, self.max_connections)
            transport.write(raw_error(503, "Service Unavailable", "NotEnoughResources", "Too many connections"))
            transport.close()
            return
        self._follow()

    def data_received(self, data: bytes) -> None:
        if not self._started and self._watched is h11.IDLE:
            self._started = True
            self._disarm()
            self._arm(h11.IDLE, self.client_timeout)
        super().data_received(data)

    def handle_events(self) -> None:
        super().handle_events()
        self._follow()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _follow(self) -> None:
        state = self.conn.their_state
        if state is self._watched:
            return
        self._disarm()
        if state is h11.IDLE:
            self._started = False
            self._arm(state, self.client_timeout)
        elif state is h11.SEND_BODY:
            self._arm(state, 2 * self.client_timeout)

    def _arm(self, state: object, seconds: float) -> None:
        self._watched = state
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = None
        self._watched = None

    def _expired(self) -> None:
        state, self._deadline, self._watched = self._watched, None, None
        if self.transport.is_closing():
            return
        if state is h11.SEND_BODY and self.flow.read_paused:
            self._arm(state, 2 * self.client_timeout)
            return
        if state is h11.IDLE and self._started and self.conn.our_state is h11.IDLE:
            message = f"Request headers did not arrive within {self.client_timeout:g} s"
            self.transport.write(raw_error(408, "Request Timeout", "InvalidRequest", message))
        log.debug("closed a slow connection (%s)", "headers" if state is h11.IDLE else "body")
        self.transport.close()


def bounded_protocol(settings: Settings) -> type[BoundedH11Protocol]:
    """The protocol class uvicorn instantiates per connection, with this server's bounds."""
    return type(
        "BoundedH11Protocol",
        (BoundedH11Protocol,),
        {"client_timeout": settings.client_timeout, "max_connections": settings.max_connections},
    )


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """What uvicorn is told, besides the app and the socket."""
    trusted = [str(network) for network in settings.trusted_proxies]
    return {
        "log_level": settings.log_level,
        "lifespan": "on",
        "log_config": None,  # uvicorn logs through our handlers (and format) too
        "access_log": False,  # each call is logged once, by the pipeline, with its NSID, status and actor
        "http": bounded_protocol(settings),
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted or None,
    }


def run(settings: Settings) -> int:
    """Serve until stopped; ``SettingsError`` (one line, exit 2) when the port or the database cannot be had."""
    if settings.workers == 0 and isinstance(settings.db, Path):
        raise SettingsError(
            "--workers 0: an SQLite database is worked by the one process that owns it, so its operations would never"
            " run; give at least one worker, or a PostgreSQL --db shared with processes that run them"
        )
    sockets = listen(settings.host, settings.port)
    try:
        lock: OwnerLock | None = None
        if isinstance(settings.db, Path):
            lock = OwnerLock(settings.db)
            lock.acquire()
        try:
            if lock is not None:
                preflight(lock.db_path)
            elif isinstance(settings.db, PostgresUrl):
                asyncio.run(reachable(settings.db))
            import uvicorn

            from chive_admin.backfill.job_types import build_registry
            from chive_admin.backfill.jobs import BUILTIN_JOBS
            from chive_admin.server.app import create_app

            configure_logging(settings.log_level, settings.log_format)
            for warning in unknown_variables(os.environ):
                log.warning("%s", warning)
            app = create_app(
                settings,
                owner_lock=lock,
                jobs=build_registry(BUILTIN_JOBS, settings.job_plugins),
                freeze_heap=True,  # one app for the life of this process
            )
            config = uvicorn.Config(app, host=settings.host, port=settings.port, **uvicorn_options(settings))
            uvicorn.Server(config).run(sockets=sockets)
        finally:
            if lock is not None:
                lock.release()
    finally:
        for sock in sockets:
            sock.close()
    return 0
