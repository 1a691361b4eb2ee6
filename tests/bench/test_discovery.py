"""The network backfill bench, at a size that runs in seconds: its simulated network is answered whole (every DID
found, the ones with records fetched) and every figure is reported."""

from __future__ import annotations

from bench import discovery


def test_a_small_simulated_network_is_backfilled_whole() -> None:
    small = ["--dids", "3000", "--with-records", "60", "--hosts", "4"]
    instant = ["--latency-ms", "0", "--relay-latency-ms", "0", "--plc-latency-ms", "0"]
    title, rows = discovery.measure([*small, *instant])
    figures = {row[0]: row[1:] for row in rows}
    assert title.startswith("network backfill: 3,000 DIDs, 60 with records, 4 hosts")
    assert figures["status"] == ["completed", "3000 repos, 60 records"]
    assert "'resolved': 60" in figures["resolution"][1]
    assert "'stale_not_found': 2940" in figures["resolution"][1]
    assert figures["largest checkpoint"][0].endswith(" B")
    assert set(figures) >= {"discovery", "fetching", "peak RSS", "peak RSS by stage", "database", "projected (network)"}
