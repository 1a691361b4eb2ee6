"""Profile the ingesting jobs against the real testnet: the same workloads as ``bench.ingest``, set up once, each
timed a few times beside its raw baseline and then run once under pyinstrument (``pip install pyinstrument``).

    python -m bench.profile_ingest [--repeat N] [--out DIR] [--only scan|many|sync]

Writes ``<out>/<workload>.txt`` (pyinstrument's text tree, async-aware) and prints the timings. It never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from interop import records
from interop.pds_client import PdsClient
from interop.testnet_harness import Testnet, locate_install

from bench.ingest import comment, raw_export, raw_listing, settings_for, timed_op
from chive_admin._generated import ids


def run_profiled(out: Path, name: str, coro: Any) -> tuple[float, dict[str, Any]]:
    from pyinstrument import Profiler  # optional: only this tool needs it

    profiler = Profiler(interval=0.0005, async_mode="enabled")
    profiler.start()
    try:
        result: tuple[float, dict[str, Any]] = asyncio.run(coro)
    finally:
        profiler.stop()
    (out / f"{name}.txt").write_text(profiler.output_text(unicode=False, color=False, show_all=False))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("profile-out"))
    parser.add_argument("--only", choices=("scan", "many", "sync"), action="append")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    wanted = set(args.only or ("scan", "many", "sync"))
    with tempfile.TemporaryDirectory() as tmp_name, Testnet(locate_install()) as net:
        tmp = Path(tmp_name)
        pds = PdsClient(net.pds_url, admin_password=net.info.admin_password, handle_domain=net.info.handle_domain)
        pds2 = PdsClient(net.pds2_url, admin_password=net.info.admin_password, handle_domain=net.info.handle_domain)
        big = pds.create_account(prefix="benchbig")
        pds.bulk_create(big, records.COMMENT, 5000, factory=comment)
        many = []
        if "many" in wanted:
            many = [pds2.create_account(prefix=f"bench{i}") for i in range(50)]
            for account in many:
                pds2.bulk_create(account, records.COMMENT, 100, factory=comment)
        workloads: dict[str, tuple[Any, Any]] = {
            "scan": (
                lambda: raw_listing(net.pds_url, [big.did]),
                lambda s: timed_op(s, ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN, {"pdsUrl": net.pds_url}),
            ),
            "many": (
                lambda: raw_listing(net.pds2_url, [a.did for a in many]),
                lambda s: timed_op(s, ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN, {"pdsUrl": net.pds2_url}),
            ),
            "sync": (
                lambda: raw_export(net.pds_url, big.did),
                lambda s: timed_op(s, ids.PUB_CHIVE_ADMIN_TRIGGER_DID_SYNC, {"did": big.did}),
            ),
        }
        run = 0
        for name, (raw, op) in workloads.items():
            if name not in wanted:
                continue
            raws, ours = [], []
            for _ in range(args.repeat):
                raws.append(raw())
                run += 1
                seconds, result = asyncio.run(op(settings_for(tmp, net, f"{name}{run}")))
                ours.append(seconds)
                status = result["status"]
            run += 1
            profiled, _ = run_profiled(args.out, name, op(settings_for(tmp, net, f"{name}{run}")))
            ratio = statistics.median(raws) / statistics.median(ours)
            print(
                f"{name}: ours median {statistics.median(ours):.3f} s {[round(s, 3) for s in ours]}, "
                f"raw median {statistics.median(raws):.3f} s, ratio {ratio:.0%}, status {status}, "
                f"profiled {profiled:.3f} s"
            )
        pds.close()
        pds2.close()


if __name__ == "__main__":
    main()
