"""The store a bench runs on: SQLite files, or databases of a throwaway PostgreSQL cluster (``testnet/postgres.py``).

``--db-backend sqlite|postgresql|both``: with ``both`` the bench runs once on each, one after the other, and prints
the two side by side (each run beside the baseline measured in that run). The cluster is destroyed when the bench
ends, also on an error, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

from bench.harness import Row, grid, table
from chive_admin.store.target import DbTarget, PostgresUrl
from testnet.postgres import PostgresCluster

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
BACKENDS = (SQLITE, POSTGRESQL)
BOTH = "both"


def add_option(parser: argparse.ArgumentParser, default: str = SQLITE) -> None:
    parser.add_argument(
        "--db-backend",
        choices=(*BACKENDS, BOTH),
        default=default,
        help="the store the server runs on (postgresql: a throwaway cluster; both: one run each, side by side)",
    )


class Databases:
    """Fresh, empty databases of one backend: files in ``tmp``, or databases of one cluster started here."""

    def __init__(self, backend: str, tmp: Path, cluster: PostgresCluster | None) -> None:
        self.backend = backend
        self.tmp = tmp
        self.cluster = cluster

    def new(self, name: str) -> DbTarget:
        """A database nobody has used (created and migrated by whoever opens it first); ``name`` shows in a file's
        name only, and a name given twice still gets a new database."""
        if self.cluster is None:
            path = self.tmp / f"{name}.db"
            copies = 1
            while path.exists():
                copies += 1
                path = self.tmp / f"{name}-{copies}.db"
            path.touch()
            return path
        return PostgresUrl(self.cluster.url(self.cluster.create_database()))


@contextlib.contextmanager
def terminated_as_interrupt() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C while the block runs, so that its ``finally`` clauses stop what it started."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: nothing to install
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def databases(backend: str, tmp: Path) -> Iterator[Databases]:
    if backend == SQLITE:
        yield Databases(backend, tmp, None)
        return
    if backend != POSTGRESQL:
        raise ValueError(f"no single backend {backend!r}")
    with terminated_as_interrupt():
        cluster = PostgresCluster.start()
        try:
            yield Databases(backend, tmp, cluster)
        finally:
            cluster.destroy()


Measure = Callable[[list[str] | None], tuple[str, list[Row]]]


def report(measure: Measure, argv: list[str] | None = None) -> None:
    """Run ``measure`` on the backend ``--db-backend`` names, or on each in turn for ``both``; print its table."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(add_help=False)
    add_option(parser)
    chosen, _ = parser.parse_known_args(argv)
    if chosen.db_backend != BOTH:
        title, rows = measure(argv)
        print(title)
        print(table(rows))
        return
    runs: list[tuple[str, list[Row]]] = []
    for backend in BACKENDS:
        title, rows = measure([*argv, "--db-backend", backend])
        print(f"[{backend}] {title}", flush=True)
        runs.append((backend, rows))
    print(side_by_side(runs))


def side_by_side(runs: list[tuple[str, list[Row]]]) -> str:
    """One line a figure: each backend's figure and its ratio to the baseline of its own run, then the baselines."""
    header = ["figure"]
    for backend, _ in runs:
        header += [backend, "ratio"]
    header += [f"baseline ({backend} run)" for backend, _ in runs] + ["goal"]
    lines: list[list[str]] = []
    for figures in zip(*(rows for _, rows in runs), strict=True):
        line = [figures[0][0]]
        for figure in figures:
            line += [figure[1], figure[3]]
        line += [figure[2] for figure in figures] + [figures[0][4]]
        lines.append(line)
    return grid(header, lines)
