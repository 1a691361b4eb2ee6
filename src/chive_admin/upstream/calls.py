"""XRPC calls to other servers: retries, rate limits, size caps and typed errors, in one place.

Retried: connect errors, resets and timeouts, 5xx except 501, malformed 2xx bodies (a proxy hiccup), and 429
after the wait the server asked for (``RateLimit-Reset`` epoch seconds, else ``Retry-After``, default 5 s, at
most 120 s). Never retried: other 4xx, an answer refused for what it holds (an export that is no CAR, an encoding
not asked for), and one that ran past its total deadline (``RetryPolicy.deadline``; an export's grows while it
arrives at ``export_min_rate`` at least). Every attempt takes a per-host slot; a host failing repeatedly trips its
breaker and later calls fail fast with ``HostUnhealthy``. A call's worst case is thus bounded: ``attempts`` times
the deadline, plus the backoffs and 429 waits between them, each capped.
"""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import IO, Any, TypeVar

import httpx

from chive_admin import untrusted_json
from chive_admin.api_first import api_first
from chive_admin.settings import DEFAULT_UPSTREAM_ATTEMPTS, DEFAULT_UPSTREAM_DEADLINE
from chive_admin.upstream.errors import (
    AnswerChanged,
    BadResponse,
    DeadlineExceeded,
    RateLimited,
    RefusedContent,
    TooLarge,
    Unreachable,
    UpstreamError,
    from_xrpc,
)
from chive_admin.upstream.guard import UnsafeUpstream, UpstreamHttp
from chive_admin.upstream.hosts import HostPolicy, host_key
from chive_admin.upstream.transport import Answer, Deadline, DeadlinePassed, Undecodable

T = TypeVar("T")
ParamValue = str | int | bool


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = DEFAULT_UPSTREAM_ATTEMPTS
    base_delay: float = 0.2
    max_delay: float = 8.0
    default_429_wait: float = 5.0
    max_429_wait: float = 120.0
    #: JSON answers larger than this are refused (a listRecords page is well under 1 MB)
    max_json_bytes: int = 16 * 1024 * 1024
    #: seconds one request may take, connecting to the last byte of its answer
    deadline: float = DEFAULT_UPSTREAM_DEADLINE
    #: bytes a second an export (getRepo, getBlob) must keep up, on average, to run past ``deadline``
    export_min_rate: float = 256 * 1024
    #: a 429 asking for a longer wait than this is raised at once instead of waited out (``None``: every 429 is
    #: waited, ``max_429_wait`` at most); for a caller that must end with a clear answer rather than sit
    give_up_429_over: float | None = None

    def backoff(self, attempt: int) -> float:
        """Full jitter: spreads retries of many workers instead of synchronising them."""
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))  # noqa: S311 - not crypto


def rate_limit_wait(headers: Mapping[str, str], policy: RetryPolicy, now: float | None = None) -> float:
    """Seconds to wait after a 429, from ``RateLimit-Reset`` (epoch) or ``Retry-After`` (seconds or a date)."""
    return min(rate_limit_asked(headers, policy, now), policy.max_429_wait)


def rate_limit_asked(headers: Mapping[str, str], policy: RetryPolicy, now: float | None = None) -> float:
    """Seconds a 429 asks us to wait, uncapped (``rate_limit_wait`` caps it)."""
    now = time.time() if now is None else now
    wait: float | None = None
    reset = headers.get("ratelimit-reset")
    if reset is not None:
        try:
            wait = float(reset) - now
        except ValueError:
            wait = None
    retry_after = headers.get("retry-after")
    if wait is None and retry_after is not None:
        try:
            wait = float(retry_after)
        except ValueError:
            try:
                wait = parsedate_to_datetime(retry_after).timestamp() - now
            except (TypeError, ValueError):
                wait = None
    if wait is None:
        wait = policy.default_429_wait
    return max(wait, 0.0)


