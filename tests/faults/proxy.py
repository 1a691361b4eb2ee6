"""A loopback reverse proxy that forwards to one upstream and, on a seeded schedule, makes it misbehave.

Put it between chive-admin (or any client) and a real upstream such as a testnet PDS::

    async with FaultProxy(pds_url, FaultConfig(rate=0.3, seed=7)) as proxy:
        client_calls(proxy.url)              # same paths as upstream: proxy.url + "/xrpc/..."
        assert proxy.stats().faulted > 0

    with FaultProxy(pds_url, FaultConfig(never_recover=True)).running_in_thread() as proxy:
        start_server_subprocess(pds_url=proxy.url)   # the proxy has its own loop in a thread

The schedule is a pure function of ``(seed, n)`` for the n-th request that the path filters make eligible
(:func:`scheduled_fault`), so a sequential client sees the same faults on every run. Faults that answer on their
own (5xx, 429, stall, reset before the answer, invalid JSON, huge bodies) never reach upstream; the others
(wrong content type, truncated body, reset mid-body) forward the request and mangle the real answer.

The proxy listens on 127.0.0.1 only, speaks a small HTTP/1.1 (keep-alive, Content-Length or chunked bodies) and
streams what it forwards and what it invents: a 50 MB body costs it one 64 KiB buffer.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import fcntl
import json
import math
import random
import socket
import struct
import termios
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from http import HTTPStatus
from types import TracebackType
from typing import Any, cast

import httpx


class Fault(StrEnum):
    HTTP_500 = "http_500"
    HTTP_502 = "http_502"
    HTTP_503 = "http_503"
    #: 429 with ``Retry-After: <seconds>``
    RETRY_AFTER = "429_retry_after"
    #: 429 with ``RateLimit-Reset: <epoch seconds>`` (and the other RateLimit-* headers a PDS sends)
    RATELIMIT_RESET = "429_ratelimit_reset"
    #: the request is read, then nothing is answered for ``stall_s`` (longer than any sane read timeout)
    STALL = "stall"
    #: the request is read, then the connection is reset (RST, SO_LINGER 0) before any answer
    RESET_BEFORE = "reset_before"
    #: the real answer's head and half its body are sent, then the connection is reset
    RESET_MID_BODY = "reset_mid_body"
    #: the real answer's head (with its full Content-Length) and half its body are sent, then a clean close
    TRUNCATED = "truncated"
    #: 200, ``application/json``, a body that is not JSON
    INVALID_JSON = "invalid_json"
    #: the real answer with ``Content-Type: text/html``
    WRONG_CONTENT_TYPE = "wrong_content_type"
    #: 200, ``application/json``, ``huge_bytes`` of valid JSON, chunked (no length announced: the client must count)
    HUGE_BODY = "huge_body"
    #: the same body with its Content-Length announced
    HUGE_BODY_DECLARED = "huge_body_declared"


#: faults a retrying client should ride out; a huge body is final (retrying does not make it smaller)
TRANSIENT: tuple[Fault, ...] = tuple(f for f in Fault if f not in (Fault.HUGE_BODY, Fault.HUGE_BODY_DECLARED))
ALL_FAULTS: tuple[Fault, ...] = tuple(Fault)

#: XRPC error names the reference server uses for these statuses
_ERROR_NAMES = {500: "InternalServerError", 502: "UpstreamFailure", 503: "NotEnoughResources"}
_STATUS_OF = {Fault.HTTP_500: 500, Fault.HTTP_502: 502, Fault.HTTP_503: 503}
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
_CHUNK = 64 * 1024
_MAX_HEAD = 64 * 1024


@dataclass(frozen=True)
class FaultConfig:
    #: share of eligible requests that are faulted (ignored when ``never_recover``)
    rate: float = 0.3
    #: the kinds drawn from, uniformly
    kinds: tuple[Fault, ...] = TRANSIENT
    seed: int = 0
    #: every eligible request is faulted
    never_recover: bool = False
    #: path prefixes eligible for faults (empty: every path); others pass untouched
    paths: tuple[str, ...] = ()
    exclude_paths: tuple[str, ...] = ()
    #: faults (``None``: pass) for the first eligible requests, before the seeded schedule takes over
    plan: tuple[Fault | None, ...] = ()
    #: after this many faulted eligible requests in a row (in arrival order), the next one passes: a flaky upstream
    #: that a retry budget of ``max_consecutive + 1`` attempts always gets through (None: no such promise)
    max_consecutive: int | None = None
    retry_after_s: float = 1.0
    #: the RateLimit-Reset epoch announced is ``ceil(now + reset_in_s)``
    reset_in_s: float = 1.0
    stall_s: float = 300.0
    huge_bytes: int = 50 * 1024 * 1024

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"rate must be within 0..1, got {self.rate}")
        if not self.kinds and (self.never_recover or self.rate > 0):
            raise ValueError("kinds must not be empty when faults are wanted")
        if self.max_consecutive is not None and (self.max_consecutive < 1 or self.never_recover):
            raise ValueError("max_consecutive must be >= 1, and cannot be combined with never_recover")
        if self.huge_bytes < 16:
            raise ValueError("huge_bytes must be at least 16")

    def eligible(self, path: str) -> bool:
        if self.paths and not any(path.startswith(p) for p in self.paths):
            return False
        return not any(path.startswith(p) for p in self.exclude_paths)


def scheduled_fault(config: FaultConfig, n: int) -> Fault | None:
    """The fault for the ``n``-th eligible request (0-based): the plan first, then a draw seeded by (seed, n)."""
    if n < len(config.plan):
        return config.plan[n]
    rng = random.Random(f"{config.seed}/{n}")
    roll = rng.random()
    kind = config.kinds[rng.randrange(len(config.kinds))] if config.kinds else None
    return kind if config.never_recover or roll < config.rate else None


@dataclass(frozen=True)
class Seen:
    """One request the proxy received."""

    index: int
    method: str
    #: path and query, as received
    target: str
    fault: Fault | None
    #: epoch seconds when the request had been read
    at: float
    #: for a 429: the epoch second the answer said to come back at
    retry_at: float | None = None

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


@dataclass
class ProxyStats:
    #: client connections accepted
    connections: int = 0
    #: requests received
    calls: int = 0
    #: requests the path filters made eligible for faults
    eligible: int = 0
    #: scheduled faults skipped because of ``max_consecutive``
    spared: int = 0
    #: requests sent upstream (untouched or to be mangled)
    forwarded: int = 0
    #: requests being answered now, and the most there ever were at once (what a client's concurrency limit bounds)
    in_flight: int = 0
    peak_in_flight: int = 0
    faults: Counter[Fault] = field(default_factory=Counter)
    #: answers that failed on the proxy's own upstream leg (answered 502 UpstreamFailure; not injected)
    upstream_errors: int = 0
    #: payload bytes of huge bodies actually written before the body ended or the client hung up
    huge_bytes_sent: int = 0
    #: huge bodies the client hung up on before their end
    huge_bodies_abandoned: int = 0
    requests: list[Seen] = field(default_factory=list)

    @property
    def faulted(self) -> int:
        return sum(self.faults.values())

    def passed(self) -> list[Seen]:
        return [s for s in self.requests if s.fault is None]


@dataclass
class _Request:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    @property
    def keep_alive(self) -> bool:
        connection = (self.header("connection") or "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in connection
        return "close" not in connection


class _BadRequest(Exception):
    pass


class FaultProxy:
    def __init__(self, upstream: str, config: FaultConfig | None = None, *, upstream_timeout: float = 60.0) -> None:
        parsed = httpx.URL(upstream)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError(f"upstream must be an http(s) URL, got {upstream!r}")
        self.upstream = upstream.rstrip("/")
        self._config = config or FaultConfig()
        self._upstream_timeout = upstream_timeout
        self._lock = threading.Lock()
        self._stats = ProxyStats()
        self._server: asyncio.Server | None = None
        self._http: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False
        self._port: int | None = None
        self._streak = 0

    # -- lifecycle -------------------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the proxy is not running")
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("the proxy is already running")
        self._closing = False
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(self._upstream_timeout), follow_redirects=False, trust_env=False
        )
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, limit=_MAX_HEAD)
        self._port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop listening, cut every open connection and wait for every handler: nothing is left running."""
        server, self._server = self._server, None
        if server is None:
            return
        self._closing = True
        server.close()
        # a connection accepted just before close may start its handler a tick later: it sees _closing and ends
        for _ in range(3):
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.sleep(0)
        await server.wait_closed()
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        self._port = None

    async def __aenter__(self) -> FaultProxy:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @contextlib.contextmanager
    def running_in_thread(self) -> Iterator[FaultProxy]:
        """Run on an event loop of its own in a daemon thread until the block ends (for servers in subprocesses
        or synchronous tests); ``stats()`` and ``configure()`` are safe to call from any thread."""
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failures: list[BaseException] = []
        stopper: asyncio.Future[None] = loop.create_future()

        async def body() -> None:
            try:
                await self.start()
            except BaseException as exc:
                failures.append(exc)
                ready.set()
                return
            ready.set()
            try:
                await stopper
            finally:
                await self.stop()

        def main() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(body())
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

        thread = threading.Thread(target=main, name="fault-proxy", daemon=True)
        thread.start()
        if not ready.wait(30):
            raise RuntimeError("the fault proxy did not start within 30 s")
        if failures:
            thread.join(10)
            raise failures[0]
        try:
            yield self
        finally:
            loop.call_soon_threadsafe(_settle, stopper)
            thread.join(30)
            if thread.is_alive():
                raise RuntimeError("the fault proxy thread did not stop within 30 s")

    # -- configuration and counters --------------------------------------------------------------------------------

    @property
    def open_connections(self) -> int:
        """Client connections whose handler is still running."""
        return len(self._tasks)

    @property
    def config(self) -> FaultConfig:
        return self._config

    def configure(self, config: FaultConfig | None = None, **changes: Any) -> FaultConfig:
        """Replace the config (or change some fields) for the requests that arrive from now on; the schedule
        position carries on."""
        with self._lock:
            base = config if config is not None else self._config
            self._config = dataclasses.replace(base, **changes) if changes else base
            return self._config

    def stats(self) -> ProxyStats:
        """A snapshot of the counters (a copy: later requests do not change it)."""
        with self._lock:
            return copy.deepcopy(self._stats)

    def reset_stats(self) -> None:
        """Zero the counters (the schedule position and the fault streak start over too)."""
        with self._lock:
            self._stats = ProxyStats()
            self._streak = 0

    def _decide(self, request: _Request, arrived: float) -> Seen:
        with self._lock:
            config = self._config
            stats = self._stats
            index = stats.calls
            stats.calls += 1
            path = request.target.split("?", 1)[0]
            fault: Fault | None = None
            if config.eligible(path):
                fault = scheduled_fault(config, stats.eligible)
                stats.eligible += 1
                if fault is not None and config.max_consecutive is not None and self._streak >= config.max_consecutive:
                    fault = None
                    stats.spared += 1
                self._streak = self._streak + 1 if fault is not None else 0
            retry_at: float | None = None
            if fault is Fault.RETRY_AFTER:
                retry_at = time.time() + config.retry_after_s
            elif fault is Fault.RATELIMIT_RESET:
                retry_at = float(math.ceil(time.time() + config.reset_in_s))
            if fault is not None:
                stats.faults[fault] += 1
            seen = Seen(index, request.method, request.target, fault, arrived, retry_at)
            stats.requests.append(seen)
            return seen

    def _enter(self) -> None:
        with self._lock:
            self._stats.in_flight += 1
            self._stats.peak_in_flight = max(self._stats.peak_in_flight, self._stats.in_flight)

    def _count(self, **increments: int) -> None:
        with self._lock:
            for name, value in increments.items():
                setattr(self._stats, name, getattr(self._stats, name) + value)

    # -- connections -----------------------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is None or self._closing:
            writer.close()
            return
        self._tasks.add(task)
        self._count(connections=1)
        try:
            while True:
                try:
                    request = await _read_request(reader)
                except _BadRequest as exc:
                    await _send_simple(writer, 400, {"error": "InvalidRequest", "message": str(exc)}, keep=False)
                    break
                if request is None:
                    break
                seen = self._decide(request, time.time())
                self._enter()
                answering = _AnswerStarts(writer, lambda: self._count(in_flight=-1))
                try:
                    keep = await self._answer(request, seen, reader, cast(asyncio.StreamWriter, answering))
                finally:
                    answering.started()
                if not keep:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass
        except asyncio.CancelledError:
            # stop() cancels handlers; end normally, since asyncio's stream callback chokes on a cancelled handler
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _answer(
        self, request: _Request, seen: Seen, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Answer one request; whether the connection may carry another."""
        fault = seen.fault
        config = self._config
        keep = request.keep_alive
        if fault in _STATUS_OF:
            status = _STATUS_OF[fault]
            error = {"error": _ERROR_NAMES[status], "message": f"fault proxy: injected {status}"}
            await _send_simple(writer, status, error, keep=keep)
            return keep
        if fault is Fault.RETRY_AFTER or fault is Fault.RATELIMIT_RESET:
            assert seen.retry_at is not None
            if fault is Fault.RETRY_AFTER:
                headers = [("retry-after", _number(config.retry_after_s))]
            else:
                headers = [
                    ("ratelimit-limit", "3000"),
                    ("ratelimit-remaining", "0"),
                    ("ratelimit-reset", str(int(seen.retry_at))),
                    ("ratelimit-policy", "3000;w=300"),
                ]
            body = {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}
            await _send_simple(writer, 429, body, keep=keep, extra=headers)
            return keep
        if fault is Fault.STALL:
            await _stall(reader, config.stall_s)
            return False
        if fault is Fault.RESET_BEFORE:
            _reset(writer)
            return False
        if fault is Fault.INVALID_JSON:
            body_bytes = b'{"cursor": "3l' + b'", "records": [{"uri": "at://did:plc:'
            await _send_raw(writer, 200, [("content-type", "application/json")], body_bytes, keep=keep)
            return keep
        if fault is Fault.HUGE_BODY or fault is Fault.HUGE_BODY_DECLARED:
            return await self._huge(writer, config.huge_bytes, declared=fault is Fault.HUGE_BODY_DECLARED, keep=keep)
        return await self._forward(request, fault, writer, keep)

    async def _huge(self, writer: asyncio.StreamWriter, size: int, *, declared: bool, keep: bool) -> bool:
        headers = [("content-type", "application/json")]
        headers.append(("content-length", str(size)) if declared else ("transfer-encoding", "chunked"))
        writer.write(_head(200, headers, keep))
        sent = 0
        try:
            for piece in _padding_json(size):
                writer.write(piece if declared else _chunk(piece))
                await writer.drain()
                sent += len(piece)
            if not declared:
                writer.write(b"0\r\n\r\n")
                await writer.drain()
        except ConnectionError:
            self._count(huge_bytes_sent=sent, huge_bodies_abandoned=1)
            return False
        self._count(huge_bytes_sent=sent)
        return keep

    async def _forward(self, request: _Request, fault: Fault | None, writer: asyncio.StreamWriter, keep: bool) -> bool:
        assert self._http is not None
        headers = [(k, v) for k, v in request.headers if k.lower() not in _HOP_BY_HOP | {"host", "content-length"}]
        outgoing = self._http.build_request(
            request.method, self.upstream + request.target, headers=headers, content=request.body or None
        )
        self._count(forwarded=1)
        try:
            response = await self._http.send(outgoing, stream=True)
        except httpx.HTTPError as exc:
            self._count(upstream_errors=1)
            message = f"fault proxy: upstream unreachable ({type(exc).__name__})"
            await _send_simple(writer, 502, {"error": "UpstreamFailure", "message": message}, keep=keep)
            return keep
        try:
            answer = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _HOP_BY_HOP]
            if fault is Fault.WRONG_CONTENT_TYPE:
                answer = [(k, v) for k, v in answer if k.lower() != "content-type"]
                answer.append(("content-type", "text/html; charset=utf-8"))
            if fault is Fault.TRUNCATED or fault is Fault.RESET_MID_BODY:
                raw = b"".join([chunk async for chunk in response.aiter_raw()])
                answer = [(k, v) for k, v in answer if k.lower() != "content-length"]
                answer.append(("content-length", str(len(raw) or 1)))
                writer.write(_head(response.status_code, answer, False) + raw[: len(raw) // 2])
                await writer.drain()
                if fault is Fault.RESET_MID_BODY:
                    await _acknowledged(writer)
                    _reset(writer)
                return False
            bodyless = request.method == "HEAD" or response.status_code in (204, 304) or response.status_code < 200
            length = response.headers.get("content-length")
            if bodyless:
                writer.write(_head(response.status_code, answer, keep))
                await writer.drain()
                return keep
            if length is not None:
                writer.write(_head(response.status_code, answer, keep))
                async for chunk in response.aiter_raw():
                    writer.write(chunk)
                    await writer.drain()
                return keep
            answer = [(k, v) for k, v in answer if k.lower() != "content-length"]
            answer.append(("transfer-encoding", "chunked"))
            writer.write(_head(response.status_code, answer, keep))
            async for chunk in response.aiter_raw():
                if chunk:
                    writer.write(_chunk(chunk))
                    await writer.drain()
            writer.write(b"0\r\n\r\n")
            await writer.drain()
            return keep
        except httpx.HTTPError:
            # upstream broke mid-answer: the client must not mistake what it got for a whole answer
            self._count(upstream_errors=1)
            _reset(writer)
            return False
        finally:
            await response.aclose()


class _AnswerStarts:
    """The client's writer, telling when the answer starts to go out: from then on the client may have it and send
    its next request, so counting this one in flight any longer would overlap the next (and overstate concurrency)."""

    def __init__(self, writer: asyncio.StreamWriter, on_start: Callable[[], None]) -> None:
        self._writer = writer
        self._on_start: Callable[[], None] | None = on_start

    def started(self) -> None:
        if self._on_start is not None:
            on_start, self._on_start = self._on_start, None
            on_start()

    def write(self, data: bytes) -> None:
        self.started()
        self._writer.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._writer, name)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


# -- HTTP/1.1 pieces ----------------------------------------------------------------------------------------------


async def _read_request(reader: asyncio.StreamReader) -> _Request | None:
    """The next request on the connection; ``None`` at a clean end of the connection."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial.strip():
            return None
        raise _BadRequest("incomplete request head") from None
    except asyncio.LimitOverrunError:
        raise _BadRequest("request head too large") from None
    lines = head[:-4].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[1].startswith("/") or parts[2] not in ("HTTP/1.1", "HTTP/1.0"):
        raise _BadRequest(f"bad request line {lines[0][:100]!r}")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise _BadRequest(f"bad header line {line[:100]!r}")
        headers.append((name, value.strip()))
    request = _Request(parts[0], parts[1], parts[2], headers, b"")
    if "chunked" in (request.header("transfer-encoding") or "").lower():
        request.body = await _read_chunked(reader)
    else:
        length = request.header("content-length")
        if length is not None:
            if not length.isdigit():
                raise _BadRequest("bad content-length")
            request.body = await reader.readexactly(int(length))
    return request


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size_line = await reader.readuntil(b"\r\n")
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise _BadRequest("bad chunk size") from None
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return bytes(body)
        body += await reader.readexactly(size)
        await reader.readexactly(2)


def _head(status: int, headers: list[tuple[str, str]], keep: bool) -> bytes:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = ""
    lines = [f"HTTP/1.1 {status} {reason}".rstrip()]
    lines += [f"{k}: {v}" for k, v in headers]
    lines.append(f"connection: {'keep-alive' if keep else 'close'}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _padding_json(size: int) -> Iterator[bytes]:
    """``{"pad":"xxx…"}``, exactly ``size`` bytes of valid JSON, in pieces of at most 64 KiB (one buffer reused)."""
    prefix, suffix = b'{"pad":"', b'"}'
    filler = b"x" * _CHUNK
    yield prefix
    remaining = size - len(prefix) - len(suffix)
    while remaining > 0:
        take = min(remaining, _CHUNK)
        yield filler if take == _CHUNK else filler[:take]
        remaining -= take
    yield suffix


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


async def _send_raw(
    writer: asyncio.StreamWriter, status: int, headers: list[tuple[str, str]], body: bytes, *, keep: bool
) -> None:
    writer.write(_head(status, [*headers, ("content-length", str(len(body)))], keep) + body)
    await writer.drain()


async def _send_simple(
    writer: asyncio.StreamWriter,
    status: int,
    body: dict[str, str],
    *,
    keep: bool,
    extra: list[tuple[str, str]] | None = None,
) -> None:
    headers = [("content-type", "application/json; charset=utf-8"), *(extra or [])]
    await _send_raw(writer, status, headers, json.dumps(body).encode(), keep=keep)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


async def _stall(reader: asyncio.StreamReader, seconds: float) -> None:
    """Say nothing until the client gives up (closes), the time is up, or the proxy stops."""
    with contextlib.suppress(TimeoutError, ConnectionError):
        async with asyncio.timeout(seconds):
            while await reader.read(_CHUNK):
                pass


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST instead of FIN: SO_LINGER 0 makes the kernel drop the connection on close."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _acknowledged(writer: asyncio.StreamWriter, timeout: float = 2.0) -> None:
    """Wait until the peer has acknowledged what was written, so a reset cannot overtake (and discard) it."""
    sock = writer.get_extra_info("socket")
    deadline = time.monotonic() + timeout
    while sock is not None and time.monotonic() < deadline:
        try:
            pending = struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]
        except OSError:
            await asyncio.sleep(0.05)
            return
        if pending == 0:
            return
        await asyncio.sleep(0.002)
