"""An export reader process: ``python -m chive_admin.repo.reader_process``, driven over stdin/stdout by
:mod:`chive_admin.ingest.export_readers`.

Reading a repository export (hashing, DAG-CBOR, the MST walk) is CPU work that holds the GIL; in its own process it
runs beside the server's writes instead of taking turns with them, and a hostile export that crashes a C decoder
takes down this process, not the server. It imports the reader and the record lexicons' models, not the app.

Messages are length-prefixed pickles, one reply per request, in order (the parent is this module's only caller,
over a pipe it made):

- ``("open", path, did, signing_key, prefix, size, written)`` → ``("opened", rev, commit_cid, data_cid, [RecordRow,
  ...])`` or ``("refused", code, message)``: the export at ``path`` is indexed, its commit verified and its first part
  read (a small export in one round trip); a session replaces the one before. ``written`` is ``None`` when the file
  is whole, else the bytes of it on disk so far: it is still being downloaded, and the parent announces more with
  ``("grew", n)`` and its end with ``("done", n)`` (``n`` bytes on disk), which are not answered. The walk follows
  the download, waiting for a block that has not arrived yet.
- ``("next",)`` → ``("rows", [RecordRow, ...])``, ``("end",)``, or ``("refused", code, message)`` when the walk meets a
  broken tree or a missing or forged block.
- ``("close",)`` → ``("closed",)``.
- ``("ping",)`` → ``("pong",)``: the reader has imported what it needs and is waiting.
- ``("page", body, collection)`` → ``("page", cursor, [RecordRow, ...])``, ``("not-json", description)`` or
  ``("off-lexicon", description)``: a listRecords answer's body decoded and checked
  (:func:`~chive_admin.repo.rows.page_rows`). It needs no session and leaves any session as it was, so pages can be
  sent one after another without waiting, their replies coming in the same order.

A part holds ``size`` rows until the last; a part shorter than ``size`` (or ``end``) is the last, and the session is
closed with it: the reader is between sessions without a ``close``. The last part comes once the whole file is on
disk and every section of it is checked, as a whole file's are when it is opened.

Anything else that goes wrong answers ``("failed", description)`` and ends the session. End of input ends the
process: the parent closed the pipe or died. SIGINT and SIGTERM are ignored (see :func:`main`).
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
import sys
import traceback
from collections.abc import Iterator
from typing import IO, Any

from pydantic import ValidationError

from chive_admin.lex.validation import describe
from chive_admin.repo.car import RepoVerificationError, VerifiedRepo, open_verified
from chive_admin.repo.rows import RecordRow, page_rows, record_rows
from chive_admin.untrusted_json import NotJson

HEADER = struct.Struct(">I")
#: added to the reader's niceness: where the server's event loop and a reader want the same core, the loop (every
#: request's latency) goes first, and the reader takes what the loop leaves (ingest waits a little, nobody stalls)
NICENESS = 10


def read_message(stream: IO[bytes]) -> Any | None:
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (length,) = HEADER.unpack(header)
    return pickle.loads(stream.read(length))  # noqa: S301 - from the parent that started this process


def frame(message: object) -> bytes:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(body)) + body


class Session:
    """One export being read: its verified repository and the walk's position; ``requests`` is where the
    announcements of a growing file are waited for."""

    def __init__(self, requests: IO[bytes] | None = None) -> None:
        self._requests = requests
        self._repo: VerifiedRepo | None = None
        self._rows: Iterator[list[RecordRow]] | None = None
        self._size = 0
        #: the file of an export still being written (its mapping is renewed as it grows)
        self._file: IO[bytes] | None = None
        self._on_disk = 0
        self._whole = True
        self._given = 0

    def open(
        self, path: str, did: str, signing_key: str, prefix: str, size: int, written: int | None = None
    ) -> tuple[object, ...]:
        self.close()
        if written is None:
            with open(path, "rb") as file:  # a mapping or the bytes read outlive the file
                self._repo = open_verified(file, did=did, signing_key=signing_key)
        else:
            self._file = open(path, "rb")  # noqa: SIM115 - closed with the session
            self._on_disk, self._whole, self._given = written, False, written
            self._repo = open_verified(self._file, did=did, signing_key=signing_key, grow=self._grow, size=written)
        repo = self._repo
        self._rows = record_rows(repo, prefix, size)
        self._size = size
        return ("opened", repo.rev, repo.commit_cid, repo.data_cid, self._walk() or [])

    def note(self, message: Any) -> bool:
        """Take in an announcement of a growing file (one after its session ended is dropped); whether it was one."""
        if message[0] not in ("grew", "done"):
            return False
        if self._file is not None:
            self._on_disk = max(self._on_disk, message[1])
            self._whole = message[0] == "done"
        return True

    def _grow(self) -> tuple[int, bool]:
        """Wait for the parent to announce more of the file."""
        assert self._requests is not None
        while self._on_disk <= self._given and not self._whole:
            message = read_message(self._requests)
            if message is None:
                raise EOFError("the server closed the reader's input")
            if not self.note(message):
                raise RuntimeError(f"{message[0]!r} came while the export was still being written")
        self._given = self._on_disk
        return self._on_disk, self._whole

    def next(self) -> tuple[object, ...]:
        if self._rows is None:
            return ("failed", "no export is open")
        rows = self._walk()
        return ("end",) if rows is None else ("rows", rows)

    def _walk(self) -> list[RecordRow] | None:
        """The next part; the session ends with the last, once the whole file is checked."""
        assert self._rows is not None
        assert self._repo is not None
        rows = next(self._rows, None)
        if rows is None or len(rows) < self._size:
            self._repo.finish()
            self.close()
        return rows

    def close(self) -> None:
        self._rows = None
        if self._repo is not None:
            self._repo.close()
            self._repo = None
        if self._file is not None:
            self._file.close()
            self._file = None

    def handle(self, message: Any) -> tuple[object, ...] | None:
        """The reply to ``message``; ``None`` for an announcement, which has none."""
        if message[0] == "page":
            return page(*message[1:])
        try:
            if self.note(message):
                return None
            if message[0] == "open":
                return self.open(*message[1:])
            if message[0] == "next":
                return self.next()
            if message[0] == "close":
                self.close()
                return ("closed",)
            if message[0] == "ping":
                return ("pong",)
            return ("failed", f"unknown request {message[0]!r}")
        except RepoVerificationError as exc:
            self.close()
            return ("refused", exc.code, str(exc))
        except Exception:  # a bug, or an export no check foresaw: the parent fails the sync with this
            self.close()
            return ("failed", traceback.format_exc(limit=8))


def page(body: bytes, collection: str) -> tuple[object, ...]:
    """The reply to a listing page: its rows, or what is wrong with it."""
    try:
        return ("page", *page_rows(body, collection))
    except NotJson as exc:
        return ("not-json", str(exc))
    except ValidationError as exc:
        return ("off-lexicon", describe(exc, what="answer"))
    except Exception:  # a bug: the parent fails the listing with this
        return ("failed", traceback.format_exc(limit=8))


def main() -> None:
    # the reader's life is its input: it ends when the server closes it or dies. Ctrl-C in a terminal and a
    # service manager's SIGTERM reach every process of the group; a reader that died of them would fail the sync
    # the server is winding down to resume
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.nice(NICENESS)
    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # stdout is the reply channel: a stray print must not corrupt it
    session = Session(requests)
    try:
        while (message := read_message(requests)) is not None:
            if (reply := session.handle(message)) is not None:
                replies.write(frame(reply))
                replies.flush()
    except BrokenPipeError:  # the parent is gone
        pass
    finally:
        session.close()


if __name__ == "__main__":
    main()
