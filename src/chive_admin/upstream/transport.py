"""httpx's client API over aiohttp's connection pool: the upstream transport.

httpx's own HTTP/1.1 stack (h11, pure Python, on anyio) costs about 3 ms of CPU per listRecords page on this
machine; aiohttp's C parser about 1 ms. A backfill is thousands of such calls, so the transport is aiohttp's while
callers keep one ``httpx.AsyncClient`` (timeouts, URL handling, content decoding, the typed errors they catch).

aiohttp failures become the httpx exception of the same meaning: a refused connection is a ``ConnectError``, a
stalled read a ``ReadTimeout``, a cut or malformed answer a ``RemoteProtocolError``, so retry policy upstream of this
sees exactly what httpx itself would raise. Bodies are handed over undecoded: httpx decodes them, so size caps count
the decoded bytes either way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager

import aiohttp
import httpx
import yarl

#: bytes asked of aiohttp per read; it hands over what has arrived, up to this
CHUNK = 64 * 1024


@contextmanager
def _as_httpx(request: httpx.Request) -> Iterator[None]:
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


class _Body(httpx.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx(self._request):
            async for chunk in self._response.content.iter_chunked(CHUNK):
                yield chunk

    async def aclose(self) -> None:
        # a body read to its end returns the connection to the pool; one left unread closes it
        self._response.release()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Every request through one ``aiohttp.ClientSession`` over ``connector()``, both made on first use (aiohttp
    needs the running loop). No redirects, no cookies, no proxies from the environment, bodies left encoded for
    httpx."""

    def __init__(self, connector: Callable[[], aiohttp.TCPConnector]) -> None:
        self._connector = connector
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

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {})
        body = None if request.method in ("GET", "HEAD") else await request.aread()
        with _as_httpx(request):
            response = await self._open().request(
                request.method,
                yarl.URL(str(request.url), encoded=True),
                headers=request.headers.multi_items(),
                data=body or None,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=timeout.get("pool"),
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                ),
            )
        return httpx.Response(
            response.status,
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers],
            stream=_Body(response, request),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": (response.reason or "").encode("latin-1")},
            request=request,
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
