"""The fault proxy does what each fault claims, seen by a plain httpx client against a real loopback upstream."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from support.server import free_port

from faults.proxy import ALL_FAULTS, TRANSIENT, Fault, FaultConfig, FaultProxy, scheduled_fault

PAD = "y" * 10_000
MB = 1024 * 1024


@dataclass
class Upstream:
    url: str
    hits: list[str] = field(default_factory=list)


def upstream_app(hits: list[str]) -> Starlette:
    async def echo(request: Request) -> Response:
        hits.append(request.url.path)
        body = await request.body()
        return JSONResponse(
            {
                "method": request.method,
                "path": request.url.path,
                "query": request.url.query,
                "body": body.decode(),
                "agent": request.headers.get("user-agent"),
                "pad": PAD,
            },
            headers={"x-upstream": "yes"},
        )

    async def chunked(request: Request) -> Response:
        hits.append(request.url.path)

        async def pieces() -> AsyncIterator[bytes]:
            for i in range(5):
                yield f'{{"piece":{i}}}\n'.encode()

        return StreamingResponse(pieces(), media_type="application/x-ndjson")

    async def no_content(request: Request) -> Response:
        hits.append(request.url.path)
        return Response(status_code=204)

    return Starlette(
        routes=[
            Route("/xrpc/chunked", chunked),
            Route("/xrpc/empty", no_content, methods=["GET", "POST"]),
            Route("/{path:path}", echo, methods=["GET", "POST"]),
        ]
    )


@contextmanager
def serving(app: Starlette) -> Iterator[str]:
    """The app under uvicorn in a thread of its own."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive(), "upstream failed to start"
            assert time.monotonic() < deadline, "upstream did not start within 10 s"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    hits: list[str] = []
    with serving(upstream_app(hits)) as url:
        yield Upstream(url, hits)


@asynccontextmanager
async def proxied(upstream: Upstream, **config: object) -> AsyncIterator[tuple[FaultProxy, httpx.AsyncClient]]:
    async with (
        FaultProxy(upstream.url, FaultConfig(**config)) as proxy,  # type: ignore[arg-type]
        httpx.AsyncClient(base_url=proxy.url, timeout=httpx.Timeout(5.0)) as http,
    ):
        yield proxy, http


def always(fault: Fault) -> dict[str, object]:
    return {"never_recover": True, "kinds": (fault,)}


async def wait_until_idle(proxy: FaultProxy) -> None:
    for _ in range(500):
        if proxy.open_connections == 0:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{proxy.open_connections} proxy connections still open")


# -- pass-through ------------------------------------------------------------------------------------------------


async def test_without_faults_requests_and_answers_pass_untouched(upstream: Upstream) -> None:
    async with proxied(upstream, rate=0.0) as (proxy, http):
        direct = httpx.get(f"{upstream.url}/xrpc/a.b.c?x=1&y=%C3%A9", headers={"user-agent": "probe"})
        through = await http.get("/xrpc/a.b.c?x=1&y=%C3%A9", headers={"user-agent": "probe"})
        assert through.status_code == 200
        assert through.content == direct.content
        assert through.headers["content-type"] == "application/json"
        assert through.headers["x-upstream"] == "yes"
        assert through.json()["query"] == "x=1&y=%C3%A9"

        posted = await http.post("/xrpc/a.b.proc", content=b'{"hello": "world"}')
        assert posted.json()["method"] == "POST"
        assert posted.json()["body"] == '{"hello": "world"}'

        streamed = await http.get("/xrpc/chunked")  # upstream answered without a length: relayed chunked
        assert streamed.text.splitlines() == [f'{{"piece":{i}}}' for i in range(5)]
        assert (await http.get("/xrpc/empty")).status_code == 204

        for _ in range(5):
            assert (await http.get("/xrpc/again")).status_code == 200
        stats = proxy.stats()
    assert stats.calls == 9
    assert stats.forwarded == 9
    assert stats.faulted == 0
    assert stats.connections == 1  # keep-alive: one connection carried every request
    assert [s.fault for s in stats.requests] == [None] * 9
    assert stats.requests[0].target == "/xrpc/a.b.c?x=1&y=%C3%A9"


async def test_upstream_down_is_a_502_counted_apart_from_injected_faults() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there
    async with (
        FaultProxy(f"http://127.0.0.1:{port}", FaultConfig(rate=0.0)) as proxy,
        httpx.AsyncClient(base_url=proxy.url) as http,
    ):
        answer = await http.get("/xrpc/x")
        assert answer.status_code == 502
        assert answer.json()["error"] == "UpstreamFailure"
        assert proxy.stats().upstream_errors == 1
        assert proxy.stats().faulted == 0


