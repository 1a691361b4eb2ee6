"""Export reader processes (:mod:`chive_admin.repo.reader_process`): a small pool, one process per export being read.

Python runs one thread at a time, so reading an export on a thread of the server (hashing, DAG-CBOR, the MST walk,
the lexicon checks) took turns with writing what it read. In a process of its own the next part is read and checked
while this process writes the last one (``python -m bench.profile_ingest --only sync`` compares the two).

A reader is checked out for one export. One that fails, dies or is abandoned mid-request is killed, not reused, so
a reader in the pool is always between sessions. Readers exit when their input closes, so they never outlive the
server, even one that is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import IO, Any

from chive_admin.api_first import api_first
from chive_admin.ingest.page_checker import PageChecker
from chive_admin.ingest.reader_processes import ReaderFailed, ReaderProcess
from chive_admin.repo.car import RepoVerificationError
from chive_admin.repo.rows import RecordRow

log = logging.getLogger(__name__)

#: a growing file is announced to its reader at most once per this many new bytes (and at its end): a reader
#: waiting for a block waits at most this much longer, and a large export is not thousands of messages
ANNOUNCE_EVERY = 64 * 1024


class GrowingFile:
    """A file still being written (an export as it downloads), read meanwhile by a session that is told as it grows.

    The writer calls :meth:`grew` as bytes reach the disk, then :meth:`done` or :meth:`broke`: a session reading a
    file that broke off has its reader killed (it may be waiting for bytes that will never come)."""

    def __init__(self) -> None:
        #: the file, once it is on disk
        self.file: IO[bytes] | None = None
        self.size = 0
        self.whole = False
        self.broken = False
        self._told = 0
        self._listener: Callable[[str, int], None] | None = None

    def grew(self, size: int) -> None:
        self.size = size
        if self._listener is not None and size - self._told >= ANNOUNCE_EVERY:
            self._told = size
            self._listener("grew", size)

    def done(self) -> None:
        self.whole = True
        if self._listener is not None:
            self._listener("done", self.size)

    def broke(self) -> None:
        self.broken = True
        if self._listener is not None:
            self._listener("broke", self.size)

    def listen(self, listener: Callable[[str, int], None] | None) -> None:
        self._listener = listener
        self._told = self.size


def _reply(reply: Any) -> Any:
    """``reply`` when it is not a failure; a refusal is the export's fault, anything else the reader's."""
    if reply[0] == "refused":
        raise RepoVerificationError(reply[1], reply[2])
    if reply[0] == "failed":
        log.error("export reader failed: %s", reply[1])
        last = str(reply[1]).strip().splitlines()[-1:] or ["?"]
        raise ReaderFailed(f"the export reader failed: {last[0][:200]}")
    return reply


class ExportSession:
    """One export open in a reader: its commit's ``rev`` and MST root, then its rows a part at a time."""

    def __init__(self, reader: ReaderProcess, opened: Any, size: int) -> None:
        self._reader = reader
        self._size = size
        _, self.rev, self.commit_cid, self.data_cid, self._first = opened
        #: the walk has ended, so the reader has closed the session itself and is between sessions
        self.ended = False

    async def parts(self) -> AsyncGenerator[list[RecordRow], None]:
        """The parts in order; the next is read by the reader while the caller works on this one."""
        rows: list[RecordRow] = self._first
        self._first = []
        while True:
            last = len(rows) < self._size
            if not last:
                self._reader.send(("next",))
            else:
                self.ended = True
            if rows or last:
                yield rows
            if last:
                return
            await api_first()  # unpickling a part of rows is CPU work on the loop: requests first
            reply = _reply(await self._reader.receive())
            if reply[0] == "end":
                self.ended = True
                return
            rows = reply[1]


