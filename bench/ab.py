"""Before/after A/B of one bench: the same bench code run against another checkout's ``src`` ("before") and this one
("after"), taking turns, each run in a fresh process, and their tables printed side by side.

    python -m bench.ab --before ../base/src [--before-python PY] [--rounds 2] MODULE [ARG ...]

``MODULE`` is a bench with a ``measure(argv)`` (``bench.ingest``, ``bench.status``, …); ``ARG``s are its own. The
sides alternate which goes first in each round, so that a machine growing busier or quieter during the run does not
favour one of them; each figure keeps its ratio to the baseline measured in its own run. A checkout made with
``git worktree add ../base <commit>`` is the usual "before". ``--before-python`` names that checkout's interpreter
when its dependencies differ. It prints; it never asserts.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

Row = tuple[str, str, str, str, str]

_ROOT = Path(__file__).resolve().parent.parent


def child(module: str, argv: list[str]) -> None:
    """Run ``module``'s bench here and print its title and rows as JSON, on the last line."""
    title, rows = importlib.import_module(module).measure(argv)
    print(json.dumps({"title": title, "rows": rows}))


def run_side(python: str, src: Path | None, module: str, argv: list[str]) -> tuple[str, list[Row]]:
    env = dict(os.environ)
    if src is not None:  # first on the path: its chive_admin, not the one installed
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(src), env.get("PYTHONPATH")) if p)
    out = subprocess.run(
        [python, "-m", "bench.ab", "--child", module, *argv],
        env=env,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
        cwd=_ROOT,
    )
    answer = json.loads(out.stdout.strip().splitlines()[-1])
    return str(answer["title"]), [(str(a), str(b), str(c), str(d), str(e)) for a, b, c, d, e in answer["rows"]]


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], sys.argv[3:])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, required=True, help="the other checkout's src directory")
    parser.add_argument("--before-python", default=sys.executable)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("module")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    from bench.backends import side_by_side  # the parent's only: a child imports nothing but its bench

    sides = {"before": (args.before_python, args.before.resolve()), "after": (sys.executable, None)}
    runs: list[tuple[str, list[Row]]] = []
    for round_ in range(1, args.rounds + 1):
        order = ("before", "after") if round_ % 2 else ("after", "before")
        for side in order:
            python, src = sides[side]
            title, rows = run_side(python, src, args.module, args.args)
            print(f"[{side} #{round_}] {title}", flush=True)
            runs.append((f"{side} #{round_}", rows))
    runs.sort(key=lambda run: (not run[0].startswith("before"), run[0]))
    print(side_by_side(runs))


if __name__ == "__main__":
    main()
