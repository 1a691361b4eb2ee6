"""The firehose: a WebSocket client of ``com.atproto.sync.subscribeRepos``, its frames decoded into typed events.

- Dialled through the guard (:func:`~chive_admin.upstream.guard.websocket_session`), so ``--allow-private-network``
  and the SSRF rules apply as to every upstream call; connecting (DNS, TCP, TLS, upgrade) has one total deadline.
- A frame over ``max_frame_bytes`` closes the connection (aiohttp's ``max_msg_size``): it is never buffered whole.
- Events go into a bounded ``asyncio.Queue``: when the indexer falls behind, this client stops reading and TCP
  pushes back on the source. Memory holds ``backlog`` events at most, never a growing list.
- Every (re)connect first waits until the indexer has taken every queued event, then asks ``cursor()`` for the last
  *committed* sequence. The SDK's client re-dials with the cursor it started with (replays or gaps); this one cannot.
- Reconnects back off exponentially with full jitter; a connection that delivered an event resets the backoff.
- Nothing is skipped silently: an undecodable frame is an :class:`Undecodable` event (counted by the indexer), an
  error frame a :class:`StreamError`, ``#info`` an :class:`Info`, a lost connection a :class:`Disconnected`.

Frames are decoded with ``cbrrr`` (typed CIDs), not the SDK's ``Frame.from_bytes``: that one decodes with libipld,
whose CIDs come out as plain ``bytes`` (a forged ``commit`` of any bytes looks like a CID), decodes every part of a
frame before counting them, and lets ``ValueError``/``AttributeError``/``TypeError`` out on a non-map header or an
error body with extra keys. Bodies are checked field by field here, with the spec's bound of 200 ops a commit.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
from cbrrr import CID, decode_multi_dag_cbor_in_violation_of_the_spec

from chive_admin._generated import ids
from chive_admin.upstream.errors import UpstreamError
from chive_admin.upstream.guard import check_websocket_url, websocket_session

log = logging.getLogger(__name__)

#: the most ops one #commit may carry (the sync spec's bound)
MAX_OPS = 200
#: aiohttp's close code for a message over ``max_msg_size``
MESSAGE_TOO_BIG = 1009


@dataclass(frozen=True)
class FirehoseLimits:
    #: a frame larger than this closes the connection (a commit's blocks are at most 2 MB by the sync spec)
    max_frame_bytes: int = 5 * 1024 * 1024
    #: events held between the socket and the indexer
    backlog: int = 1000
    #: seconds to connect, resolve to upgrade, in total
    connect_deadline: float = 15.0
    #: WebSocket ping interval: a dead connection is noticed within about twice this
    heartbeat: float = 30.0
    backoff_base: float = 1.0
    backoff_cap: float = 60.0


@dataclass(frozen=True)
class RepoOp:
    action: str
    path: str
    cid: CID | None


@dataclass(frozen=True)
class Commit:
    seq: int
    repo: str
    rev: str
    since: str | None
    commit: CID
    prev_data: CID | None
    blocks: bytes
    ops: tuple[RepoOp, ...]
    too_big: bool
    #: the event's ``time`` (epoch seconds): when the source sequenced it; ``None`` when absent or not a datetime
    time: float | None = None


@dataclass(frozen=True)
class Identity:
    """``#identity``: the DID's document or handle may have changed (the event's handle is a hint, not verified)."""

    seq: int
    did: str
    time: float | None = None


@dataclass(frozen=True)
class Account:
    """``#account``: the hosting status of an account, as the source sees it."""

    seq: int
    did: str
    active: bool
    #: why an inactive account is: ``takendown``, ``suspended``, ``deleted``, ``deactivated``… (None when active)
    status: str | None
    time: float | None = None


@dataclass(frozen=True)
class Sync:
    """``#sync``: the repository's current commit, with no diff; the index resyncs when it is not where it stands."""

    seq: int
    did: str
    rev: str
    #: a CAR whose root is the signed commit
    blocks: bytes
    time: float | None = None


@dataclass(frozen=True)
class Passing:
    """A sequenced event of a type the indexer does not know: its sequence still moves the cursor."""

    seq: int
    kind: str
    did: str | None
    time: float | None = None