def _params(params: Mapping[str, ParamValue | None]) -> dict[str, str]:
    out = {}
    for key, value in params.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


async def _decoded_here(body: bytes) -> Any:
    await api_first()  # decoding a page of records is a millisecond or more of the loop: requests first
    return untrusted_json.loads(body)


class XrpcCaller:
    def __init__(
        self,
        http: UpstreamHttp,
        hosts: HostPolicy,
        retry: RetryPolicy | None = None,
        *,
        on_attempt: Callable[[str, str], None] = lambda host, outcome: None,
    ) -> None:
        self.http = http
        #: told (host, outcome) after every attempt: the server counts them, this layer keeps no metrics of its own
        self._on_attempt = on_attempt
        self.hosts = hosts
        self.retry = retry or RetryPolicy()
        #: abandoned requests still holding their slot until the host answers them
        self._draining: set[asyncio.Future[Any]] = set()

    async def _in_slot(self, host: str, fn: Callable[[], Awaitable[T]], *, drain: bool) -> T:
        """One request under a slot of its host.

        A caller may stop waiting (a listing that met its other end drops its read-ahead; an op is cancelled), but
        a host that has the request keeps working on it. With ``drain`` the request runs on to its answer in the
        background and holds its slot until then: the host never has more than the limit of our requests at once,
        and the connection goes back to the pool instead of being cut (a reconnect, a TLS handshake). Without it
        (a large export, whose stream stops when the connection closes) the request is cut at once."""

        async def answered() -> T:
            try:
                return await fn()
            except RateLimited as exc:
                # before the slot is released: whoever takes it next must already see the cooldown
                self.hosts.cooldown(host, exc.wait_s)
                raise

        await self.hosts.acquire(host)
        request = asyncio.ensure_future(answered())
        request.add_done_callback(lambda _: self.hosts.release(host))
        try:
            return await asyncio.shield(request)
        except asyncio.CancelledError:
            if drain and not request.done():
                self._draining.add(request)
            else:
                request.cancel()
            request.add_done_callback(self._abandoned)
            raise

    def _abandoned(self, request: asyncio.Future[Any]) -> None:
        self._draining.discard(request)
        if not request.cancelled():
            request.exception()  # nobody reads this answer: retrieved, so asyncio does not log its error

    async def aclose(self) -> None:
        """Cut the requests still draining (before the HTTP client closes under them)."""
        draining = list(self._draining)
        for request in draining:
            request.cancel()
        if draining:
            await asyncio.wait(draining)

    async def _attempts(self, service: str, fn: Callable[[], Awaitable[T]], *, drain: bool = True) -> T:
        host = host_key(service)
        last: UpstreamError | None = None
        for attempt in range(self.retry.attempts):
            self.hosts.check_open(host)
            try:
                result = await self._in_slot(host, fn, drain=drain)
            except RateLimited as exc:
                self._on_attempt(host, exc.code)
                far = self.retry.give_up_429_over
                if far is not None and exc.asked_s > far:
                    raise
                last = exc
                continue
            except UpstreamError as exc:
                self._on_attempt(host, exc.code)
                if not exc.retryable:
                    if isinstance(exc, DeadlineExceeded):
                        self.hosts.failed(host, exc.code)  # not retried, but the host's fault all the same
                    elif exc.status is not None and exc.status < 500:
                        self.hosts.succeeded(host)  # a clear 4xx answer: the host itself is fine
                    raise
                last = exc
                await asyncio.sleep(self.retry.backoff(attempt))
                continue
            self._on_attempt(host, "ok")
            self.hosts.succeeded(host)
            return result
        assert last is not None
        # the breaker counts calls that failed after their retries, not attempts: one bad call must not open it
        self.hosts.failed(host, last.code)
        raise last

    @asynccontextmanager
    async def _stream(
        self, service: str, nsid: str, params: Mapping[str, ParamValue | None], *, min_rate: float = 0.0
    ) -> AsyncIterator[Answer]:
        """The answer, under the request's total deadline (``min_rate``: see ``transport.Deadline``), failures typed
        (the block's own included: the body is read inside it)."""
        host = host_key(service)
        url = f"{service.rstrip('/')}/xrpc/{nsid}"
        limit = Deadline(self.retry.deadline, min_rate=min_rate)
        try:
            async with self.http.answer(url, _params(params), limit=limit) as response:
                if response.status_code == 429:
                    asked = rate_limit_asked(response.headers, self.retry)
                    wait = min(asked, self.retry.max_429_wait)
                    raise RateLimited(host, f"rate limited for {asked:.0f} s", wait_s=wait, asked_s=asked)
                if response.status_code >= 400:
                    body = await self._read(response, host, 64 * 1024)
                    error, message = _error_fields(body)
                    raise from_xrpc(host, response.status_code, error, message)
                yield response
        except httpx.InvalidURL:
            raise UnsafeUpstream(host, f"{service!r} is not a URL this server calls") from None
        except DeadlinePassed as exc:
            raise DeadlineExceeded(host, f"{nsid}: {exc}") from None
        except Undecodable as exc:
            raise RefusedContent(host, f"{nsid}: {exc}") from None
        except httpx.TimeoutException:
            raise Unreachable(host, f"timed out calling {nsid}") from None
        except httpx.TransportError as exc:
            raise Unreachable(host, f"{type(exc).__name__} calling {nsid}") from None

    @staticmethod
    async def _read(response: Answer, host: str, limit: int) -> bytes:
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise TooLarge(host, f"answer of {declared} bytes is over the {limit}-byte cap")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise TooLarge(host, f"answer is over the {limit}-byte cap")
            chunks.append(chunk)
        return b"".join(chunks)

    async def query_json(self, service: str, nsid: str, params: Mapping[str, ParamValue | None]) -> Any:
        """A query whose answer is JSON; returns the decoded object."""
        return await self.query_decoded(service, nsid, params, _decoded_here)

    async def query_decoded(
        self,
        service: str,
        nsid: str,
        params: Mapping[str, ParamValue | None],
        decode: Callable[[bytes], Awaitable[T]],
    ) -> T:
        """A query whose answer is JSON, its body turned into the result by ``decode`` (which may hand it to another
        process); a ``ValueError`` from it means the body is not JSON, which is a ``BadResponse`` like any answer that
        is not what the method promises (and, like one, tried again)."""
        host = host_key(service)

        async def once() -> T:
            async with self._stream(service, nsid, params) as response:
                media = response.headers.get("content-type", "").split(";")[0].strip().lower()
                body = await self._read(response, host, self.retry.max_json_bytes)
            if media != "application/json":
                raise BadResponse(host, f"{nsid} answered {media or 'no content type'}, not JSON")
            try:
                return await decode(body)
            except ValueError:
                raise BadResponse(host, f"{nsid} answered invalid JSON") from None

        return await self._attempts(service, once)

    async def query_file(
        self,
        service: str,
        nsid: str,
        params: Mapping[str, ParamValue | None],
        *,
        max_bytes: int,
        check: Callable[[bytes], str | None] | None = None,
        on_disk: bool = False,
        progress: Callable[[IO[bytes], int], None] | None = None,
    ) -> tuple[IO[bytes], str | None]:
        """A query whose answer is bytes (a CAR, a blob), spooled to a temporary file so a large answer never
        sits in memory whole; returns the file (positioned at 0; the caller closes it) and the content type.

        ``check`` looks at the first bytes (``CHECKED_BYTES``, or all of a shorter answer) as soon as they arrive and
        names what is wrong with them, if anything: such an answer is ``RefusedContent``, refused before the rest is
        read (a decompression bomb of zeros is refused after its first piece) and not retried (a proxy's HTML page
        under a 200 would come again). ``on_disk``: the file is a named one on disk whatever its size (another
        process will read it by name). The request's deadline grows while the answer arrives at
        ``export_min_rate``.

        ``progress(file, n)`` (with ``on_disk``): the file may be read as it arrives. Once its first bytes passed
        ``check``, it is told after each piece is written and flushed that ``n`` bytes of it are on disk. Those bytes
        stay: an attempt after a break must answer them again (they are compared, not rewritten) and then goes on
        from where the last one broke off; one that answers other bytes (the repository changed meanwhile) is
        ``AnswerChanged``, not retried."""
        host = host_key(service)
        kept: IO[bytes] | None = None  # the file whose bytes were handed on, kept across attempts

        async def once() -> tuple[IO[bytes], str | None]:
            nonlocal kept
            spool: IO[bytes] = kept or (
                tempfile.NamedTemporaryFile(prefix="chive-admin-", suffix=".download")  # noqa: SIM115
                if on_disk
                else tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024)  # noqa: SIM115
            )
            on_file = spool.tell()  # what an earlier attempt handed on: this one must answer the same first
            try:
                async with self._stream(service, nsid, params, min_rate=self.retry.export_min_rate) as response:
                    declared = response.headers.get("content-length")
                    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                        raise TooLarge(host, f"answer of {declared} bytes is over the {max_bytes}-byte cap")
                    size = 0
                    head = b"" if check is not None else None
                    async for chunk in response.aiter_bytes():
                        size += len(chunk)
                        if size > max_bytes:
                            raise TooLarge(host, f"answer is over the {max_bytes}-byte cap")
                        if head is not None:
                            head += chunk[: CHECKED_BYTES - len(head)]
                            if len(head) == CHECKED_BYTES:
                                _refuse_if(check, head, host, nsid)
                                head = None
                        if size - len(chunk) < on_file:
                            chunk = _same_again(spool, chunk, size, on_file, host, nsid)
                        spool.write(chunk)
                        if progress is not None and head is None and size > on_file:
                            spool.flush()
                            kept = spool
                            progress(spool, size)
                    if size < on_file:
                        raise AnswerChanged(host, f"{nsid} answered fewer bytes when asked again after a break")
                    if declared is not None and declared.isdigit() and int(declared) != size:
                        raise BadResponse(host, f"{nsid} answer truncated ({size} of {declared} bytes)")
                    if head is not None:  # a whole answer shorter than the bytes checked
                        _refuse_if(check, head, host, nsid)
                    media = response.headers.get("content-type")
            except BaseException:
                if kept is None:
                    spool.close()
                raise
            spool.seek(0)
            return spool, media

        # an abandoned export is cut, not drained: its answer is a stream of up to ``max_bytes``
        try:
            return await self._attempts(service, once, drain=False)
        except BaseException:
            if kept is not None:
                kept.close()
            raise


#: the first bytes of a file answer that ``query_file``'s ``check`` is given
CHECKED_BYTES = 64


def _same_again(spool: IO[bytes], chunk: bytes, size: int, on_file: int, host: str, nsid: str) -> bytes:
    """The part of ``chunk`` (ending at byte ``size`` of the answer) past the ``on_file`` bytes an earlier attempt
    wrote, once the part before is found the same as theirs."""
    start = size - len(chunk)
    before = os.pread(spool.fileno(), min(size, on_file) - start, start)
    if chunk[: len(before)] != before:
        raise AnswerChanged(host, f"{nsid} answered other bytes when asked again after a break")
    return chunk[len(before) :]


def _refuse_if(check: Callable[[bytes], str | None] | None, head: bytes, host: str, nsid: str) -> None:
    problem = check(head) if check is not None else None
    if problem is not None:
        raise RefusedContent(host, f"{nsid} answer is not what it should be: {problem}")


def _error_fields(body: bytes) -> tuple[str | None, str | None]:
    try:
        data = untrusted_json.loads(body)
    except ValueError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    error = data.get("error")
    message = data.get("message")
    return (error if isinstance(error, str) else None, message if isinstance(message, str) else None)
