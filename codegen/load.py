"""Loading lexicon files, with errors that name the file and the JSON path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from atproto_lexicon.parser import lexicon_parse
from pydantic import ValidationError

from codegen.schema import LexiconDoc, LexiconSet, LoadedLexicon


class LexiconLoadError(Exception):
    """One or more lexicon files are not valid Lexicon; ``problems`` lists ``file: json.path: message``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _json_path(loc: tuple[int | str, ...], data: Any) -> str:
    """The JSON path of a pydantic error location in ``data``.

    pydantic puts the tag of each discriminated union into ``loc`` (``defs.main.query.parameters``); those are
    not keys of the document, so they are skipped by walking the document alongside.
    """
    out = ""
    node = data
    for part in loc:
        if isinstance(node, list) and isinstance(part, int) and part < len(node):
            out += f"[{part}]"
            node = node[part]
        elif isinstance(node, dict) and part in node:
            out += f".{part}" if out else str(part)
            node = node[part]
        elif not isinstance(node, dict | list):
            out += f".{part}" if out else str(part)
        elif isinstance(node, dict) and not (isinstance(node.get("type"), str) and node["type"] == part):
            out += f".{part}" if out else str(part)  # a key the document lacks (missing/extra): name it
    return out or "<root>"


# Keys outside the Lexicon spec that Chive's own record lexicons use. Both are dropped on purpose, each for a
# reason, and nothing else is tolerated:
# - `pattern` on a string (actor.profile#orcid): no Lexicon implementation enforces it, so the network holds
#   records that break it; refusing them would make our index stricter than Chive's AppView.
# - `default` on a ref (eprint.submission#publicationStatusSlug): a ref has no default in the spec, and a
#   default is a writer's concern, not a reader's.
_TOLERATED = {("string", "pattern"), ("ref", "default")}


def strip_tolerated(node: Any, json_path: str, notes: list[str]) -> Any:
    """A copy of ``node`` without the tolerated non-spec keys; each removal is noted with its JSON path."""
    if isinstance(node, list):
        return [strip_tolerated(v, f"{json_path}[{i}]", notes) for i, v in enumerate(node)]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if isinstance(node.get("type"), str) and (node["type"], key) in _TOLERATED:
            notes.append(f"{json_path}.{key}: non-spec key on a {node['type']} ignored")
            continue
        out[key] = strip_tolerated(value, f"{json_path}.{key}" if json_path else key, notes)
    return out


def parse_document(data: Any, path: Path, notes: list[str] | None = None) -> tuple[LoadedLexicon | None, list[str]]:
    if not isinstance(data, dict):
        return None, [f"{path}: <root>: a lexicon document must be a JSON object"]
    file_notes: list[str] = []
    data = strip_tolerated(data, "", file_notes)
    if notes is not None:
        notes.extend(f"{path}: {note}" for note in file_notes)
    try:
        doc: LexiconDoc = lexicon_parse(data)
    except ValidationError as exc:
        return None, [f"{path}: {_json_path(err['loc'], data)}: {err['msg']}" for err in exc.errors()]
    expected = ".".join(path.with_suffix("").parts)
    if doc.id != expected:
        return None, [f"{path}: id: {doc.id!r} does not match its file path (expected {expected!r})"]
    return LoadedLexicon(path=path, doc=doc), []


def load_dir(root: Path, notes: list[str] | None = None) -> LexiconSet:
    """Load every ``*.json`` under ``root``; all problems are collected before failing."""
    problems: list[str] = []
    lexset = LexiconSet()
    for file in sorted(root.rglob("*.json")):
        rel = file.relative_to(root)
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            problems.append(f"{rel}: <root>: not valid JSON: {exc}")
            continue
        loaded, errs = parse_document(data, rel, notes)
        problems.extend(errs)
        if loaded is None:
            continue
        if loaded.doc.id in lexset.lexicons:
            problems.append(f"{rel}: id: {loaded.doc.id!r} is defined twice")
            continue
        lexset.lexicons[loaded.doc.id] = loaded
    if not lexset.lexicons and not problems:
        problems.append(f"{root}: no lexicon files found")
    if problems:
        raise LexiconLoadError(problems)
    return lexset
