"""Writing a generated tree: only changed files are touched, stale files are removed, drift is reported."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Plan:
    created: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: int = 0

    @property
    def drift(self) -> list[str]:
        return sorted(
            [f"new: {p}" for p in self.created]
            + [f"changed: {p}" for p in self.changed]
            + [f"stale: {p}" for p in self.deleted]
        )


def plan(files: dict[str, str], out_dir: Path) -> Plan:
    result = Plan()
    for rel, text in sorted(files.items()):
        target = out_dir / rel
        if not target.exists():
            result.created.append(rel)
        elif target.read_text(encoding="utf-8") != text:
            result.changed.append(rel)
        else:
            result.unchanged += 1
    if out_dir.exists():
        for existing in sorted(out_dir.rglob("*")):
            if existing.is_file() and "__pycache__" not in existing.parts:
                rel = existing.relative_to(out_dir).as_posix()
                if rel not in files:
                    result.deleted.append(rel)
    return result


def apply(files: dict[str, str], out_dir: Path, the_plan: Plan) -> None:
    for rel in [*the_plan.created, *the_plan.changed]:
        target = out_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(files[rel], encoding="utf-8")
        tmp.replace(target)
    for rel in the_plan.deleted:
        (out_dir / rel).unlink()
    # directories left empty by deletions would otherwise linger as phantom packages
    for directory in sorted((p for p in out_dir.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        remaining = [c for c in directory.iterdir() if c.name != "__pycache__"]
        if not remaining:
            for cache in directory.glob("__pycache__"):
                for f in cache.iterdir():
                    f.unlink()
                cache.rmdir()
            directory.rmdir()
