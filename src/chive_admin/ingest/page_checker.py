"""Listing pages decoded and checked in a reader process (:mod:`chive_admin.repo.reader_process`), not on the loop.

A pds-scan reads pages of up to 100 records from many repositories at once. Decoding a page's JSON, validating it
against listRecords' lexicon, checking each record against its own and making each record's stored JSON was about
half of the event loop's work under a scan: time the API's requests waited for, and trees of objects the garbage
collector's passes walked. Here the loop sends the body to a reader and gets back checked rows (tuples of strings,
:mod:`chive_admin.repo.rows`), as an export's parts come back from its reader.

One process serves every listing: pages are sent without waiting for the replies before them, and the reader
answers them one at a time, in order. So when it dies (a decoder crashed by some page, the OOM killer) the page it
was on is the oldest unanswered one: that page is sent once more, to a new reader, and refused as the host's answer
(``PageRefused``) if it is again the one a reader died on; the pages behind it were not reached, and are sent again
as they were, so a hostile page costs the other listings a resend, never their pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any

from chive_admin.api_first import api_first
from chive_admin.ingest.reader_processes import ReaderFailed, ReaderProcess
from chive_admin.repo.reader_process import page
from chive_admin.repo.rows import RecordRow
from chive_admin.upstream.atproto import CheckedPage, PageRefused

log = logging.getLogger(__name__)


#: times a page may be sent again because a reader died before reaching it (each time a page ahead of it ended one)
MAX_RESENDS = 8


class _NotReached(ReaderFailed):
    """The reader died on a page ahead of this one."""


class _Line:
    """One reader process and the pages sent to it, oldest first, waiting for their replies."""

    def __init__(self, reader: ReaderProcess) -> None:
        self.reader = reader
        self.waiting: deque[asyncio.Future[Any]] = deque()
        self.failed: ReaderFailed | None = None
        self.pump = asyncio.ensure_future(self._pump())

    async def ask(self, message: object) -> Any:
        if self.failed is not None:
            raise self.failed
        reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.waiting.append(reply)
        self.reader.send(message)
        return await reply

    async def _pump(self) -> None:
        try:
            while True:
                answer = await self.reader.receive()
                reply = self.waiting.popleft()
                if not reply.done():  # its caller may have stopped waiting: the answer is dropped
                    reply.set_result(answer)
        except ReaderFailed as exc:
            self.failed = exc
        finally:
            failed = self.failed = self.failed or ReaderFailed("the page checker was stopped")
            while self.waiting:
                reply = self.waiting.popleft()
                if not reply.done():
                    reply.set_exception(failed)
                # only the first page it had can have ended the reader: the rest were never read
                failed = _NotReached(str(failed))
            self.reader.kill()

    async def stop(self) -> None:
        self.pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.pump
        await self.reader.process.wait()


class PageChecker:
    """Decodes and checks listRecords answers in a reader process of its own, started on first use."""

    def __init__(self) -> None:
        self._line: _Line | None = None
        self._starting = asyncio.Lock()
        self._closed = False

    async def warm(self) -> None:
        """Start the process now, not at the first page (whose listing would wait for it)."""
        await self._running()

    async def check(self, body: bytes, collection: str) -> CheckedPage[RecordRow]:
        """``body``'s cursor and its records of ``collection`` as checked rows (a :data:`PageDecoder`)."""
        strikes = resends = 0
        while True:
            line = await self._running()
            try:
                reply = await line.ask(("page", body, collection))
            except _NotReached:
                resends += 1
                if resends > MAX_RESENDS:
                    raise PageRefused("the page could not be checked: its checker kept failing") from None
                continue
            except ReaderFailed:
                strikes += 1
                if strikes > 1:
                    raise PageRefused("the page could not be checked: it ended the process checking it twice") from None
                continue
            return _page_of(reply)

    async def _running(self) -> _Line:
        """The line to the reader, a new one when there is none or it has failed."""
        async with self._starting:
            if self._closed:
                raise ReaderFailed("the page checker is shut down")
            line = self._line
            if line is None or line.failed is not None:
                if line is not None:
                    log.warning("page checker (pid %s) ended: %s", line.reader.process.pid, line.failed)
                    await line.stop()
                line = self._line = _Line(await ReaderProcess.start())
            return line

    async def close(self) -> None:
        async with self._starting:
            self._closed = True
            line, self._line = self._line, None
        if line is not None:
            line.reader.kill()  # its pump may not have started, and so would not kill it when cancelled
            await line.stop()


async def check_here(body: bytes, collection: str) -> CheckedPage[RecordRow]:
    """:meth:`PageChecker.check` on this loop, for a server without reader processes (``--export-readers 0``): the
    reader's own answer to the page, taken as a reader's is."""
    await api_first()  # a page of records is a millisecond or more of the loop: requests first
    return _page_of(page(body, collection))


def _page_of(reply: Any) -> CheckedPage[RecordRow]:
    """The page a reader answered (:func:`chive_admin.repo.reader_process.page`), or what it said is wrong."""
    if reply[0] == "page":
        return CheckedPage(reply[1], reply[2])
    if reply[0] == "not-json":
        raise ValueError(reply[1])
    if reply[0] == "off-lexicon":
        raise PageRefused(reply[1])
    log.error("page checker failed: %s", reply[1])
    raise PageRefused("the page could not be checked")
