"""The firehose client: frames decoded strictly (hostile ones become counted events, never exceptions), the
connection through the SSRF guard, the frame size bound, and reconnects from the cursor asked for each time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import pytest
from aiohttp import web
from cbrrr import encode_dag_cbor
from support.firehose import Repo, ScriptedSource, error_frame, frame, info_frame, scripted_source

from chive_admin.upstream.firehose import (
    MAX_OPS,
    Account,
    Commit,
    Connected,
    Disconnected,
    Event,
    FirehoseClient,
    FirehoseLimits,
    Identity,
    Info,
    Passing,
    StreamError,
    Sync,
    Undecodable,
    decode_frame,
    subscribe_url,
)

DID = "did:plc:firehosefirehosefirehose"
FAST = FirehoseLimits(backoff_base=0.01, backoff_cap=0.02, connect_deadline=5)


def test_a_commit_frame_decodes_to_a_typed_commit() -> None:
    repo = Repo(DID)
    event = decode_frame(repo.commit(7, put={"pub.chive.review.comment/a": {"x": 1}}))
    assert isinstance(event, Commit)
    assert (event.seq, event.repo, event.rev, event.since) == (7, DID, repo.rev, None)
    assert [(op.action, op.path) for op in event.ops] == [("create", "pub.chive.review.comment/a")]
    assert event.prev_data is None
    assert not event.too_big
    assert event.time == datetime(2026, 12, 6, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    "value", [None, 5, "yesterday", "2026-12-06T00:00:00", "2026-12-06T00:00:00.000Z" + " " * 60, b"2026-12-06"]
)
def test_an_event_time_that_is_no_datetime_is_none_and_the_event_stands(value: object) -> None:
    body = {"seq": 3, "did": DID} if value is None else {"seq": 3, "did": DID, "time": value}
    assert decode_frame(frame({"op": 1, "t": "#identity"}, body)) == Identity(3, DID, None)


def test_the_time_of_other_sequenced_kinds() -> None:
    at = "2026-12-06T01:00:00+01:00"
    event = decode_frame(frame({"op": 1, "t": "#account"}, {"seq": 3, "did": DID, "active": True, "time": at}))
    assert event == Account(3, DID, True, None, datetime(2026, 12, 6, tzinfo=UTC).timestamp())
    event = decode_frame(frame({"op": 1, "t": "#unknown"}, {"seq": 4, "did": DID, "time": at}))
    assert event == Passing(4, "#unknown", DID, datetime(2026, 12, 6, tzinfo=UTC).timestamp())


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff\xff",
        encode_dag_cbor({"op": 1, "t": "#commit"}),  # no body
        frame({"op": 1, "t": "#commit"}, {"x": 1}) + encode_dag_cbor({}),  # three parts
        encode_dag_cbor([1]) + encode_dag_cbor({}),  # header not a map
        frame({"op": True, "t": "#commit"}, {"seq": 1}),  # a bool is no op
        frame({"op": 2}, {}),
        frame({"op": 1, "t": "#commit"}, {"seq": "1"}),
        frame({"op": 1, "t": "#commit"}, {"seq": True}),
        frame({"op": 1, "t": 5}, {"seq": 1}),
        frame({"op": -1}, {"error": 5}),
        frame({"op": 1, "t": "#commit"}, {"seq": 1, "repo": DID, "rev": "r", "commit": b"not a cid", "blocks": b""}),
    ],
)
def test_hostile_frames_are_undecodable_events(data: bytes) -> None:
    assert isinstance(decode_frame(data), Undecodable)


def test_a_commit_of_too_many_ops_is_undecodable() -> None:
    repo = Repo(DID)
    puts: dict[str, object] = {f"pub.chive.review.comment/{i:04d}": {"i": i} for i in range(MAX_OPS + 1)}
    assert isinstance(decode_frame(repo.commit(1, put=puts)), Undecodable)


def test_error_info_and_other_kinds() -> None:
    assert decode_frame(error_frame("FutureCursor", "ahead")) == StreamError("FutureCursor", "ahead")
    # an error body with keys the SDK's ErrorFrameBody(**body) would raise TypeError on
    assert decode_frame(frame({"op": -1}, {"error": "X", "extra": 1})) == StreamError("X", None)
    assert decode_frame(info_frame("OutdatedCursor")) == Info("OutdatedCursor", "test")
    assert decode_frame(frame({"op": 1, "t": "#identity"}, {"seq": 3, "did": DID, "handle": "x.test"})) == Identity(
        3, DID
    )
    assert decode_frame(frame({"op": 1, "t": "#future"}, {"seq": 4})) == Passing(4, "#future", None)


def test_account_events() -> None:
    def account(**body: object) -> bytes:
        return frame({"op": 1, "t": "#account"}, {"seq": 5, "did": DID, **body})

    assert decode_frame(account(active=True)) == Account(5, DID, True, None)
    assert decode_frame(account(active=False, status="takendown")) == Account(5, DID, False, "takendown")
    # an inactive account with no status is still inactive
    assert decode_frame(account(active=False)) == Account(5, DID, False, "inactive")
    # an active account's status is not carried (it means nothing while active)
    assert decode_frame(account(active=True, status="deleted")) == Account(5, DID, True, None)
    assert isinstance(decode_frame(account(active="yes")), Undecodable)
    assert isinstance(decode_frame(account(active=False, status=7)), Undecodable)
    assert isinstance(decode_frame(frame({"op": 1, "t": "#account"}, {"seq": 5, "active": True})), Undecodable)


def test_sync_events() -> None:
    def sync(**body: object) -> bytes:
        return frame({"op": 1, "t": "#sync"}, {"seq": 6, "did": DID, **body})

    assert decode_frame(sync(rev="3abc", blocks=b"car")) == Sync(6, DID, "3abc", b"car")
    assert isinstance(decode_frame(sync(rev="3abc")), Undecodable)
    assert isinstance(decode_frame(sync(rev=1, blocks=b"car")), Undecodable)


def test_subscribe_url() -> None:
    assert subscribe_url("https://relay.example/", None) == "wss://relay.example/xrpc/com.atproto.sync.subscribeRepos"
    assert subscribe_url("http://127.0.0.1:1", 5).endswith("subscribeRepos?cursor=5")
    assert subscribe_url("wss://relay.example", 1).startswith("wss://relay.example/xrpc/")


async def take(queue: asyncio.Queue[Event], n: int) -> list[Event]:
    out = []
    for _ in range(n):
        out.append(await asyncio.wait_for(queue.get(), 10))
        queue.task_done()
    return out


@contextlib.asynccontextmanager
async def running(client: FirehoseClient) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(client.run())
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def client(
    source: ScriptedSource,
    queue: asyncio.Queue[Event],
    cursor: Callable[[], Awaitable[int | None]],
    limits: FirehoseLimits,
) -> FirehoseClient:
    return FirehoseClient(source.url, queue, cursor, allow_private=True, limits=limits)


async def test_the_guard_refuses_a_loopback_source_unless_private_networks_are_allowed() -> None:
    source = ScriptedSource(lambda cursor: [])
    async with scripted_source(source):
        queue: asyncio.Queue[Event] = asyncio.Queue(10)

        async def cursor() -> int | None:
            return None

        async with running(FirehoseClient(source.url, queue, cursor, allow_private=False, limits=FAST)):
            (event,) = await take(queue, 1)
        assert isinstance(event, Disconnected)
        assert "non-public" in event.reason
        assert source.cursors == []  # never connected


async def test_each_reconnect_asks_for_the_committed_cursor() -> None:
    repo = Repo(DID)
    frames = [repo.commit(seq, put={f"pub.chive.review.comment/{seq}": {"i": seq}}) for seq in (1, 2)]
    source = ScriptedSource(lambda cursor: frames if cursor is None else [])
    committed: list[int | None] = [None]

    async def cursor() -> int | None:
        return committed[-1]

    queue: asyncio.Queue[Event] = asyncio.Queue(10)
    async with (
        scripted_source(source),
        running(client(source, queue, cursor, FAST)),
    ):
        events = await take(queue, 4)
        assert [type(e) for e in events] == [Connected, Commit, Commit, Disconnected]
        committed.append(2)  # what the indexer committed, not what the client started with
        events = await take(queue, 2)
        assert events[0] == Connected(2)
    assert source.cursors[:2] == [None, 2]


async def test_a_frame_over_the_bound_ends_the_connection() -> None:
    source = ScriptedSource(lambda cursor: [frame({"op": 1, "t": "#x"}, {"seq": 1, "pad": b"x" * 5000})])
    queue: asyncio.Queue[Event] = asyncio.Queue(10)

    async def cursor() -> int | None:
        return None

    limits = FirehoseLimits(max_frame_bytes=1000, backoff_base=0.01, backoff_cap=0.02)
    async with (
        scripted_source(source),
        running(client(source, queue, cursor, limits)),
    ):
        events = await take(queue, 2)
    assert isinstance(events[0], Connected)
    assert isinstance(events[1], Disconnected)
    assert events[1].too_large


async def test_the_backlog_is_bounded_and_pushes_back() -> None:
    repo = Repo(DID)
    frames = [repo.commit(seq) for seq in range(1, 40)]
    source = ScriptedSource(lambda cursor: frames, hold=True)
    queue: asyncio.Queue[Event] = asyncio.Queue(5)

    async def cursor() -> int | None:
        return None

    received: list[Event] = []
    async with (
        scripted_source(source),
        running(FirehoseClient(source.url, queue, cursor, allow_private=True, limits=FAST, received=received.append)),
    ):
        while not queue.full():
            await asyncio.sleep(0.01)
        for _ in range(20):  # the reader is stopped at the bound, the rest waits in the socket
            await asyncio.sleep(0.005)
            assert queue.qsize() == 5
        # the hook saw what is queued and the event waiting for room, nothing more
        assert len(received) == 6
        events = await take(queue, 30)
    assert [e.seq for e in events if isinstance(e, Commit)] == list(range(1, 30))
    assert received[:30] == events


async def test_a_redirect_of_the_handshake_is_not_followed() -> None:
    target = ScriptedSource(lambda cursor: [])
    async with scripted_source(target):
        app = web.Application()

        async def redirect(request: web.Request) -> web.Response:
            raise web.HTTPFound(target.url.replace("http://", "ws://") + request.path)

        app.router.add_get("/{tail:.*}", redirect)
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            queue: asyncio.Queue[Event] = asyncio.Queue(10)

            async def cursor() -> int | None:
                return None

            url = f"http://127.0.0.1:{runner.addresses[0][1]}"
            async with running(FirehoseClient(url, queue, cursor, allow_private=True, limits=FAST)):
                (event,) = await take(queue, 1)
        finally:
            await runner.cleanup()
    assert isinstance(event, Disconnected)
    assert "redirect" in event.reason
    assert target.cursors == []
