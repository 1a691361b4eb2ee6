"""httpx's client API over aiohttp's connection pool: the upstream transport.

httpx's own HTTP/1.1 stack (h11, pure Python, on anyio) costs several times the CPU of aiohttp's C parser per
listRecords page (``python -m bench.profile_ingest`` shows it). A backfill is thousands of such calls, so the
transport is aiohttp's while callers keep one ``httpx.AsyncClient`` (timeouts, URL handling, content decoding, the
typed errors they catch). The XRPC calls go one step further: :meth:`AiohttpTransport.get` answers an
:class:`Answer` without httpx's request and response models, the rest of the client's cost per page, through the
same send, deadline, inflating and errors as the httpx path.

aiohttp failures become the httpx exception of the same meaning: a refused connection is a ``ConnectError``, a
stalled read a ``ReadTimeout``, a cut or malformed answer a ``RemoteProtocolError``, so retry policy upstream of this
sees exactly what httpx itself would raise.

Two bounds that a hostile server must not be able to stretch are kept here, for every caller alike (XRPC calls and
DID documents):

- a **total deadline** per request, from connecting to the last byte of the answer. The read timeout alone is no
  bound: a server sending a byte every few seconds resets it forever. The client has a default; a caller gives one
  request its own with :func:`deadline` (an export's grows with what has arrived, while it keeps a minimum rate).
- **compressed answers** (gzip and deflate, the only encodings asked for) are inflated here, at most ``PIECE`` bytes
  at a time, handing each piece on (and letting the event loop run) before the next is made: a caller's size cap or
  check of the first bytes stops a decompression bomb after one piece. httpx gets the inflated body, without the
  ``Content-Encoding`` and ``Content-Length`` that described the compressed one.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

import aiohttp
import httpx
import yarl
from multidict import CIMultiDict, CIMultiDictProxy

log = logging.getLogger(__name__)

#: bytes asked of aiohttp per read; it hands over what has arrived, up to this
CHUNK = 64 * 1024
#: the most of a compressed answer inflated at once: the caller sees (and may refuse) each piece before the next
PIECE = 64 * 1024
#: the encodings this transport inflates, asked for as ``Accept-Encoding``; an answer in any other is refused
ACCEPT_ENCODING = "gzip, deflate"
#: the request extension holding a request's :class:`Deadline`
DEADLINE = "chive_admin.deadline"


#: told ``(form, n)`` for the bytes of every answer: ``wire`` as received, ``inflated`` as decompressed
ByteObserver = Callable[[str, int], None]


@dataclass(frozen=True)
class Deadline:
    """How long one request may take, from connecting to the last byte of its answer."""

    seconds: float
    #: bytes a second: an answer still arriving at least this fast on average may run past ``seconds`` (one of N bytes
    #: has ``seconds + N / min_rate``); 0: the deadline is fixed
    min_rate: float = 0.0

    def at(self, start: float, received: int) -> float:
        """When a request started at ``start`` (loop time) must end, ``received`` bytes of its answer in."""
        return start + self.seconds + (received / self.min_rate if self.min_rate > 0 else 0.0)


def deadline(seconds: float, *, min_rate: float = 0.0) -> dict[str, Deadline]:
    """Request extensions giving one request its own deadline: ``http.stream("GET", url, extensions=deadline(5))``."""
    return {DEADLINE: Deadline(seconds, min_rate)}


class DeadlinePassed(httpx.TimeoutException):
    """The request ran past its total deadline (a ``TimeoutException``, so callers that only know httpx still see
    a timeout)."""

    def __init__(self, limit: Deadline, request: httpx.Request | None) -> None:
        rate = f" (and {limit.min_rate / 1024:g} KiB/s)" if limit.min_rate > 0 else ""
        super().__init__(f"the answer took longer than its {limit.seconds:g} s deadline{rate}", request=request)
        self.limit = limit


class Undecodable(httpx.RemoteProtocolError):
    """An answer in an encoding that was not asked for, or compressed data that does not inflate."""


class _Inflater:
    """A gzip or deflate body inflated a bounded piece at a time."""

    def __init__(self, encoding: str, request: httpx.Request | None) -> None:
        self._request = request
        self._gzip = encoding != "deflate"
        # "deflate" is zlib-wrapped by the spec and raw by some servers: the first bytes say which (as httpx does)
        self._raw_retry = not self._gzip
        self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 16 if self._gzip else zlib.MAX_WBITS)

    def pieces(self, data: bytes) -> Iterator[bytes]:
        while True:
            if self._zlib.eof:
                # zlib would keep what follows the end in ``unused_data``, without bound
                if data or self._zlib.unused_data:
                    raise Undecodable("the answer goes on after the end of its compressed data", request=self._request)
                return
            try:
                out = self._zlib.decompress(data, PIECE)
            except zlib.error as exc:
                if not self._raw_retry:
                    raise Undecodable(f"the compressed answer does not inflate: {exc}", request=self._request) from None
                self._raw_retry = False
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                continue
            self._raw_retry = False
            data = self._zlib.unconsumed_tail
            if out:
                yield out
            if not data and len(out) < PIECE and not self._zlib.eof:  # all the input taken, nothing left inside
                return

    def finish(self) -> None:
        if not self._zlib.eof:
            raise Undecodable("the compressed answer ends before its compressed data does", request=self._request)


@contextmanager
def _as_httpx(request: httpx.Request | None) -> Iterator[None]:
    try:
        yield
    except aiohttp.ConnectionTimeoutError as exc:
        raise httpx.ConnectTimeout(str(exc) or "connect timed out", request=request) from exc
    except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
        raise httpx.ReadTimeout(str(exc) or "read timed out", request=request) from exc
    except aiohttp.InvalidURL as exc:
        raise httpx.InvalidURL(f"not a URL this client calls: {exc}") from exc
    except aiohttp.ClientConnectorError as exc:
        raise httpx.ConnectError(str(exc), request=request) from exc
    except (aiohttp.ClientPayloadError, aiohttp.ClientResponseError, aiohttp.ServerDisconnectedError) as exc:
        raise httpx.RemoteProtocolError(str(exc) or type(exc).__name__, request=request) from exc
    except (aiohttp.ClientError, OSError) as exc:
        raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc


@asynccontextmanager
async def _within(request: httpx.Request | None, limit: Deadline, when: float) -> AsyncIterator[None]:
    """One step of a request (sending it, one read of its answer) before ``when``, with httpx's errors."""
    timer = asyncio.timeout_at(when)
    try:
        async with timer:
            with _as_httpx(request):
                yield
    except TimeoutError:
        if timer.expired():
            raise DeadlinePassed(limit, request) from None
        raise


