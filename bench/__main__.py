"""``python -m bench``: every benchmark, one table (figure, ours, baseline measured in the same run, ratio, goal).

    python -m bench            # the CI-sized run (a few seconds per figure)
    python -m bench --full     # longer runs: 100k stored operations, 1M indexed records for the content reads,
                               # the peak RSS of a 105k-record pds-scan, 50k firehose commits,
                               # getBackfillStatus latency during a 100k-record did-sync and a 20k pds-scan

It prints; it never asserts. The ingest rows start the Node testnet (scripts/install-testnet.sh installs it); without
it they are left out, and the table says so.
"""

from __future__ import annotations

import sys

from bench import auth, content, firehose, ingest, jobs, responsiveness, status
from bench.harness import table


def _ingest(full: bool) -> tuple[str, list[tuple[str, str, str, str, str]]]:
    from testnet.harness import TestnetUnavailable, locate_install

    try:
        locate_install()
    except TestnetUnavailable as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unavailable"
        return "ingest against the testnet: left out", [("(testnet unavailable)", first[:60], "", "", "")]
    return ingest.measure(["--full"] if full else [])


def _responsiveness(full: bool) -> tuple[str, list[tuple[str, str, str, str, str]]]:
    from testnet.harness import TestnetUnavailable, locate_install

    try:
        locate_install()
    except TestnetUnavailable:
        return "responsiveness under ingest: left out", [("(testnet unavailable)", "", "", "", "")]
    return responsiveness.measure(["--full"] if full else [])


def main() -> None:
    if {"-h", "--help"} & set(sys.argv[1:]):
        print(__doc__)
        return
    full = "--full" in sys.argv[1:]
    seconds = "8" if full else "3"
    ops = "100000" if full else "20000"
    rows: list[tuple[str, str, str, str, str]] = []
    for title, (name, measured) in (
        ("status", status.measure(["--ops", ops, "--seconds", seconds])),
        ("auth", auth.measure(["--seconds", seconds])),
        ("content", content.measure(["--records", "1000000" if full else "20000", "--seconds", seconds])),
        ("jobs", jobs.measure(["--eprints", "20000" if full else "5000", "--pdfs", "200" if full else "50"])),
        ("firehose", firehose.measure(["--full"] if full else [])),
        ("ingest", _ingest(full)),
        ("responsiveness", _responsiveness(full)),
    ):
        print(f"[{title}] {name}", flush=True)
        rows += [(f"{title}: {r[0]}", *r[1:]) for r in measured]
    print(table(rows))


if __name__ == "__main__":
    main()
