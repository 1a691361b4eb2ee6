"""Running the real ``chive-admin serve`` in a subprocess, and always stopping it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from chive_admin.store.db import Database
from chive_admin.store.target import DbTarget, PostgresUrl


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "chive_admin.cli.main", *args]


TESTS_DIR = Path(__file__).resolve().parent.parent


def count_job_server(cwd: Path, args: Sequence[str], job_env: dict[str, str]) -> ServerProcess:
    """A server that can also run the test job (support.jobs.CountItems), steered by ``TEST_JOB_*`` values."""
    return ServerProcess(
        args=[*args, "--job-plugin", "support.jobs:CountItems"],
        cwd=cwd,
        env={"PYTHONPATH": str(TESTS_DIR), **job_env},
    )


def db_arg(db: DbTarget) -> str:
    """What ``--db`` is given for ``db``: the file, or the whole URL (its text as printed hides the password)."""
    return db.url if isinstance(db, PostgresUrl) else str(db)


def create_database(db: DbTarget) -> None:
    """The database as ``serve`` leaves it at start-up (created, migrated), without running a server."""

    async def create() -> None:
        await (await Database.open(db, readers=0, writers=1)).close()

    asyncio.run(create())


def create_key(db: DbTarget, did: str, name: str = "test") -> str:
    """A new API key for ``did``, made the way an operator makes one: ``chive-admin keys create`` on the database
    (a file only ``serve`` creates: a test that makes its key before it starts the server has it created first;
    a PostgreSQL database is migrated already, a copy of the session's template)."""
    if isinstance(db, Path) and not db.exists():
        create_database(db)
    made = subprocess.run(
        cli_command("keys", "create", "--did", did, "--name", name, "--db", db_arg(db)),
        capture_output=True,
        text=True,
        check=True,
    )
    return made.stdout.strip()


@dataclass
class ServerProcess:
    args: Sequence[str]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> ServerProcess:
        self.log_path = self.cwd / f"server-{self.port}.log"
        log = self.log_path.open("wb")
        env = {**os.environ, **self.env}
        self.proc = subprocess.Popen(
            cli_command("serve", "--port", str(self.port), *self.args),
            cwd=self.cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/xrpc/_health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server did not become healthy in {timeout}s:\n{self.output()}")

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Stop the server (SIGTERM by default) and reap it; SIGKILL the group if it does not exit in time."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        code = self.proc.returncode
        with contextlib.suppress(ProcessLookupError):  # nothing the server started may outlive it
            os.killpg(self.proc.pid, signal.SIGKILL)
        return code
