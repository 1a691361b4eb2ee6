"""Profile the ingesting jobs against the real testnet: the same workloads as ``bench.ingest``, set up once, each
timed a few times beside its raw baseline and then run once under pyinstrument (``pip install pyinstrument``).

    python -m bench.profile_ingest [--repeat N] [--out DIR] [--only scan|many|sync] [--against SRC] [--rtt-ms MS]

Writes ``<out>/<workload>.txt`` (pyinstrument's text tree, async-aware) and prints the timings. With ``--against``
(another checkout's ``src``), every timed run happens in a child process, alternating between that code and this
one, so both see the same testnet and the same machine load (a shared CI box is noisy); ``--against-python`` names
that checkout's interpreter, so dependency changes are compared too. ``--rtt-ms`` puts both scans (and their raw
baselines) behind :mod:`bench.latency_relay`, and the did-sync too, its calls to the PDS routed through the relay
in the timed children (:func:`bench.ingest.routed`). It never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from bench.ingest import comment, latency_relay, raw_export, raw_listing, raw_listing_connections, routed, timed_op
from chive_admin._generated import ids
from chive_admin.settings import DEFAULT_UPSTREAM_CONCURRENCY, Settings
from chive_admin.store.target import parse_target
from testnet import records
from testnet.harness import Testnet, locate_install
from testnet.pds_client import PdsClient

Op = Callable[[Settings], Coroutine[Any, Any, tuple[float, dict[str, Any]]]]


def run_profiled(out: Path, name: str, coro: Coroutine[Any, Any, tuple[float, dict[str, Any]]]) -> float:
    from pyinstrument import Profiler  # optional: only this tool needs it

    profiler = Profiler(interval=0.0005, async_mode="enabled")
    profiler.start()
    try:
        seconds, _ = asyncio.run(coro)
    finally:
        profiler.stop()
    (out / f"{name}.txt").write_text(profiler.output_text(unicode=False, color=False, show_all=False))
    return seconds


def child(spec: dict[str, Any]) -> None:
    """One timed op in this process (``--child``): prints its seconds, status and peak RSS (bytes) as JSON."""
    settings = Settings(db=parse_target(spec["db"]), plc_url=spec["plc"], allow_private_network=True)
    with routed({int(port): origin for port, origin in spec.get("routes", {}).items()}):
        seconds, op = asyncio.run(timed_op(settings, spec["nsid"], spec["body"]))
    answer = {"seconds": seconds, "status": op["status"], "records": op.get("recordsProcessed"), "peak": peak_rss()}
    print(json.dumps(answer))


def peak_rss() -> int:
    """This process's peak resident set (bytes), since it exec'd.

    Not ``getrusage``'s ``ru_maxrss``: Linux carries it across exec, so a child reports at least what its parent held
    when it forked. The bench's parent has run scans by then, and ``ru_maxrss`` said 146-159 MB for a server whose
    own peak (``VmHWM``, and RSS sampled every 2 ms) was 102 MB.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # elsewhere, the best there is (KiB on Linux)


def in_child(python: str, src: Path | None, spec: dict[str, Any]) -> tuple[float, str]:
    answer = child_answer(python, src, spec)
    return float(answer["seconds"]), str(answer["status"])