# -- each fault kind ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status", "error"),
    [
        (Fault.HTTP_500, 500, "InternalServerError"),
        (Fault.HTTP_502, 502, "UpstreamFailure"),
        (Fault.HTTP_503, 503, "NotEnoughResources"),
    ],
)
async def test_server_errors_have_xrpc_bodies_and_never_reach_upstream(
    upstream: Upstream, fault: Fault, status: int, error: str
) -> None:
    async with proxied(upstream, **always(fault)) as (proxy, http):
        for _ in range(3):
            answer = await http.get("/xrpc/com.atproto.repo.listRecords")
            assert answer.status_code == status
            assert answer.headers["content-type"].startswith("application/json")
            assert answer.json()["error"] == error
            assert isinstance(answer.json()["message"], str)
        assert proxy.stats().faults == {fault: 3}
        assert proxy.stats().connections == 1  # a complete error answer keeps the connection
    assert upstream.hits == []


async def test_429_with_retry_after_seconds(upstream: Upstream) -> None:
    async with proxied(upstream, **always(Fault.RETRY_AFTER), retry_after_s=2) as (proxy, http):
        answer = await http.get("/xrpc/x")
        seen = proxy.stats().requests[0]
    assert answer.status_code == 429
    assert answer.json()["error"] == "RateLimitExceeded"
    assert answer.headers["retry-after"] == "2"
    assert "ratelimit-reset" not in answer.headers
    assert seen.retry_at is not None
    assert seen.retry_at == pytest.approx(seen.at + 2, abs=0.5)
    assert upstream.hits == []


async def test_429_with_ratelimit_reset_epoch(upstream: Upstream) -> None:
    async with proxied(upstream, **always(Fault.RATELIMIT_RESET), reset_in_s=3) as (proxy, http):
        answer = await http.get("/xrpc/x")
        seen = proxy.stats().requests[0]
    assert answer.status_code == 429
    reset = int(answer.headers["ratelimit-reset"])
    assert answer.headers["ratelimit-remaining"] == "0"
    assert "retry-after" not in answer.headers
    assert seen.retry_at == reset
    assert seen.at + 3 <= reset <= seen.at + 4.5  # an integer epoch second, rounded up


async def test_stall_outlasts_the_read_timeout_and_ends_when_the_client_leaves(upstream: Upstream) -> None:
    async with proxied(upstream, **always(Fault.STALL)) as (proxy, _):
        async with httpx.AsyncClient(base_url=proxy.url, timeout=httpx.Timeout(5.0, read=0.3)) as http:
            with pytest.raises(httpx.ReadTimeout):
                await http.get("/xrpc/x")
        await wait_until_idle(proxy)  # the client closed: the stalled handler noticed and ended
        assert proxy.stats().faults == {Fault.STALL: 1}
    assert upstream.hits == []


async def test_reset_before_the_answer_is_a_connection_reset(upstream: Upstream) -> None:
    async with proxied(upstream, **always(Fault.RESET_BEFORE)) as (proxy, http):
        with pytest.raises(httpx.ReadError):  # not RemoteProtocolError: no orderly close, a reset
            await http.get("/xrpc/x")
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"GET /xrpc/x HTTP/1.1\r\nhost: x\r\n\r\n")
        await writer.drain()
        with pytest.raises(ConnectionResetError):  # the socket itself says RST
            await reader.read(1)
        writer.close()
    assert upstream.hits == []


async def read_raw(answer: httpx.Response) -> tuple[bytes, httpx.HTTPError | None]:
    """The body bytes that arrived, and the error that ended them early (None: the body was whole)."""
    got = bytearray()
    try:
        async for chunk in answer.aiter_raw():
            got += chunk
    except httpx.HTTPError as exc:
        return bytes(got), exc
    return bytes(got), None


async def test_reset_mid_body_comes_after_the_head_and_part_of_the_body(upstream: Upstream) -> None:
    async with proxied(upstream, **always(Fault.RESET_MID_BODY)) as (_, http), http.stream("GET", "/xrpc/x") as answer:
        assert answer.status_code == 200
        declared = int(answer.headers["content-length"])
        got, error = await read_raw(answer)
    assert isinstance(error, httpx.ReadError)
    assert 0 < len(got) < declared
    assert upstream.hits == ["/xrpc/x"]  # the real answer, cut


async def test_truncated_body_is_shorter_than_its_content_length(upstream: Upstream) -> None:
    async with proxied(upstream, **always(Fault.TRUNCATED)) as (_, http), http.stream("GET", "/xrpc/x") as answer:
        assert answer.status_code == 200
        declared = int(answer.headers["content-length"])
        got, error = await read_raw(answer)
    assert isinstance(error, httpx.RemoteProtocolError)  # an orderly close, too early
    assert "incomplete" in str(error) or "complete message body" in str(error)
    assert declared > 10_000
    assert len(got) == declared // 2


