"""``python -m bench``: every benchmark, one table (figure, ours, baseline measured in the same run, ratio, goal).

    python -m bench            # the CI-sized run (a few seconds per figure)
    python -m bench --full     # longer runs, 100k stored operations

It prints; it never asserts. The ingest figures against the testnet are in the issue notes (measured by the
interop scans), not here, because they need the Node testnet running.
"""

from __future__ import annotations

import sys

from bench import auth, jobs, status
from bench.harness import table


def main() -> None:
    full = "--full" in sys.argv[1:]
    seconds = "8" if full else "3"
    ops = "100000" if full else "20000"
    rows: list[tuple[str, str, str, str, str]] = []
    for title, (name, measured) in (
        ("status", status.measure(["--ops", ops, "--seconds", seconds])),
        ("auth", auth.measure(["--seconds", seconds])),
        ("jobs", jobs.measure(["--eprints", "20000" if full else "5000", "--pdfs", "200" if full else "50"])),
    ):
        print(f"[{title}] {name}", flush=True)
        rows += [(f"{title}: {r[0]}", *r[1:]) for r in measured]
    print(table(rows))


if __name__ == "__main__":
    main()