def child_answer(python: str, src: Path | None, spec: dict[str, Any]) -> dict[str, Any]:
    """What :func:`child` printed, run by ``python`` with ``src`` first on its path (this checkout's by default)."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    out = subprocess.run(
        [python, "-m", "bench.profile_ingest", "--child", json.dumps(spec)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    answer: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("profile-out"))
    parser.add_argument("--only", choices=("scan", "many", "sync"), action="append")
    parser.add_argument("--against", type=Path, help="another checkout's src directory to time alternately")
    parser.add_argument(
        "--against-python", default=sys.executable, help="the interpreter (venv) the --against runs use"
    )
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--rtt-ms", type=float, default=0.0)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    wanted = set(args.only or ("scan", "many", "sync"))
    with tempfile.TemporaryDirectory() as tmp_name, Testnet(locate_install()) as net, contextlib.ExitStack() as stack:
        tmp = Path(tmp_name)
        one_url, many_url = net.pds_url, net.pds2_url
        # the ops name the PDSes themselves (a scan writes only what a DID document's own PDS says); with a latency,
        # their calls are routed through the relays, and the raw baselines fetch through them
        routes: dict[int, str] = {}
        if args.rtt_ms > 0:
            one_url = stack.enter_context(latency_relay(net.pds_url, args.rtt_ms))
            many_url = stack.enter_context(latency_relay(net.pds2_url, args.rtt_ms))
            routes = {urlsplit(net.pds_url).port or 0: one_url, urlsplit(net.pds2_url).port or 0: many_url}
        pds = PdsClient(net.pds_url, admin_password=net.info.admin_password, handle_domain=net.info.handle_domain)
        pds2 = PdsClient(net.pds2_url, admin_password=net.info.admin_password, handle_domain=net.info.handle_domain)
        big = pds.create_account(prefix="benchbig")
        pds.bulk_create(big, records.COMMENT, 5000, factory=comment)
        many = []
        if "many" in wanted:
            many = [pds2.create_account(prefix=f"bench{i}") for i in range(50)]
            for account in many:
                pds2.bulk_create(account, records.COMMENT, 100, factory=comment)
        workloads: dict[str, tuple[Callable[[], float], str, dict[str, Any]]] = {
            "scan": (
                lambda: raw_listing(one_url, [big.did]),
                ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN,
                {"pdsUrl": net.pds_url},
            ),
            "many": (
                lambda: raw_listing_connections(many_url, [a.did for a in many], DEFAULT_UPSTREAM_CONCURRENCY),
                ids.PUB_CHIVE_ADMIN_TRIGGER_PDS_SCAN,
                {"pdsUrl": net.pds2_url},
            ),
            "sync": (
                lambda: raw_export(one_url, big.did),
                ids.PUB_CHIVE_ADMIN_TRIGGER_DID_SYNC,
                {"did": big.did},
            ),
        }
        run = 0
        for name, (raw, nsid, body) in workloads.items():
            if name not in wanted:
                continue
            raws: list[float] = []
            timings: dict[str, list[float]] = {"ours": [], "against": []}
            statuses: set[str] = set()
            for _ in range(args.repeat):
                raws.append(raw())
                for who in ("against", "ours") if args.against else ("ours",):
                    run += 1
                    spec = {"db": str(tmp / f"{name}{run}.db"), "plc": net.plc_url, "nsid": nsid, "body": body}
                    spec["routes"] = {str(port): origin for port, origin in routes.items()}
                    if args.against:
                        if who == "against":
                            seconds, status = in_child(args.against_python, args.against, spec)
                        else:
                            seconds, status = in_child(sys.executable, None, spec)
                    else:
                        settings = Settings(db=Path(spec["db"]), plc_url=net.plc_url, allow_private_network=True)
                        with routed(routes):
                            seconds, op = asyncio.run(timed_op(settings, nsid, body))
                        status = op["status"]
                    timings[who].append(seconds)
                    statuses.add(status)
            raw_median = statistics.median(raws)
            line = [f"{name}: raw median {raw_median:.3f} s"]
            for who, values in timings.items():
                if values:
                    median = statistics.median(values)
                    shown = [round(v, 3) for v in values]
                    line.append(f"{who} median {median:.3f} s {shown} ({raw_median / median:.0%} of raw)")
            if not args.no_profile:
                run += 1
                settings = Settings(db=tmp / f"{name}{run}.db", plc_url=net.plc_url, allow_private_network=True)
                with routed(routes):
                    line.append(f"profiled {run_profiled(args.out, name, timed_op(settings, nsid, body)):.3f} s")
            print("; ".join(line) + f"; status {sorted(statuses)}", flush=True)
        pds.close()
        pds2.close()


if __name__ == "__main__":
    main()