class _Body(httpx.AsyncByteStream):
    def __init__(
        self,
        response: aiohttp.ClientResponse,
        request: httpx.Request | None,
        *,
        limit: Deadline,
        start: float,
        inflater: _Inflater | None,
        on_bytes: ByteObserver,
    ) -> None:
        self._on_bytes = on_bytes
        self._response = response
        self._request = request
        self._limit = limit
        self._start = start
        self._inflater = inflater

    @property
    def inflates(self) -> bool:
        return self._inflater is not None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        content, inflater = self._response.content, self._inflater
        received = 0
        while True:
            async with _within(self._request, self._limit, self._limit.at(self._start, received)):
                chunk = await content.read(CHUNK)
            if not chunk:
                break
            received += len(chunk)
            self._on_bytes("wire", len(chunk))
            if inflater is None:
                yield chunk
                continue
            for piece in inflater.pieces(chunk):
                self._on_bytes("inflated", len(piece))
                yield piece
                await asyncio.sleep(0)  # the pieces of one chunk may be many: the event loop runs between them
        if inflater is not None:
            inflater.finish()

    async def aclose(self) -> None:
        # a body read to its end returns the connection to the pool; one left unread closes it
        self._response.release()


#: the headers that described a compressed body, not the inflated one handed on (and as aiohttp's raw headers)
_COMPRESSED_ONLY = ("content-encoding", "content-length")
_COMPRESSED_ONLY_RAW = tuple(name.encode() for name in _COMPRESSED_ONLY)


