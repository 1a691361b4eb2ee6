"""The package import graph of ``src/chive_admin``, checked against the layering rules of DESIGN.md.

    python scripts/check_imports.py          # prints each violation; exit 1 if there is one

A node is a subpackage (``store``, ``upstream``…) or a top-level module (``settings``, ``clock``…). Every import
counts, ``TYPE_CHECKING`` ones included: a cycle that only typing hides is still two packages that need each other.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

PACKAGE = "chive_admin"
SRC = Path(__file__).resolve().parent.parent / "src" / PACKAGE

#: (importer, imported, why) edges that must not exist; a name is a package path (``backfill/jobs``)
FORBIDDEN: tuple[tuple[str, str, str], ...] = (
    ("store", "upstream", "the store holds no network code"),
    ("upstream", "store", "the network layer holds no SQL"),
    ("upstream", "telemetry", "upstream reports through an observer, not telemetry internals"),
    ("repo", "store", "the repository reader runs in a reader process with no database"),
    ("backfill/jobs", "xrpc", "jobs know nothing of the inbound protocol"),
)
#: what generated code may import besides itself
GENERATED_MAY_IMPORT = frozenset({"lex"})


def node_of(module: str) -> str:
    """``chive_admin.store.index`` → ``store``; ``chive_admin.clock`` → ``clock``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else PACKAGE


def module_name(path: Path, src: Path = SRC) -> str:
    rel = path.relative_to(src.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def imports_of(path: Path, src: Path = SRC) -> Iterator[str]:
    """Every ``chive_admin`` module ``path`` imports (``from chive_admin.x import y`` may name module ``x.y``)."""
    own = module_name(path, src).split(".")
    package = own if path.name == "__init__.py" else own[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if base.split(".")[0] != PACKAGE:
                continue
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                yield candidate if _is_module(candidate, src) else base


def _is_module(name: str, src: Path) -> bool:
    rel = Path(*name.split(".")[1:])
    return (src / rel).is_dir() or (src / rel).with_suffix(".py").is_file()


def module_edges(src: Path = SRC) -> set[tuple[str, str]]:
    edges = set()
    for path in src.rglob("*.py"):
        source = module_name(path, src)
        for target in imports_of(path, src):
            if target != source:
                edges.add((source, target))
    return edges


def within(module: str, area: str) -> bool:
    """The module is the package ``area`` (``store``, ``backfill/jobs``) or inside it."""
    prefix = f"{PACKAGE}.{area.replace('/', '.')}"
    return module == prefix or module.startswith(prefix + ".")


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def violations(src: Path = SRC) -> list[str]:
    """One line per forbidden edge and per cycle between packages; empty when the layering holds."""
    edges = module_edges(src)
    problems = []
    graph: dict[str, set[str]] = {}
    for source, target in sorted(edges):
        a, b = node_of(source), node_of(target)
        if a != b and PACKAGE not in (a, b):
            graph.setdefault(a, set()).add(b)
        for importer, imported, why in FORBIDDEN:
            if within(source, importer) and within(target, imported):
                problems.append(f"{source} imports {target}: {why}")
        if a == "_generated" and b not in (a, *GENERATED_MAY_IMPORT):
            problems.append(f"{source} imports {target}: generated code depends on nothing hand-written but lex")
    for component in cycles(graph):
        members = set(component)
        pairs = [
            f"{s} -> {t}"
            for s, t in sorted(edges)
            if node_of(s) in members and node_of(t) in members and node_of(s) != node_of(t)
        ]
        problems.append(f"import cycle between {', '.join(component)}: " + "; ".join(pairs))
    return problems


def main() -> int:
    problems = violations()
    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