class ExportReaders:
    """At most ``size`` reader processes, started as needed and kept for the next export."""

    def __init__(self, size: int) -> None:
        self.size = size
        #: listing pages are checked in a reader of their own (:mod:`chive_admin.ingest.page_checker`)
        self.pages = PageChecker()
        self._slots = asyncio.Semaphore(size)
        self._idle: list[ReaderProcess] = []
        self._busy: set[ReaderProcess] = set()
        self._closed = False

    async def warm(self) -> None:
        """Start the readers now, and wait until they are ready, rather than at the first export (a server's first
        sync would wait for one, and share the CPU with its start); the page checker's too."""
        await self.pages.warm()
        missing = self.size - len(self._idle) - len(self._busy)
        started = await asyncio.gather(*(ReaderProcess.start() for _ in range(missing)))
        try:
            for reader in started:
                if (await reader.ask(("ping",)))[0] != "pong":
                    raise ReaderFailed("an export reader did not start")
        except BaseException:
            for reader in started:
                reader.kill()
            raise
        self._idle += started

    @contextlib.asynccontextmanager
    async def session(
        self, path: str, *, did: str, signing_key: str, prefix: str, size: int, growing: GrowingFile | None = None
    ) -> AsyncIterator[ExportSession]:
        """Open the export at ``path`` in a reader: indexed, its commit verified for ``did`` against
        ``signing_key`` (:class:`RepoVerificationError` if not, or if its first part's walk meets a broken tree),
        and its records under ``prefix`` ready to read, the first part read already.

        ``growing``: the file is still being written; the reader follows it (a session left before the file is
        whole costs the reader, which may be waiting for it: it is killed)."""
        if self._closed:
            raise ReaderFailed("the export readers are shut down")
        async with self._slots:
            reader = await self._checkout()
            self._busy.add(reader)
            opened: ExportSession | None = None
            clean = False
            try:
                try:
                    if growing is not None and growing.broken:
                        raise ReaderFailed("the export broke off before it was read")
                    written = None if growing is None or growing.whole else growing.size
                    if written is not None:
                        assert growing is not None
                        growing.listen(
                            lambda what, size: reader.kill() if what == "broke" else reader.send((what, size))
                        )
                    reply = _reply(await reader.ask(("open", path, did, signing_key, prefix, size, written)))
                    opened = ExportSession(reader, reply, size)
                    yield opened
                except ReaderFailed:
                    raise
                except Exception:
                    # a refused export, or the caller's own error (a cancel request at a checkpoint): the reader
                    # is sound, so it is kept. A cancelled task (BaseException) kills it: its reply is unknown.
                    clean = await self._settle(reader, opened, growing)
                    raise
                clean = await self._settle(reader, opened, growing)
            finally:
                if growing is not None:
                    growing.listen(None)
                self._busy.discard(reader)
                if clean and not self._closed:
                    self._idle.append(reader)
                else:
                    reader.kill()
                    await reader.process.wait()

    async def _checkout(self) -> ReaderProcess:
        """An idle reader that is still running (one may have been killed meanwhile: the OOM killer), or a new one."""
        while self._idle:
            reader = self._idle.pop()
            if reader.process.returncode is None:
                return reader
            log.warning("export reader (pid %s) exited while idle (%s)", reader.process.pid, reader.process.returncode)
        return await ReaderProcess.start()

    async def _settle(self, reader: ReaderProcess, session: ExportSession | None, growing: GrowingFile | None) -> bool:
        """Close the session; whether the reader is back between sessions. One read to its end is closed already;
        one left early has a part requested: its answer comes before the close's. One left while its file is still
        growing is not closed: the reader may be waiting for the file, not for a request."""
        if session is not None and session.ended:
            return True
        if growing is not None and not growing.whole:
            return False
        reader.send(("close",))
        while (reply := await reader.receive())[0] != "closed":
            if reply[0] not in ("rows", "end", "refused"):
                return False
        return True

    async def close(self) -> None:
        await self.pages.close()
        self._closed = True
        readers, self._idle = self._idle, []
        for reader in self._busy:
            reader.kill()
        await asyncio.gather(*(reader.stop() for reader in readers), return_exceptions=True)
