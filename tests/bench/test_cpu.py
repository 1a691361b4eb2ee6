"""The bench's CPU accounting reads real processes: this one, a real export reader, and a child that spins."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.cpu import CpuMeter, cpu_seconds, pin, readers_of, renice
from chive_admin.ingest.export_readers import ExportReaders


def spin(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_a_process_cpu_grows_with_its_work_and_a_gone_one_reads_zero() -> None:
    before = cpu_seconds(os.getpid())
    spin(0.2)
    assert cpu_seconds(os.getpid()) - before >= 0.15
    assert cpu_seconds(2**22 + 1) == 0.0  # above the kernel's default pid_max: no such process


async def test_the_readers_of_a_server_are_its_reader_processes_only() -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    readers = ExportReaders(1)
    try:
        await readers.warm()
        (reader,) = readers._idle
        assert readers.pages._line is not None  # the reader that checks listing pages: reader work too
        checker = readers.pages._line.reader.process.pid
        assert sorted(readers_of(os.getpid())) == sorted([reader.process.pid, checker])  # not the other child
    finally:
        await readers.close()
        other.kill()
        other.wait()


#: waits for a line, spins 0.3 s of its own CPU, says so, then waits to be killed (read while still there)
SPINNER = """
import sys, time
print("ready", flush=True)
sys.stdin.readline()
end = time.process_time() + 0.3
while time.process_time() < end:
    pass
print("spun", flush=True)
time.sleep(60)
"""


def test_a_meter_splits_a_window_between_the_server_and_the_testnet() -> None:
    child = subprocess.Popen([sys.executable, "-c", SPINNER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdin is not None
    assert child.stdout is not None
    try:
        assert child.stdout.readline() == "ready\n"
        meter = CpuMeter(child.pid)
        meter.begin(time.perf_counter())
        child.stdin.write("go\n")
        child.stdin.flush()
        spin(0.2)
        assert child.stdout.readline() == "spun\n"
        meter.end(time.perf_counter())
    finally:
        child.kill()
        child.wait()
    assert meter.split is not None
    assert (meter.split.server >= 0.15, meter.split.testnet >= 0.25, meter.split.readers) == (True, True, 0.0)
    assert 0 < meter.split.busy() <= 1.0


def test_renice_sets_every_thread_of_a_process() -> None:
    # a child with a second thread: both must end at the niceness asked for, not only the first
    script = "import threading, time; threading.Thread(target=time.sleep, args=(30,)).start(); print(1, flush=True)"
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        assert child.stdout.readline()
        tasks = [int(t) for t in os.listdir(f"/proc/{child.pid}/task")]
        assert len(tasks) >= 2
        renice(child.pid, 7)
        assert {os.getpriority(os.PRIO_PROCESS, t) for t in tasks} == {7}
    finally:
        child.kill()
        child.wait()


def test_renice_sets_the_group_of_a_process_leading_its_own_session_not_the_callers() -> None:
    group = Path("/proc/self/autogroup")
    ours = group.read_text()
    script = "import time; print(1, flush=True); time.sleep(30)"
    alone = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, start_new_session=True)
    beside = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        for child in (alone, beside):
            assert child.stdout is not None
            assert child.stdout.readline()
            renice(child.pid, 5)
        assert Path(f"/proc/{alone.pid}/autogroup").read_text().split()[-1] == "5"
        assert group.read_text() == ours  # the caller's own group (the one ``beside`` shares) is left alone
    finally:
        for child in (alone, beside):
            child.kill()
            child.wait()


#: a child with a second thread and a child of its own (a grandchild), both up before it prints its pid
FAMILY = """
import subprocess, sys, threading, time
threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
print(grandchild.pid, flush=True)
time.sleep(30)
"""


def test_pin_keeps_every_thread_and_every_process_under_it_to_the_cores() -> None:
    cores = sorted(os.sched_getaffinity(0))
    child = subprocess.Popen([sys.executable, "-c", FAMILY], stdout=subprocess.PIPE, text=True)
    grandchild = 0
    try:
        assert child.stdout is not None
        grandchild = int(child.stdout.readline())
        tasks = [int(t) for pid in (child.pid, grandchild) for t in os.listdir(f"/proc/{pid}/task")]
        assert len(tasks) >= 3
        pin(child.pid, {cores[-1]})
        assert {frozenset(os.sched_getaffinity(t)) for t in tasks} == {frozenset({cores[-1]})}
        assert os.sched_getaffinity(0) == set(cores)  # the caller is left where it was
    finally:
        child.kill()
        child.wait()
        if grandchild:
            with contextlib.suppress(ProcessLookupError):
                os.kill(grandchild, 9)
