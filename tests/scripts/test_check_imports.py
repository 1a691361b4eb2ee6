"""The layering check (``scripts/check_imports.py``): the package holds, and the check sees what it must refuse."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_imports.py"


@pytest.fixture(scope="module")
def check() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_imports", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_imports"] = module
    spec.loader.exec_module(module)
    return module


def tree(root: Path, files: dict[str, str]) -> Path:
    src = root / "chive_admin"
    for name, text in {"__init__.py": "", **files}.items():
        path = src / name
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.relative_to(src).parents:
            (src / parent / "__init__.py").touch()
        path.write_text(text)
    return src


def test_the_package_has_no_cycle_and_no_forbidden_edge(check: ModuleType) -> None:
    assert check.violations() == []


def test_a_cycle_between_two_packages_is_found(check: ModuleType, tmp_path: Path) -> None:
    src = tree(
        tmp_path,
        {
            "auth/policy.py": "from chive_admin.xrpc.errors import XRPCError\n",
            "xrpc/errors.py": "class XRPCError(Exception): ...\n",
            "xrpc/pipeline.py": "from chive_admin.auth import policy\n",
        },
    )
    [problem] = check.violations(src)
    assert problem.startswith("import cycle between auth, xrpc:")
    assert "chive_admin.xrpc.pipeline -> chive_admin.auth.policy" in problem


def test_a_cycle_hidden_behind_type_checking_still_counts(check: ModuleType, tmp_path: Path) -> None:
    src = tree(
        tmp_path,
        {
            "backfill/job.py": "if TYPE_CHECKING:\n    from chive_admin.server import app\n",
            "server/app.py": "from chive_admin.backfill.job import Job\n",
        },
    )
    assert [p.split(":")[0] for p in check.violations(src)] == ["import cycle between backfill, server"]


@pytest.mark.parametrize(
    ("importer", "imported", "why"),
    [
        ("store/index.py", "upstream/calls.py", "no network code"),
        ("upstream/calls.py", "store/db.py", "no SQL"),
        ("upstream/calls.py", "telemetry/metrics.py", "observer"),
        ("repo/rows.py", "store/index.py", "reader process"),
        ("backfill/jobs/scan.py", "xrpc/errors.py", "inbound protocol"),
        ("_generated/catalog.py", "auth/policy.py", "generated code"),
    ],
)
def test_a_forbidden_edge_is_named(check: ModuleType, tmp_path: Path, importer: str, imported: str, why: str) -> None:
    target = "chive_admin." + imported.removesuffix(".py").replace("/", ".")
    src = tree(tmp_path, {importer: f"import {target}\n", imported: ""})
    problems = check.violations(src)
    assert len(problems) == 1
    assert why in problems[0]
    assert target in problems[0]


def test_relative_imports_and_parent_imports_resolve_to_modules(check: ModuleType, tmp_path: Path) -> None:
    src = tree(
        tmp_path,
        {
            "store/index.py": "from . import db\nfrom .. import clock\n",
            "store/db.py": "",
            "clock.py": "",
            "lex/base.py": "from chive_admin.store import index\n",
        },
    )
    assert check.module_edges(src) == {
        ("chive_admin.store.index", "chive_admin.store.db"),
        ("chive_admin.store.index", "chive_admin.clock"),
        ("chive_admin.lex.base", "chive_admin.store.index"),
    }
