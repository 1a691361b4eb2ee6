"""``python -m bench``: every benchmark, one table (figure, ours, baseline measured in the same run, ratio, goal).

    python -m bench            # the CI-sized run (a few seconds per figure)
    python -m bench --full     # longer runs: 100k stored operations, 1M indexed records for the content reads,
                               # the peak RSS of a 105k-record pds-scan, 50k firehose commits,
                               # getBackfillStatus latency during a 100k-record did-sync and a 20k pds-scan,
                               # the index size of 20k small and 10k large records

It prints; it never asserts. The ingest, responsiveness and storage rows start the Node testnet
(scripts/install-testnet.sh installs it); without it they are left out, and the table says so.
"""

from __future__ import annotations

import sys

from bench import auth, content, firehose, ingest, jobs, responsiveness, status, storage
from bench.backends import Measure
from bench.harness import Row, table


def _on_testnet(measure: Measure, argv: list[str], what: str) -> tuple[str, list[Row]]:
    """``measure(argv)``, or a row saying why it was left out when the testnet is not installed."""
    from testnet.harness import TestnetUnavailable, locate_install

    try:
        locate_install()
    except TestnetUnavailable as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unavailable"
        return f"{what}: left out", [("(testnet unavailable)", first[:60], "", "", "")]
    return measure(argv)


def main() -> None:
    if {"-h", "--help"} & set(sys.argv[1:]):
        print(__doc__)
        return
    full = "--full" in sys.argv[1:]
    large = ["--full"] if full else []
    seconds = "8" if full else "3"
    ops = "100000" if full else "20000"
    rows: list[Row] = []
    for title, (name, measured) in (
        ("status", status.measure(["--ops", ops, "--seconds", seconds])),
        ("auth", auth.measure(["--seconds", seconds])),
        ("content", content.measure(["--records", "1000000" if full else "20000", "--seconds", seconds])),
        ("jobs", jobs.measure(["--eprints", "20000" if full else "5000", "--pdfs", "200" if full else "50"])),
        ("firehose", firehose.measure(large)),
        # the PDS 40 ms away is the realistic case for ingest; the loopback rows come first in the same run
        ("ingest", _on_testnet(ingest.measure, [*large, "--rtt-ms", "40"], "ingest against the testnet")),
        ("responsiveness", _on_testnet(responsiveness.measure, large, "responsiveness under ingest")),
        ("storage", _on_testnet(storage.measure, large, "index size against the records' JSON")),
    ):
        print(f"[{title}] {name}", flush=True)
        rows += [(f"{title}: {r[0]}", *r[1:]) for r in measured]
    print(table(rows))


if __name__ == "__main__":
    main()
