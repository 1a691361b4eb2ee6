"""Where the cores went during a measured window: CPU seconds of the server (this process, every thread), its
export readers, and the testnet's Node process (the PDSes and the PLC directory), read from ``/proc`` (Linux).

A ratio to a raw download says how fast; this says whether the machine had anything left. On two cores shared with
the PDS, a run that used nearly all of both is CPU-bound: no arrangement of the same work makes it faster here.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")
#: what a reader process runs (:mod:`chive_admin.repo.reader_process`)
_READER = b"chive_admin.repo.reader_process"


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of process ``pid`` so far, all its threads; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def renice(pid: int, niceness: int) -> None:
    """Set every thread of process ``pid`` to ``niceness``, and its scheduling group when it has one of its own.

    Linux keeps a niceness per thread, and setting a process's sets only its first thread (a Node process's worker
    threads would keep theirs). With the kernel's autogroups on (``kernel.sched_autogroup_enabled``, the default on
    most distributions) each session is one group, the groups share the cores by their own niceness, and a thread's
    counts only against its own group's threads: a process that leads its own session (the testnet, started so that
    it can be killed with its children) is reniced as a group too. A process of the caller's session is not, since
    that group is the caller's as well."""
    for thread in _threads(pid):
        with contextlib.suppress(ProcessLookupError):
            os.setpriority(os.PRIO_PROCESS, thread, niceness)
    group = Path(f"/proc/{pid}/autogroup")
    if os.getsid(pid) == pid and os.getsid(0) != pid and group.exists():
        group.write_text(f"{niceness}\n")


def _threads(pid: int) -> list[int]:
    return [int(task.name) for task in Path(f"/proc/{pid}/task").iterdir()]


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for thread in _threads(pid):
        with contextlib.suppress(OSError):
            found += map(int, Path(f"/proc/{pid}/task/{thread}/children").read_text().split())
    return found


def pin(pid: int, cpus: Collection[int]) -> None:
    """Keep process ``pid``, every thread of it and every process under it to ``cpus``.

    An affinity is per thread, like a niceness; a thread or process made later inherits its maker's, so a PostgreSQL
    backend forked after this stays where its postmaster is, and a Node worker thread where its process is."""
    for thread in _threads(pid):
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(thread, cpus)
    for child in _children(pid):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            pin(child, cpus)


def readers_of(pid: int) -> list[int]:
    """The reader processes ``pid`` started: its export readers and the one that checks listing pages."""
    found = []
    for child in _children(pid):
        with contextlib.suppress(OSError):
            if _READER in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
    return found


@dataclass(frozen=True)
class CpuSplit:
    """CPU seconds of each side over one window, and the window's wall seconds."""

    server: float
    readers: float
    testnet: float
    seconds: float

    def busy(self) -> float:
        """The share of the machine's cores the three used over the window."""
        return (self.server + self.readers + self.testnet) / (self.seconds * (os.cpu_count() or 1))


class CpuMeter:
    """Call :meth:`begin` and :meth:`end` around a window (while the readers run: they exit at shutdown)."""

    def __init__(self, testnet_pid: int) -> None:
        self.testnet_pid = testnet_pid
        self.split: CpuSplit | None = None
        self._start: tuple[float, float, float, float] | None = None

    def _now(self, wall: float) -> tuple[float, float, float, float]:
        me = os.getpid()
        readers = sum(cpu_seconds(pid) for pid in readers_of(me))
        return cpu_seconds(me), readers, cpu_seconds(self.testnet_pid), wall

    def begin(self, wall: float) -> None:
        self._start = self._now(wall)

    def end(self, wall: float) -> None:
        assert self._start is not None, "begin() first"
        server, readers, testnet, began = self._start
        now = self._now(wall)
        self.split = CpuSplit(now[0] - server, now[1] - readers, now[2] - testnet, now[3] - began)