@dataclass(frozen=True)
class Info:
    name: str
    message: str | None


@dataclass(frozen=True)
class StreamError:
    """An error frame (``FutureCursor``, ``ConsumerTooSlow``…); the source closes the stream after it."""

    error: str
    message: str | None


@dataclass(frozen=True)
class Undecodable:
    reason: str


@dataclass(frozen=True)
class Connected:
    cursor: int | None


@dataclass(frozen=True)
class Disconnected:
    reason: str
    #: the source sent a frame over ``max_frame_bytes``
    too_large: bool = False


#: the events that carry a sequence number, which the cursor follows
Sequenced = Commit | Identity | Account | Sync | Passing
Event = Commit | Identity | Account | Sync | Passing | Info | StreamError | Undecodable | Connected | Disconnected


class BadFrame(ValueError):
    pass


def _field(body: dict[str, Any], name: str, kind: type | tuple[type, ...], *, optional: bool = False) -> Any:
    value = body.get(name)
    if value is None and optional:
        return None
    # bool is an int subclass: a `seq: true` is no sequence number
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise BadFrame(f"{name!r} is missing or not of the right type")
    return value


def _ops(raw: Any) -> tuple[RepoOp, ...]:
    if not isinstance(raw, list) or len(raw) > MAX_OPS:
        raise BadFrame(f"'ops' is not a list of at most {MAX_OPS}")
    out: list[RepoOp] = []
    for op in raw:
        if not isinstance(op, dict):
            raise BadFrame("an op is not a map")
        action = _field(op, "action", str)
        if action not in ("create", "update", "delete"):
            raise BadFrame(f"an op's action is {action[:20]!r}")
        cid = _field(op, "cid", CID, optional=True)
        out.append(RepoOp(action, _field(op, "path", str), cid))
    return tuple(out)


def decode_frame(data: bytes) -> Event:
    """One binary frame as an event; a frame that is not a valid subscribeRepos frame is :class:`Undecodable`."""
    try:
        return _decode(data)
    except BadFrame as exc:
        return Undecodable(str(exc))
    except ValueError as exc:  # cbrrr's decode errors
        return Undecodable(f"not DAG-CBOR: {str(exc)[:200]}")


def _decode(data: bytes) -> Event:
    parts = list(itertools.islice(decode_multi_dag_cbor_in_violation_of_the_spec(data), 3))
    if len(parts) != 2:
        raise BadFrame(f"a frame is a header and a body, not {len(parts)} part(s)")
    header, body = parts
    if not isinstance(header, dict) or not isinstance(body, dict):
        raise BadFrame("a frame's header and body are maps")
    op = header.get("op")
    if op == -1 and type(op) is int:
        return StreamError(_field(body, "error", str)[:200], _text(body.get("message")))
    if op != 1 or type(op) is not int:
        raise BadFrame(f"unknown frame op {op!r:.20}")
    kind = _field(header, "t", str)
    if kind == "#info":
        return Info(_field(body, "name", str)[:200], _text(body.get("message")))
    seq = _field(body, "seq", int)
    if kind == "#commit":
        return Commit(
            seq=seq,
            repo=_field(body, "repo", str),
            rev=_field(body, "rev", str),
            since=_field(body, "since", str, optional=True),
            commit=_field(body, "commit", CID),
            prev_data=_field(body, "prevData", CID, optional=True),
            blocks=_field(body, "blocks", bytes),
            ops=_ops(body.get("ops")),
            too_big=body.get("tooBig") is True,
            time=event_time(body.get("time")),
        )
    time = event_time(body.get("time"))
    if kind == "#identity":
        return Identity(seq, _field(body, "did", str), time)
    if kind == "#account":
        active = _field(body, "active", bool)
        status = _field(body, "status", str, optional=True)
        return Account(seq, _field(body, "did", str), active, None if active else (status or "inactive")[:40], time)
    if kind == "#sync":
        return Sync(seq, _field(body, "did", str), _field(body, "rev", str), _field(body, "blocks", bytes), time)
    did = body.get("did")
    return Passing(seq, kind[:40], did if isinstance(did, str) else None, time)


def _text(value: Any) -> str | None:
    return value[:500] if isinstance(value, str) else None