async def test_invalid_json_with_200(upstream: Upstream) -> None:
    async with proxied(upstream, **always(Fault.INVALID_JSON)) as (_, http):
        answer = await http.get("/xrpc/x")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer.content)
    assert upstream.hits == []


async def test_wrong_content_type_carries_the_real_body(upstream: Upstream) -> None:
    async with proxied(upstream, **always(Fault.WRONG_CONTENT_TYPE)) as (_, http):
        answer = await http.get("/xrpc/x")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert answer.json()["pad"] == PAD
    assert upstream.hits == ["/xrpc/x"]


async def test_huge_body_is_50_mb_of_valid_json_streamed_not_held(upstream: Upstream) -> None:
    async with proxied(upstream, **always(Fault.HUGE_BODY)) as (proxy, http):
        tracemalloc.start()
        try:
            size = 0
            tail = b""
            async with http.stream("GET", "/xrpc/x") as answer:
                assert "content-length" not in answer.headers
                assert answer.headers["transfer-encoding"] == "chunked"
                async for chunk in answer.aiter_raw():
                    size += len(chunk)
                    tail = (tail + chunk)[-16:]
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        stats = proxy.stats()
    assert size == 50 * MB
    assert tail.endswith(b'xxxx"}')
    # proxy and client share this process: neither held the body (one 64 KiB piece at a time)
    assert peak < 8 * MB
    assert stats.huge_bytes_sent == 50 * MB
    assert stats.huge_bodies_abandoned == 0
    assert upstream.hits == []


async def test_huge_body_declared_and_abandoned_by_the_client(upstream: Upstream) -> None:
    async with proxied(upstream, **always(Fault.HUGE_BODY_DECLARED)) as (proxy, http):
        got = 0
        async with http.stream("GET", "/xrpc/x") as answer:
            assert int(answer.headers["content-length"]) == 50 * MB
            async for chunk in answer.aiter_raw():
                got += len(chunk)
                if got >= MB:
                    break  # leaving the block closes the connection mid-body
        await wait_until_idle(proxy)
        stats = proxy.stats()
    assert stats.huge_bodies_abandoned == 1
    assert MB <= stats.huge_bytes_sent < 50 * MB


async def test_small_huge_bytes_for_quick_tests(upstream: Upstream) -> None:
    async with proxied(upstream, **always(Fault.HUGE_BODY), huge_bytes=1000) as (_, http):
        answer = await http.get("/xrpc/x")
    assert len(answer.content) == 1000
    assert set(answer.json()) == {"pad"}


# -- schedule, filters and modes ---------------------------------------------------------------------------------


def test_the_schedule_is_a_pure_function_of_seed_and_position() -> None:
    config = FaultConfig(rate=0.3, seed=42, kinds=ALL_FAULTS)
    first = [scheduled_fault(config, n) for n in range(2000)]
    assert first == [scheduled_fault(config, n) for n in range(2000)]
    assert first != [scheduled_fault(FaultConfig(rate=0.3, seed=43, kinds=ALL_FAULTS), n) for n in range(2000)]
    faulted = [f for f in first if f is not None]
    assert 0.25 < len(faulted) / len(first) < 0.35
    assert set(faulted) == set(ALL_FAULTS)  # every kind is drawn
    assert all(f is not None for f in (scheduled_fault(FaultConfig(never_recover=True), n) for n in range(500)))
    assert all(scheduled_fault(FaultConfig(rate=0.0), n) is None for n in range(500))
    planned = FaultConfig(rate=0.0, plan=(Fault.STALL, None, Fault.HTTP_502))
    assert [scheduled_fault(planned, n) for n in range(5)] == [Fault.STALL, None, Fault.HTTP_502, None, None]


def test_config_is_checked() -> None:
    with pytest.raises(ValueError, match="rate"):
        FaultConfig(rate=1.5)
    with pytest.raises(ValueError, match="kinds"):
        FaultConfig(kinds=())
    assert Fault.HUGE_BODY not in TRANSIENT
    with pytest.raises(ValueError, match="http"):
        FaultProxy("ftp://127.0.0.1:1")


async def test_the_same_seed_faults_the_same_requests(upstream: Upstream) -> None:
    kinds = (Fault.HTTP_500, Fault.HTTP_503, Fault.INVALID_JSON, Fault.RETRY_AFTER, Fault.WRONG_CONTENT_TYPE)
    runs = []
    for _ in range(2):
        async with proxied(upstream, rate=0.3, seed=7, kinds=kinds) as (proxy, http):
            statuses = [(await http.get(f"/xrpc/n{i}")).status_code for i in range(60)]
            runs.append((statuses, [s.fault for s in proxy.stats().requests]))
    assert runs[0] == runs[1]
    faults = runs[0][1]
    assert faults == [scheduled_fault(FaultConfig(rate=0.3, seed=7, kinds=kinds), n) for n in range(60)]
    assert 5 < sum(f is not None for f in faults) < 35