class Answer:
    """An answer without httpx's models, for the calls made by the thousand (a listRecords page each): the status,
    the headers (case-insensitive) and the body, with the deadline, the inflating and the errors of the httpx path.
    The caller reads the body or leaves it, then ``aclose()``s."""

    def __init__(self, status_code: int, headers: Mapping[str, str], body: _Body) -> None:
        self.status_code = status_code
        self.headers = headers
        self._body = body

    def aiter_bytes(self) -> AsyncIterator[bytes]:
        return self._body.__aiter__()

    async def aclose(self) -> None:
        await self._body.aclose()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Every request through one ``aiohttp.ClientSession`` over ``connector()``, both made on first use (aiohttp
    needs the running loop). No redirects, no cookies, no proxies from the environment; a request without a
    ``DEADLINE`` extension has ``limit``."""

    def __init__(
        self,
        connector: Callable[[], aiohttp.TCPConnector],
        *,
        limit: Deadline,
        on_bytes: ByteObserver = lambda form, n: None,
    ) -> None:
        self._on_bytes = on_bytes
        self._connector = connector
        #: the deadline of a request that does not carry its own
        self._limit = limit
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=self._connector(),
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                trust_env=False,
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
            )
            # aiohttp resends a request once when a reused connection drops; retries are the caller's policy (one
            # request per attempt, with backoff and a breaker), so they are not doubled here
            self._session._retry_connection = False
        return self._session

    async def _send(
        self,
        method: str,
        url: httpx.URL,
        headers: list[tuple[str, str]],
        body: bytes | None,
        *,
        timeouts: Mapping[str, float | None],
        limit: Deadline,
        request: httpx.Request | None,
    ) -> tuple[aiohttp.ClientResponse, _Body]:
        start = asyncio.get_running_loop().time()
        async with _within(request, limit, limit.at(start, 0)):
            response = await self._open().request(
                method,
                yarl.URL(str(url), encoded=True),
                headers=headers,
                data=body or None,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=timeouts.get("pool"),
                    sock_connect=timeouts.get("connect"),
                    sock_read=timeouts.get("read"),
                ),
            )
        encoding = response.headers.get("content-encoding", "").strip().lower()
        inflater = None
        if encoding in ("gzip", "x-gzip", "deflate"):
            inflater = _Inflater(encoding, request)
        elif encoding not in ("", "identity"):
            response.close()  # its body is never read: the connection cannot be reused
            raise Undecodable(f"an answer in the {encoding[:40]!r} encoding, which was not asked for", request=request)
        body_stream = _Body(response, request, limit=limit, start=start, inflater=inflater, on_bytes=self._on_bytes)
        return response, body_stream

    async def get(
        self, url: httpx.URL, headers: list[tuple[str, str]], *, timeouts: httpx.Timeout, limit: Deadline | None = None
    ) -> Answer:
        """A GET answered as an :class:`Answer` (``limit``: this transport's own when ``None``)."""
        own = self._limit if limit is None else limit
        response, body = await self._send(
            "GET", url, headers, None, timeouts=timeouts.as_dict(), limit=own, request=None
        )
        if log.isEnabledFor(logging.DEBUG):  # what httpx logs of the requests it sends, in its words
            log.debug('HTTP Request: GET %s "HTTP/1.1 %d %s"', url, response.status, response.reason or "")
        headers_in = response.headers
        if body.inflates:
            kept = CIMultiDict(headers_in)
            for name in _COMPRESSED_ONLY:
                kept.popall(name, None)
            headers_in = CIMultiDictProxy(kept)
        return Answer(response.status, headers_in, body)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        limit = request.extensions.get(DEADLINE, self._limit)
        if not isinstance(limit, Deadline):
            raise TypeError(f"the {DEADLINE} extension must be a Deadline")
        body = None if request.method in ("GET", "HEAD") else await request.aread()
        response, stream = await self._send(
            request.method,
            request.url,
            request.headers.multi_items(),
            body,
            timeouts=request.extensions.get("timeout", {}),
            limit=limit,
            request=request,
        )
        dropped = _COMPRESSED_ONLY_RAW if stream.inflates else ()
        return httpx.Response(
            response.status,
            headers=[
                (k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers if k.lower() not in dropped
            ],
            stream=stream,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": (response.reason or "").encode("latin-1")},
            request=request,
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