def event_time(value: Any) -> float | None:
    """An event's ``time`` as epoch seconds. Only lag is computed from it, so a missing or malformed one costs the
    event nothing but its lag figure (it is remote text: never trusted beyond that)."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.timestamp()


def subscribe_url(source: str, cursor: int | None) -> str:
    """The subscribeRepos URL of a source given as ``https://host`` (or ``wss://host``), resuming after ``cursor``."""
    base = source.rstrip("/")
    for http, ws in (("https://", "wss://"), ("http://", "ws://")):
        if base.startswith(http):
            base = ws + base[len(http) :]
    url = f"{base}/xrpc/{ids.COM_ATPROTO_SYNC_SUBSCRIBE_REPOS}"
    return url if cursor is None else f"{url}?cursor={cursor}"


class FirehoseClient:
    """Reads one source into ``queue`` until cancelled, reconnecting from ``cursor()`` (the committed sequence)."""

    def __init__(
        self,
        source: str,
        queue: asyncio.Queue[Event],
        cursor: Callable[[], Awaitable[int | None]],
        *,
        allow_private: bool,
        limits: FirehoseLimits | None = None,
        jitter: Callable[[], float] = random.random,
        received: Callable[[Event], None] | None = None,
    ) -> None:
        self.source = source
        self.queue = queue
        #: sees every event as it leaves the socket, before the queue (where it may wait behind a backlog)
        self._received = received
        self._cursor = cursor
        self._allow_private = allow_private
        self.limits = limits or FirehoseLimits()
        self._jitter = jitter
        #: connections that failed in a row (the backoff's exponent)
        self.failures = 0

    async def run(self) -> None:
        session = websocket_session(allow_private=self._allow_private)
        try:
            while True:
                # whatever is queued is from the previous connection: once it is committed, the cursor is exact
                await self.queue.join()
                delivered, reason, too_large = await self._connection(session, await self._cursor())
                await self._put(Disconnected(reason, too_large))
                self.failures = 0 if delivered else self.failures + 1
                if self.failures:
                    limits = self.limits
                    ceiling = min(limits.backoff_cap, limits.backoff_base * 2 ** min(self.failures - 1, 30))
                    await asyncio.sleep(self._jitter() * ceiling)
        finally:
            await session.close()

    async def _put(self, event: Event) -> None:
        if self._received is not None:
            self._received(event)
        await self.queue.put(event)

    async def _connection(self, session: aiohttp.ClientSession, cursor: int | None) -> tuple[bool, str, bool]:
        """Read one connection to its end: (whether it delivered an event, why it ended, whether a frame was too
        large)."""
        url = subscribe_url(self.source, cursor)
        limits = self.limits
        try:
            check_websocket_url(url, allow_private=self._allow_private)
            async with asyncio.timeout(limits.connect_deadline):
                ws = await session.ws_connect(
                    url, max_msg_size=limits.max_frame_bytes, heartbeat=limits.heartbeat, autoclose=True
                )
        except (UpstreamError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            return False, f"cannot connect: {str(exc)[:300] or type(exc).__name__}", False
        delivered = False
        try:
            await self._put(Connected(cursor))
            async for message in ws:
                if message.type is aiohttp.WSMsgType.BINARY:
                    delivered = True
                    await self._put(decode_frame(message.data))
                elif message.type is aiohttp.WSMsgType.TEXT:
                    await self._put(Undecodable("a text frame"))
                elif message.type is aiohttp.WSMsgType.ERROR:
                    error = message.data
                    if isinstance(error, aiohttp.WebSocketError) and error.code == MESSAGE_TOO_BIG:
                        return delivered, f"a frame over {limits.max_frame_bytes:,} bytes", True
                    return delivered, f"connection error: {str(error)[:300]}", False
            code = ws.close_code
            if code == MESSAGE_TOO_BIG:
                return delivered, f"a frame over {limits.max_frame_bytes:,} bytes", True
            return delivered, f"closed by the source ({code})", False
        except (aiohttp.ClientError, OSError) as exc:
            return delivered, f"connection error: {str(exc)[:300] or type(exc).__name__}", False
        finally:
            await ws.close()
