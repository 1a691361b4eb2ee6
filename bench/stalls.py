"""The machine's own stalls over a window: a process that sleeps a millisecond at a time, as favoured by the
scheduler as it may be (niceness -20 where permitted), and notes how much longer than asked each sleep took.

A latency bench on a shared machine measures the machine too. When this sleeper, which every other task on the
machine yields to, oversleeps by 15 ms, no server on the machine can promise to answer within 15 ms of a request
at that moment: the figure is the floor the machine puts under a maximum latency (hypervisor pauses, interrupts,
kernel work), printed beside it so that the two are not confused.

    with StallProbe() as probe:
        ...  # the window
    probe.result  # Stalls(max_ms=..., p999_ms=..., favoured=True)

Run as ``python -m bench.stalls``: prints ``ready``, sleeps until its stdin closes, then prints the result as JSON.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

#: what each sleep asks for
STEP = 0.001


@dataclass(frozen=True)
class Stalls:
    """How much longer than asked the sleeps took (ms), and whether the sleeper got its niceness of -20."""

    max_ms: float
    p999_ms: float
    favoured: bool


class StallProbe:
    """The sleeper in a child process (its own interpreter: the bench's event loop and GIL do not delay it)."""

    def __init__(self) -> None:
        self.result: Stalls | None = None
        self._child: subprocess.Popen[str] | None = None

    def __enter__(self) -> StallProbe:
        self._child = subprocess.Popen(
            [sys.executable, "-m", "bench.stalls"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
        assert self._child.stdout is not None
        if self._child.stdout.readline().strip() != "ready":
            raise RuntimeError("the stall probe did not start")
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        assert self._child is not None
        out, _ = self._child.communicate(timeout=30)  # closes its stdin: the sleeper stops and answers
        if kind is None:
            self.result = Stalls(**json.loads(out))


def quantile(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (the largest for 1.0); NaN when there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def favour() -> bool:
    """Niceness -20 for this thread (Linux: a thread has its own), if permitted."""
    try:
        os.setpriority(os.PRIO_PROCESS, 0, -20)
    except OSError:
        return False
    return True


@contextlib.contextmanager
def favoured() -> Iterator[bool]:
    """:func:`favour` for the block, the thread's niceness restored after it (a process started from the thread
    meanwhile inherits -20)."""
    before = os.getpriority(os.PRIO_PROCESS, 0)
    try:
        yield favour()
    finally:
        os.setpriority(os.PRIO_PROCESS, 0, before)


def main() -> None:
    favoured = favour()
    stop = threading.Event()

    def until_closed() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=until_closed, daemon=True).start()
    print("ready", flush=True)
    over: list[float] = []
    before = time.perf_counter()
    while not stop.is_set():
        time.sleep(STEP)
        now = time.perf_counter()
        over.append((now - before - STEP) * 1000)
        before = now
    answer = Stalls(max_ms=quantile(over, 1.0), p999_ms=quantile(over, 0.999), favoured=favoured)
    print(json.dumps(answer.__dict__), flush=True)


if __name__ == "__main__":
    main()