async def test_path_filters_choose_what_may_be_faulted(upstream: Upstream) -> None:
    config = {"never_recover": True, "kinds": (Fault.HTTP_503,), "paths": ("/xrpc/com.atproto.repo.",)}
    config["exclude_paths"] = ("/xrpc/com.atproto.repo.describeRepo",)
    async with proxied(upstream, **config) as (proxy, http):
        assert (await http.get("/xrpc/com.atproto.repo.listRecords?repo=x")).status_code == 503
        assert (await http.get("/xrpc/com.atproto.repo.describeRepo?repo=x")).status_code == 200
        assert (await http.get("/xrpc/com.atproto.sync.listRepos")).status_code == 200
        stats = proxy.stats()
    assert stats.calls == 3
    assert stats.eligible == 1
    assert [s.fault for s in stats.requests] == [Fault.HTTP_503, None, None]
    assert [s.path for s in stats.passed()] == [
        "/xrpc/com.atproto.repo.describeRepo",
        "/xrpc/com.atproto.sync.listRepos",
    ]


async def test_max_consecutive_bounds_fault_streaks(upstream: Upstream) -> None:
    async with proxied(upstream, rate=1.0, kinds=(Fault.HTTP_500,), max_consecutive=2) as (proxy, http):
        statuses = [(await http.get("/xrpc/x")).status_code for _ in range(7)]
        stats = proxy.stats()
    assert statuses == [500, 500, 200, 500, 500, 200, 500]
    assert stats.spared == 2
    with pytest.raises(ValueError, match="max_consecutive"):
        FaultConfig(never_recover=True, max_consecutive=3)


async def test_configure_switches_modes_at_run_time(upstream: Upstream) -> None:
    async with proxied(upstream, rate=0.0) as (proxy, http):
        assert (await http.get("/xrpc/x")).status_code == 200
        proxy.configure(never_recover=True, kinds=(Fault.HTTP_500,))
        assert [(await http.get("/xrpc/x")).status_code for _ in range(3)] == [500] * 3
        proxy.configure(never_recover=False)  # the upstream "recovers"
        assert (await http.get("/xrpc/x")).status_code == 200
        proxy.reset_stats()
        assert proxy.stats().calls == 0


# -- lifecycle ---------------------------------------------------------------------------------------------------


def refused(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


async def test_stop_cuts_open_connections_and_leaves_no_task_or_socket(upstream: Upstream) -> None:
    before = asyncio.all_tasks()
    proxy = FaultProxy(upstream.url, FaultConfig(plan=(Fault.STALL, Fault.HUGE_BODY_DECLARED), rate=0.0))
    await proxy.start()
    port = proxy.port
    assert proxy.url == f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=proxy.url, timeout=httpx.Timeout(30.0)) as http:
        stalled = asyncio.create_task(http.get("/xrpc/stall"))
        while proxy.stats().calls < 1:  # the stall is planned first: let it arrive first
            await asyncio.sleep(0.01)
        async with http.stream("GET", "/xrpc/huge") as huge:  # opened, then left unread: the proxy blocks writing
            for _ in range(200):
                if proxy.open_connections == 2:
                    break
                await asyncio.sleep(0.01)
            assert proxy.open_connections == 2
            await proxy.stop()
            assert proxy.open_connections == 0
            with pytest.raises(httpx.HTTPError):
                await huge.aread()
        with pytest.raises(httpx.HTTPError):
            await stalled
    assert refused(port)
    assert asyncio.all_tasks() - before - {asyncio.current_task()} == set()
    await proxy.stop()  # idempotent


def test_runs_in_a_thread_of_its_own(upstream_in_thread: str) -> None:
    proxy = FaultProxy(upstream_in_thread, FaultConfig(plan=(Fault.HTTP_503,), rate=0.0))
    with proxy.running_in_thread() as running:
        assert running is proxy
        with httpx.Client(base_url=proxy.url) as http:
            assert http.get("/xrpc/x").status_code == 503
            assert http.get("/xrpc/x").json()["path"] == "/xrpc/x"
        assert proxy.stats().faults == {Fault.HTTP_503: 1}
        port = proxy.port
    assert refused(port)
    with pytest.raises(RuntimeError):
        _ = proxy.url


@pytest.fixture
def upstream_in_thread() -> Iterator[str]:
    from support.scripted import Answer, scripted_server

    with scripted_server() as (url, script):
        script.default = lambda request: Answer(200, json.dumps({"path": request.url.path}).encode())
        yield url
