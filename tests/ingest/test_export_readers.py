"""The export reader pool, with real reader processes: sessions, reuse, refusals, crashes, cancels and shutdown."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support.cars import DID, KEY, build_car
from support.jwts import SigningKey

from chive_admin.ingest.export_readers import ExportReaders, GrowingFile
from chive_admin.ingest.reader_processes import ReaderFailed
from chive_admin.repo.car import RepoVerificationError
from chive_admin.repo.reader_process import NICENESS
from chive_admin.repo.rows import RecordRow

COMMENT = "pub.chive.review.comment"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    car = build_car({f"{COMMENT}/{i:04d}": {"$type": COMMENT, "i": i} for i in range(25)})
    (tmp_path / "export.car").write_bytes(car)
    return tmp_path / "export.car"


@pytest.fixture
async def readers() -> AsyncIterator[ExportReaders]:
    pool = ExportReaders(1)
    yield pool
    await pool.close()


async def read_all(readers: ExportReaders, path: Path, key: str = KEY.did_key) -> list[list[RecordRow]]:
    async with readers.session(str(path), did=DID, signing_key=key, prefix="pub.chive.", size=10) as session:
        assert session.rev == "3kabcdefghi22"
        return [rows async for rows in session.parts()]


def pids(readers: ExportReaders) -> set[int]:
    return {reader.process.pid for reader in readers._idle}


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a zombie is gone too: it has exited and waits only for its parent to reap it
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] == "Z"


async def test_a_session_reads_every_part_and_the_reader_is_kept_for_the_next(
    readers: ExportReaders, path: Path
) -> None:
    await readers.warm()
    (pid,) = pids(readers)
    first = await read_all(readers, path)
    assert [len(rows) for rows in first] == [10, 10, 5]
    assert [row[1] for rows in first for row in rows] == [f"{i:04d}" for i in range(25)]
    assert await read_all(readers, path) == first
    assert pids(readers) == {pid}


@pytest.mark.parametrize(("count", "sent", "parts"), [(5, ["open"], [5]), (20, ["open", "next", "next"], [10, 10])])
async def test_a_session_read_to_its_end_needs_no_close(
    readers: ExportReaders, tmp_path: Path, count: int, sent: list[str], parts: list[int]
) -> None:
    car = build_car({f"{COMMENT}/{i:04d}": {"$type": COMMENT, "i": i} for i in range(count)})
    (tmp_path / "export.car").write_bytes(car)
    await readers.warm()
    (reader,) = readers._idle
    requests: list[str] = []
    send = reader.send
    reader.send = lambda message: (requests.append(str(message[0])), send(message))[1]  # type: ignore[method-assign]
    assert [len(rows) for rows in await read_all(readers, tmp_path / "export.car")] == parts
    assert requests == sent  # a small export is one round trip
    assert readers._idle == [reader]
    assert await reader.ask(("next",)) == ("failed", "no export is open")  # between sessions


async def test_a_refused_export_raises_its_check_and_the_reader_is_kept(readers: ExportReaders, path: Path) -> None:
    await readers.warm()
    (pid,) = pids(readers)
    with pytest.raises(RepoVerificationError) as refused:
        await read_all(readers, path, key=SigningKey("ES256K").did_key)
    assert refused.value.code == "bad_signature"
    assert pids(readers) == {pid}
    assert len(await read_all(readers, path)) == 3


async def test_a_session_left_after_its_first_part_leaves_the_reader_ready_for_the_next(
    readers: ExportReaders, path: Path
) -> None:
    async with readers.session(str(path), did=DID, signing_key=KEY.did_key, prefix="pub.chive.", size=10) as session:
        async for rows in session.parts():
            assert len(rows) == 10
            break  # the next part was requested already: its answer is drained before the reader is reused
    (pid,) = pids(readers)
    assert [len(rows) for rows in await read_all(readers, path)] == [10, 10, 5]
    assert pids(readers) == {pid}


async def test_a_reader_that_dies_mid_session_fails_it_and_the_next_gets_a_new_reader(
    readers: ExportReaders, path: Path
) -> None:
    killed: list[asyncio.subprocess.Process] = []

    async def read_and_kill() -> None:
        async with readers.session(str(path), did=DID, signing_key=KEY.did_key, prefix="pub.chive.", size=10) as s:
            (reader,) = readers._busy
            async for _ in s.parts():
                killed.append(reader.process)
                reader.process.kill()

    with pytest.raises(ReaderFailed, match="exited"):
        await read_and_kill()
    assert killed[0].returncode is not None
    assert readers._idle == []
    assert len(await read_all(readers, path)) == 3
    assert killed[0].pid not in pids(readers)


async def test_an_idle_reader_that_died_is_replaced_not_handed_out(readers: ExportReaders, path: Path) -> None:
    await readers.warm()
    (dead,) = readers._idle
    dead.process.kill()
    await dead.process.wait()
    assert len(await read_all(readers, path)) == 3
    assert dead.process.pid not in pids(readers)


async def test_a_reader_failure_is_logged_whole_and_raised_in_one_line(
    readers: ExportReaders, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(ReaderFailed) as failed:
        await read_all(readers, tmp_path / "no-such-export.car")
    assert str(failed.value).startswith("the export reader failed: FileNotFoundError")
    assert "Traceback" not in str(failed.value)
    assert "Traceback" in caplog.text
    assert readers._idle == []  # killed, not reused


async def test_a_cancelled_session_kills_its_reader(readers: ExportReaders, path: Path) -> None:
    entered = asyncio.Event()

    async def stuck() -> None:
        async with readers.session(str(path), did=DID, signing_key=KEY.did_key, prefix="pub.chive.", size=10):
            entered.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(stuck())
    await entered.wait()
    (reader,) = readers._busy
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert reader.process.returncode is not None
    assert readers._busy == set()


async def test_sessions_beyond_the_pool_wait_for_a_reader(readers: ExportReaders, path: Path) -> None:
    results = await asyncio.gather(*(read_all(readers, path) for _ in range(3)))
    assert all(len(parts) == 3 for parts in results)
    assert len(pids(readers)) == 1


async def test_close_stops_every_reader_and_refuses_new_sessions(path: Path) -> None:
    pool = ExportReaders(2)
    await pool.warm()
    started = [reader.process for reader in pool._idle]
    assert len(started) == 2
    await pool.close()
    assert all(process.returncode == 0 for process in started)  # each exited at the end of its input
    with pytest.raises(ReaderFailed, match="shut down"):
        await read_all(pool, path)


def test_readers_exit_when_the_server_process_is_killed(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import asyncio
        from chive_admin.ingest.export_readers import ExportReaders

        async def main():
            pool = ExportReaders(2)
            await pool.warm()
            print(" ".join(str(r.process.pid) for r in pool._idle), flush=True)
            await asyncio.Event().wait()

        asyncio.run(main())
        """
    )
    server = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        reader_pids = [int(pid) for pid in server.stdout.readline().split()]
        assert len(reader_pids) == 2
        server.kill()
        server.wait(timeout=10)
        deadline = time.monotonic() + 20
        while not all(gone(pid) for pid in reader_pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(gone(pid) for pid in reader_pids)
    finally:
        server.kill()
        server.wait(timeout=10)


async def test_a_consumers_own_error_keeps_the_reader(readers: ExportReaders, path: Path) -> None:
    # a cancel request raised at a checkpoint, say: the reader is sound and is kept, its pending part drained
    async def fail_at_the_first_part() -> None:
        async with readers.session(str(path), did=DID, signing_key=KEY.did_key, prefix="pub.chive.", size=10) as s:
            async for _ in s.parts():
                raise LookupError("the consumer's own")

    with pytest.raises(LookupError):
        await fail_at_the_first_part()
    (pid,) = pids(readers)
    assert [len(rows) for rows in await read_all(readers, path)] == [10, 10, 5]
    assert pids(readers) == {pid}


async def test_an_idle_reader_outlives_sigint_and_sigterm(readers: ExportReaders) -> None:
    # a terminal's Ctrl-C and a service manager's SIGTERM go to the whole group: the server winds down, and its
    # readers go when it closes their input
    await readers.warm()
    (reader,) = readers._idle
    for sig in (signal.SIGINT, signal.SIGTERM):
        os.kill(reader.process.pid, sig)
    assert await reader.ask(("ping",)) == ("pong",)


async def test_a_reader_yields_the_cpu_to_the_server(readers: ExportReaders) -> None:
    """Readers run niced: where a reader and the server's event loop want the same core, the loop goes first."""
    await readers.warm()
    (pid,) = pids(readers)
    assert os.getpriority(os.PRIO_PROCESS, pid) == os.getpriority(os.PRIO_PROCESS, 0) + NICENESS


async def read_growing(readers: ExportReaders, tmp_path: Path, *, until: float = 1.0) -> list[RecordRow]:
    """An export of 2,000 records read while it is written 4 KiB at a time, announced as a download announces it;
    the writing breaks off at the share ``until`` of it."""
    car = build_car({f"{COMMENT}/{i:04d}": {"$type": COMMENT, "i": i} for i in range(2000)})
    path = tmp_path / "export.car"
    path.write_bytes(car[:4096])
    growing = GrowingFile()
    growing.grew(4096)

    async def write() -> None:
        for at in range(4096, len(car), 4096):
            if at >= until * len(car):
                growing.broke()
                return
            with path.open("ab") as out:
                out.write(car[at : at + 4096])
            growing.grew(min(len(car), at + 4096))
            await asyncio.sleep(0)
        growing.done()

    writing = asyncio.create_task(write())
    try:
        async with readers.session(
            str(path), did=DID, signing_key=KEY.did_key, prefix="pub.chive.", size=500, growing=growing
        ) as session:
            return [row async for part in session.parts() for row in part]
    finally:
        await writing


async def test_a_growing_export_is_read_as_it_is_written_and_the_reader_is_kept(
    readers: ExportReaders, tmp_path: Path
) -> None:
    await readers.warm()
    (pid,) = pids(readers)
    rows = await read_growing(readers, tmp_path)
    assert sorted(row[1] for row in rows) == [f"{i:04d}" for i in range(2000)]
    assert pids(readers) == {pid}  # read to its end: the reader is between sessions


async def test_a_growing_export_that_breaks_off_fails_its_session_and_costs_the_reader(
    readers: ExportReaders, tmp_path: Path
) -> None:
    await readers.warm()
    (pid,) = pids(readers)
    with pytest.raises(ReaderFailed):
        await read_growing(readers, tmp_path, until=0.5)
    assert gone(pid)  # it was waiting for bytes that will never come
    assert pids(readers) == set()
