"""A reader process (:mod:`chive_admin.repo.reader_process`) seen from the server: started, asked, stopped.

Readers exit when their input closes, so they never outlive the server, even one that is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import sys
from pathlib import Path
from typing import Any

import chive_admin
from chive_admin.repo.reader_process import HEADER, frame

#: the directory that holds this package, put first on the readers' path so they run this very code
_PACKAGE_ROOT = str(Path(chive_admin.__file__).resolve().parent.parent)


class ReaderFailed(RuntimeError):
    """A reader process failed on its request (its description is logged, not shown) or died."""


class ReaderProcess:
    """One reader process (:mod:`chive_admin.repo.reader_process`) and its pipes."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls) -> ReaderProcess:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "chive_admin.repo.reader_process",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
        )
        return cls(process)

    def send(self, message: object) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(frame(message))

    async def receive(self) -> Any:
        assert self.process.stdout is not None
        try:
            (length,) = HEADER.unpack(await self.process.stdout.readexactly(HEADER.size))
            return pickle.loads(await self.process.stdout.readexactly(length))  # noqa: S301 - our own child
        except (asyncio.IncompleteReadError, ConnectionError):
            raise ReaderFailed(f"the reader process (pid {self.process.pid}) exited") from None

    async def ask(self, message: object) -> Any:
        self.send(message)
        return await self.receive()

    async def stop(self) -> None:
        """Close its input (it exits at the end of input); kill it if it does not."""
        if self.process.returncode is None:
            if self.process.stdin is not None:
                self.process.stdin.close()
            try:
                await asyncio.wait_for(self.process.wait(), 5)
            except TimeoutError:
                self.kill()
                await self.process.wait()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
