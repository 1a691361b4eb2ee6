"""Shared bench machinery: serve an ASGI app with uvicorn in a child process, drive it with concurrent clients."""

from __future__ import annotations

import asyncio
import multiprocessing
import socket
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.rawhttp import RawConnection

from chive_admin.auth.api_keys import key_hash, new_key, new_key_id
from chive_admin.clock import now_stamp
from chive_admin.store import api_keys as api_keys_store
from chive_admin.store.db import Database
from chive_admin.store.target import DbTarget


async def api_key(target: DbTarget, did: str) -> str:
    """A fresh API key for ``did`` in the database ``target`` names (created and migrated if new)."""
    db = await Database.open(target, readers=1)
    key = new_key()
    try:
        async with db.write() as conn:
            await api_keys_store.create_key(
                conn, key_id=new_key_id(), did=did, name="bench", key_hash=key_hash(key), now=now_stamp()
            )
    finally:
        await db.close()
    return key


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(factory: Callable[[], Any], port: int) -> None:
    uvicorn.run(factory(), host="127.0.0.1", port=port, log_level="error", lifespan="on", access_log=False)


class Served:
    """``factory()`` (a module-level function returning an ASGI app) served in a child process."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.port = free_port()
        self.process = multiprocessing.get_context("spawn").Process(target=_serve, args=(factory, self.port))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Served:
        self.process.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(self.url + "/", timeout=0.5)
                return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("bench server did not start")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()


@dataclass(frozen=True)
class Load:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")

    @property
    def p99(self) -> float:
        return self.percentile(99)

    @property
    def max(self) -> float:
        return max(self.latencies_ms, default=float("nan"))


async def _connection(
    host: str,
    port: int,
    path_for: Callable[[int], str],
    headers_for: Callable[[int], Mapping[str, str]],
    end: float,
    latencies: list[float],
    counter: list[int],
    failures: list[str],
    body_for: Callable[[int], object] | None = None,
) -> None:
    """One keep-alive HTTP/1.1 connection sending GETs (POSTs of ``body_for``'s JSON) back to back: a client light
    enough that the server, not the driver, is what gets measured (httpx tops out near the rates we want to see)."""
    async with RawConnection(host, port, {}) as connection:
        while time.perf_counter() < end:
            counter[0] += 1
            headers = headers_for(counter[0])
            path = path_for(counter[0])
            started = time.perf_counter()
            if body_for is None:
                answer = await connection.request("GET", path, headers=headers)
            else:
                answer = await connection.request("POST", path, body_for(counter[0]), headers=headers)
            latencies.append((time.perf_counter() - started) * 1000)
            if answer.status != 200:
                failures.append(f"{answer.status}: {answer.text[:200]}")


async def _drive(
    url: str | Sequence[str],
    headers_for: Callable[[int], Mapping[str, str]],
    concurrency: int,
    seconds: float,
    warmup: float,
    body_for: Callable[[int], object] | None = None,
) -> Load:
    urls = [httpx.URL(u) for u in ([url] if isinstance(url, str) else url)]
    parsed = urls[0]
    if any((u.host, u.port) != (parsed.host, parsed.port) for u in urls):
        raise ValueError("every URL of one drive names the same server")
    paths = [u.raw_path.decode() for u in urls]

    def path_for(n: int) -> str:
        return paths[n % len(paths)]

    latencies: list[float] = []
    failures: list[str] = []
    counter = [0]
    await asyncio.gather(
        *(
            _connection(
                parsed.host,
                parsed.port or 80,
                path_for,
                headers_for,
                time.perf_counter() + warmup,
                [],
                counter,
                [],
                body_for,
            )
            for _ in range(concurrency)
        )
    )
    began = time.perf_counter()
    end = began + seconds
    await asyncio.gather(
        *(
            _connection(
                parsed.host, parsed.port or 80, path_for, headers_for, end, latencies, counter, failures, body_for
            )
            for _ in range(concurrency)
        )
    )
    elapsed = time.perf_counter() - began
    for failure in failures[:3]:
        print(f"  non-200 answer {failure}")
    return Load(len(latencies), len(failures), elapsed, latencies)


def drive(
    url: str | Sequence[str],
    headers_for: Callable[[int], Mapping[str, str]] = lambda _: {},
    *,
    concurrency: int = 16,
    seconds: float = 5.0,
    warmup: float = 0.5,
    body_for: Callable[[int], object] | None = None,
) -> Load:
    """Requests to ``url`` (or to each of several URLs of one server in turn) from ``concurrency`` connections for
    ``seconds``, after ``warmup`` seconds whose answers are not counted; POSTs of ``body_for(n)`` when it is given."""
    return asyncio.run(_drive(url, headers_for, concurrency, seconds, warmup, body_for))


Row = tuple[str, str, str, str, str]


def report(measure: Callable[[], tuple[str, list[Row]]]) -> None:
    """A bench module run on its own: its title, then its rows as a table."""
    title, rows = measure()
    print(title)
    print(table(rows))


def table(rows: list[Row]) -> str:
    return grid(["figure", "ours", "baseline", "ratio", "goal"], [list(row) for row in rows])


def grid(header: list[str], lines: list[list[str]]) -> str:
    """Columns padded to their widest cell, under a header and a rule."""
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]
    shown = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in [header, *lines]]
    return "\n".join([shown[0], "  ".join("-" * w for w in widths), *shown[1:]])
