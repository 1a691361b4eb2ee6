"""``python -m codegen [--check]``: regenerate ``src/chive_admin/_generated`` from ``lexicons/``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from codegen.emit_catalog import emit_package
from codegen.emit_models import EmitError, emit_models
from codegen.load import LexiconLoadError, load_dir
from codegen.policy import NoPolicyError
from codegen.schema import UnresolvedRefError
from codegen.write import apply, plan

ROOT = Path(__file__).resolve().parent.parent


def generate(lexicons: Path) -> dict[str, str]:
    lexset = load_dir(lexicons)
    return {**emit_models(lexset), **emit_package(lexset)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codegen", description=__doc__)
    parser.add_argument("--lexicons", type=Path, default=ROOT / "lexicons", help="lexicon root (default: %(default)s)")
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "src" / "chive_admin" / "_generated",
        help="output package directory",
    )
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if the output is not up to date")
    args = parser.parse_args(argv)
    try:
        files = generate(args.lexicons)
    except LexiconLoadError as exc:
        print("codegen: invalid lexicons:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    except (EmitError, UnresolvedRefError, NoPolicyError, ValueError) as exc:
        print(f"codegen: {exc}", file=sys.stderr)
        return 2
    the_plan = plan(files, args.out)
    if args.check:
        if the_plan.drift:
            print(
                f"codegen: {args.out} is out of date with {args.lexicons}; run `python -m codegen`:",
                file=sys.stderr,
            )
            for line in the_plan.drift:
                print(f"  {line}", file=sys.stderr)
            return 1
        print(f"codegen: up to date ({len(files)} files)")
        return 0
    apply(files, args.out, the_plan)
    print(
        f"codegen: {len(files)} files: {len(the_plan.created)} new, {len(the_plan.changed)} changed, "
        f"{len(the_plan.deleted)} deleted, {the_plan.unchanged} unchanged"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
