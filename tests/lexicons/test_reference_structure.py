"""Our lexicons must keep the structure of Chive's reference lexicons.

Compares ``<repo>/lexicons`` with ``<repo>/../shared/reference/chive-lexicons`` (Chive's lexicons, MIT;
``CHIVE_REFERENCE_LEXICONS`` overrides the path). Every reference lexicon whose id starts with
``pub.chive.admin.``, and every ``pub.chive.*`` record lexicon, must exist in ours under the same id; any other
reference lexicon is compared only when we ship one with that id. (The ``com.atproto.sync.*`` methods we call on
PDSes are atproto's, not Chive's: the reference has no copy to compare with.)

The lexicons are Chive's contract with its clients: a client holding Chive's lexicons rejects a whole answer when
one required field is missing or has another type. So ours have the same ids, defs, types, properties,
``required``, ``knownValues``, formats, min/max and errors as the reference, and differ only by:

* ``description`` texts (ignored by the structural comparison; a separate test checks they are our own words);
* extra *optional* properties in the ``properties`` of an ``object`` (never listed in ``required``);
* extra ``knownValues`` appended after the reference's values (which stay first, in their order).

Nothing else, and no exceptions: a property is never removed or retyped, a ``required`` entry never dropped.
The additions themselves are listed below (each with its reason) so that adding one is a reviewed change; the list
cannot make any other difference pass.

Without the reference the comparisons skip, except under CI (``CI=true``), where they fail.

Difference messages read ``<file>: <json path>: <ours> != <reference>``.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from atproto_lexicon.parser import lexicon_parse
from support.reference import reference_lexicons

from codegen.load import strip_tolerated
from testnet.harness import REFERENCE_LEXICONS

REPO_ROOT = Path(__file__).resolve().parents[2]
OURS_DIR = REPO_ROOT / "lexicons"
REFERENCE_DIR = REFERENCE_LEXICONS

ADMIN_PREFIX = "pub.chive.admin."
RECORD_PREFIX = "pub.chive."
# Descriptions shorter than this may equal the reference's (e.g. "Handle" has few other wordings).
SHORT_DESCRIPTION = 25
# Keys whose value maps names (of defs / of properties) to schemas, rather than being a schema itself.
NAME_MAPS = ("defs", "properties")

# Keys outside the Lexicon spec that two Chive record lexicons use. We keep them (structure identical to the
# reference); codegen drops them on purpose (codegen/load.py, strip_tolerated). Exactly these, nowhere else.
TOLERATED_NON_SPEC = frozenset(
    {
        ("pub/chive/actor/profile.json", "defs.main.record.properties.orcid.pattern"),
        ("pub/chive/eprint/submission.json", "defs.main.record.properties.publicationStatusSlug.default"),
    }
)

# --- the additions (each reviewed; none may be required) ----------------------------------------------------

BACKFILL_OP_FILES = (
    "pub.chive.admin.getBackfillStatus",
    "pub.chive.admin.getBackfillHistory",
    "pub.chive.admin.triggerBackfill",
)
BACKFILL_OP_PROPERTIES = "defs.backfillOperation.properties"
# Our optional extensions of backfillOperation, in order, with their schema (description aside).
BACKFILL_OP_EXTENSIONS: dict[str, dict[str, Any]] = {
    "stage": {"type": "string"},
    "params": {"type": "unknown"},
    "totalRepos": {"type": "integer", "minimum": 0},
    "processedRepos": {"type": "integer", "minimum": 0},
    "recordsFailed": {"type": "integer", "minimum": 0},
    "errorCode": {"type": "string"},
    "errorContext": {"type": "unknown"},
    "updatedAt": {"type": "string", "format": "datetime"},
    "etaSeconds": {"type": "integer", "minimum": 0},
    "attempts": {"type": "integer", "minimum": 0},
    "counts": {"type": "unknown"},
}
# triggerBackfill's copy of backfillOperation lacks these fields of getBackfillStatus's copy; we add them.
TRIGGER_OP_FILL_IN = ("completedAt", "totalRecords", "error", "startedBy")
EXTRA_STATUSES = ("queued", "cancelling", "partial")
# Other optional properties we add, each for a reason: (lexicon id, path of the properties map) -> names in order.
OTHER_ADDITIONS: dict[tuple[str, str], tuple[str, ...]] = {
    # real SQLite health: file and WAL size, free disk, migration level, the last integrity quick-check
    ("pub.chive.admin.getSystemHealth", "defs.databaseHealth.properties"): (
        "sizeBytes",
        "walBytes",
        "diskFreeBytes",
        "schemaVersion",
        "integrity",
        "integrityCheckedAt",
        "integrityCheckMs",
    ),
    # the reference takes a cursor but never returns one, so a client could not page past the first page
    ("pub.chive.admin.getAuditLog", "defs.main.output.schema.properties"): ("cursor",),
    # why a PDS is unhealthy, not just that it is
    ("pub.chive.admin.listPDSes", "defs.pdsInfo.properties"): ("lastError",),
    # the graph's shape, not just its size
    ("pub.chive.admin.getGraphStats", "defs.main.output.schema.properties"): ("nodesByKind", "edgesByRelation"),
    # the record a violation concerns, who recorded it and who resolved it (the local moderation record keeps them)
    ("pub.chive.admin.listViolations", "defs.violation.properties"): ("subjectUri", "recordedBy", "resolvedBy"),
    # Chive's cursor is a decimal offset the client had to compute; the next page's cursor is returned (a position)
    ("pub.chive.admin.listReviews", "defs.main.output.schema.properties"): ("cursor",),
    ("pub.chive.admin.listEndorsements", "defs.main.output.schema.properties"): ("cursor",),
    # what each firehose source is doing (connection, cursor, lag, rate), and why the server is degraded
    ("pub.chive.admin.getFirehoseStatus", "defs.main.output.schema.properties"): ("sources",),
    ("pub.chive.admin.getSystemHealth", "defs.main.output.schema.properties"): ("firehose",),
    # a network backfill (pdsScan without pdsUrl) limited to one collection, or to a trial number of repositories
    ("pub.chive.admin.triggerBackfill", "defs.main.input.schema.properties"): ("collection", "limit"),
}
# Definitions we add, each the item type of an optional property added above (a client that does not know the
# property never meets it): lexicon id -> names in order.
ADDED_DEFS: dict[str, tuple[str, ...]] = {
    "pub.chive.admin.getFirehoseStatus": ("source",),
    "pub.chive.admin.getSystemHealth": ("firehoseSource",),
}
# Properties the reference requires that we make optional, each for a reason: (lexicon id, path) -> ours.
RELAXED_REQUIRED: dict[tuple[str, str], list[str]] = {
    # refused calls are audited too, and a call refused before any identity was verified has no actor
    ("pub.chive.admin.getAuditLog", "defs.auditEntry.required"): ["id", "action", "timestamp"],
}
BACKFILL_TYPES = (
    "pds-scan",
    "freshness-scan",
    "citation-extraction",
    "full-reindex",
    "governance-sync",
    "did-sync",
)


@dataclass(frozen=True)
class Addition:
    """Something present in ours and absent from the reference, at ``path`` (a ``properties`` or
    ``knownValues`` key)."""

    path: str
    kind: str  # "property", "def" or "knownValues"
    names: tuple[str, ...]


def expected_additions() -> dict[tuple[str, str, str], tuple[str, ...]]:
    """(lexicon id, path, kind) -> the names we deliberately add there, in order."""
    status_kv = f"{BACKFILL_OP_PROPERTIES}.status.knownValues"
    expected: dict[tuple[str, str, str], tuple[str, ...]] = {}
    for lex_id in BACKFILL_OP_FILES:
        props = tuple(BACKFILL_OP_EXTENSIONS)
        if lex_id == "pub.chive.admin.triggerBackfill":
            props = TRIGGER_OP_FILL_IN + props
        expected[(lex_id, BACKFILL_OP_PROPERTIES, "property")] = props
        expected[(lex_id, status_kv, "knownValues")] = EXTRA_STATUSES
    expected[
        (
            "pub.chive.admin.getBackfillStatus",
            "defs.main.parameters.properties.status.knownValues",
            "knownValues",
        )
    ] = EXTRA_STATUSES
    expected[("pub.chive.admin.triggerBackfill", f"{BACKFILL_OP_PROPERTIES}.type.knownValues", "knownValues")] = (
        BACKFILL_TYPES
    )
    for (lex_id, path), names in OTHER_ADDITIONS.items():
        expected[(lex_id, path, "property")] = names
    # the role of a front end that records views and downloads (pub.chive.metrics.record*) and may do nothing else
    for lex_id in ("pub.chive.admin.assignRole", "pub.chive.admin.revokeRole"):
        expected[(lex_id, "defs.main.input.schema.properties.role.knownValues", "knownValues")] = ("metrics-writer",)
    for lex_id, defs in ADDED_DEFS.items():
        expected[(lex_id, "defs", "def")] = defs
    return expected


# --- the comparison -----------------------------------------------------------------------------------------


@dataclass
class Comparison:
    differences: list[str] = field(default_factory=list)
    additions: list[Addition] = field(default_factory=list)


def compare_lexicon(ours: Any, reference: Any) -> Comparison:
    """Compare two lexicon documents; collect every structural difference (not just the first) and every
    allowed addition. Messages are ``<json path>: <ours> != <reference>`` or say what is missing/extra."""
    result = Comparison()
    _compare(ours, reference, "", result)
    return result


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _brief(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _kind(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer"}.get(
        type(value), type(value).__name__
    )


def _compare(ours: Any, ref: Any, path: str, result: Comparison) -> None:
    where = path or "<root>"
    if isinstance(ref, dict):
        if not isinstance(ours, dict):
            result.differences.append(f"{where}: JSON {_kind(ours)} != JSON object")
            return
        _compare_schema_node(ours, ref, path, result)
    elif isinstance(ref, list):
        if not isinstance(ours, list):
            result.differences.append(f"{where}: JSON {_kind(ours)} != JSON array")
            return
        if all(not isinstance(v, (dict, list)) for v in [*ref, *ours]):
            if ours != ref or [type(v) for v in ours] != [type(v) for v in ref]:
                result.differences.append(f"{where}: {_brief(ours)} != {_brief(ref)}")
            return
        for i, (o, r) in enumerate(zip(ours, ref, strict=False)):
            _compare(o, r, f"{path}[{i}]", result)
        for i in range(len(ref), len(ours)):
            result.differences.append(f"{path}[{i}]: unexpected item {_brief(ours[i])} (not in the reference)")
        for i in range(len(ours), len(ref)):
            result.differences.append(f"{path}[{i}]: missing item (reference has {_brief(ref[i])})")
    elif type(ours) is not type(ref) or ours != ref:
        result.differences.append(f"{where}: {_brief(ours)} != {_brief(ref)}")


def _compare_schema_node(ours: dict[str, Any], ref: dict[str, Any], path: str, result: Comparison) -> None:
    if "description" in ours and not isinstance(ours["description"], str):
        result.differences.append(f"{_join(path, 'description')}: must be a string, got {_brief(ours['description'])}")
    ref_keys = [k for k in ref if k != "description"]
    our_keys = [k for k in ours if k != "description"]
    for key in ref_keys:
        sub = _join(path, key)
        if key not in ours:
            result.differences.append(f"{sub}: missing (reference has {_brief(ref[key])})")
        elif key in NAME_MAPS and isinstance(ref[key], dict):
            is_object = ref.get("type") == "object" and ours.get("type") == "object"
            allow_additions = (key == "properties" and is_object) or (key == "defs" and not path)
            required = ours.get("required") if allow_additions else None
            _compare_names(ours[key], ref[key], sub, result, allow_additions, required)
        elif key == "knownValues":
            _compare_known_values(ours[key], ref[key], sub, result)
        else:
            _compare(ours[key], ref[key], sub, result)
    for key in our_keys:
        if key in ref:
            continue
        sub = _join(path, key)
        if key == "knownValues":  # a reference without knownValues is an empty open set: values may be added
            _compare_known_values(ours[key], [], sub, result)
        else:
            result.differences.append(f"{sub}: unexpected key, value {_brief(ours[key])} (not in the reference)")
    common_ours = [k for k in our_keys if k in ref]
    common_ref = [k for k in ref_keys if k in ours]
    if common_ours != common_ref:
        result.differences.append(f"{path or '<root>'}: key order {common_ours} != {common_ref}")


def _compare_names(
    ours: Any,
    ref: dict[str, Any],
    path: str,
    result: Comparison,
    allow_additions: bool,
    required: Any,
) -> None:
    if not isinstance(ours, dict):
        result.differences.append(f"{path}: JSON {_kind(ours)} != JSON object")
        return
    for name, schema in ref.items():
        if name not in ours:
            result.differences.append(f"{_join(path, name)}: missing (reference has {_brief(schema)})")
        else:
            _compare(ours[name], schema, _join(path, name), result)
    extra = tuple(name for name in ours if name not in ref)
    if extra:
        if allow_additions:
            result.additions.append(Addition(path, "def" if path == "defs" else "property", extra))
            required_names = required if isinstance(required, list) else []
            for name in extra:
                if name in required_names:
                    result.differences.append(
                        f"{_join(path, name)}: added property is listed in required (must be optional)"
                    )
        else:
            where = "additions are allowed only in an object's properties"
            for name in extra:
                result.differences.append(f"{_join(path, name)}: unexpected (not in the reference; {where})")
    order_ours = [name for name in ours if name in ref]
    order_ref = [name for name in ref if name in ours]
    if order_ours != order_ref:
        result.differences.append(f"{path}: order {order_ours} != {order_ref}")


def _compare_known_values(ours: Any, ref: list[Any], path: str, result: Comparison) -> None:
    if not isinstance(ours, list) or not all(isinstance(v, str) for v in ours):
        result.differences.append(f"{path}: {_brief(ours)} is not a list of strings")
        return
    if ours[: len(ref)] != ref:
        missing = [v for v in ref if v not in ours]
        detail = f"; removed {missing}" if missing else "; reordered"
        result.differences.append(
            f"{path}: {_brief(ours)} != {_brief(ref)} (reference values must stay first, in order{detail})"
        )
        return
    if len(set(ours)) != len(ours):
        result.differences.append(f"{path}: duplicate values in {_brief(ours)}")
    if len(ours) > len(ref):
        result.additions.append(Addition(path, "knownValues", tuple(ours[len(ref) :])))


def iter_descriptions(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path of the node carrying it, text) for every description. A *property* named ``description`` maps to
    a schema object, never to a string, so it is not mistaken for one."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "description" and isinstance(value, str):
                yield path or "<root>", value
            else:
                yield from iter_descriptions(value, _join(path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from iter_descriptions(value, f"{path}[{i}]")


def strip_descriptions(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: strip_descriptions(v) for k, v in node.items() if not (k == "description" and isinstance(v, str))}
    if isinstance(node, list):
        return [strip_descriptions(v) for v in node]
    return node


def _normalise(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


# --- loading ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LexiconFile:
    relpath: str
    text: str
    doc: dict[str, Any]


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise ValueError(f"duplicate keys {duplicates}")
    return dict(pairs)


def load_tree(root: Path) -> dict[str, LexiconFile]:
    """Lexicon documents under ``root`` by id; other JSON files (such as manifest.json) are skipped."""
    tree: dict[str, LexiconFile] = {}
    for path in sorted(root.rglob("*.json")):
        text = path.read_text(encoding="utf-8")
        try:
            doc = json.loads(text, object_pairs_hook=_no_duplicate_keys)
        except ValueError as exc:
            raise AssertionError(f"{path}: {exc}") from exc
        if not isinstance(doc, dict) or "lexicon" not in doc or not isinstance(doc.get("id"), str):
            continue
        relpath = path.relative_to(root).as_posix()
        if doc["id"] in tree:
            raise AssertionError(f"{relpath}: id {doc['id']} also defined in {tree[doc['id']].relpath}")
        tree[doc["id"]] = LexiconFile(relpath, text, doc)
    return tree


@pytest.fixture(scope="module")
def ours() -> dict[str, LexiconFile]:
    return load_tree(OURS_DIR)


@pytest.fixture(scope="module")
def reference() -> dict[str, LexiconFile]:
    return load_tree(reference_lexicons())


def _shared_ids(ours: dict[str, LexiconFile], reference: dict[str, LexiconFile]) -> list[str]:
    return sorted(set(ours) & set(reference))


# --- tests against the reference ----------------------------------------------------------------------------


def test_every_reference_admin_lexicon_is_ours(ours: dict[str, LexiconFile], reference: dict[str, LexiconFile]) -> None:
    admin_ids = [lex_id for lex_id in reference if lex_id.startswith(ADMIN_PREFIX)]
    assert admin_ids, f"no {ADMIN_PREFIX}* lexicons found under {REFERENCE_DIR}"
    missing = sorted(lex_id for lex_id in admin_ids if lex_id not in ours)
    assert not missing, f"{len(missing)} reference admin lexicons missing from {OURS_DIR}: {missing}"


def test_every_reference_record_lexicon_is_ours(
    ours: dict[str, LexiconFile], reference: dict[str, LexiconFile]
) -> None:
    record_ids = [
        lex_id
        for lex_id, f in reference.items()
        if lex_id.startswith(RECORD_PREFIX) and f.doc["defs"].get("main", {}).get("type") == "record"
    ]
    assert record_ids, f"no {RECORD_PREFIX}* record lexicons found under {REFERENCE_DIR}"
    missing = sorted(lex_id for lex_id in record_ids if lex_id not in ours)
    assert not missing, f"{len(missing)} reference record lexicons missing from {OURS_DIR}: {missing}"


def test_our_files_are_named_after_their_id(ours: dict[str, LexiconFile]) -> None:
    wrong = [
        f"{f.relpath}: id {lex_id} belongs in {lex_id.replace('.', '/')}.json"
        for lex_id, f in sorted(ours.items())
        if f.relpath != lex_id.replace(".", "/") + ".json"
    ]
    assert not wrong, "\n".join(wrong)


def test_structure_matches_reference(ours: dict[str, LexiconFile], reference: dict[str, LexiconFile]) -> None:
    differences: list[str] = []
    for lex_id in _shared_ids(ours, reference):
        comparison = compare_lexicon(ours[lex_id].doc, reference[lex_id].doc)
        differences += [f"{ours[lex_id].relpath}: {d}" for d in comparison.differences]
    assert not differences, f"{len(differences)} structural differences (ours != reference):\n" + "\n".join(differences)


def test_additions_are_exactly_the_reviewed_ones(
    ours: dict[str, LexiconFile], reference: dict[str, LexiconFile]
) -> None:
    actual: dict[tuple[str, str, str], tuple[str, ...]] = {}
    for lex_id in _shared_ids(ours, reference):
        for addition in compare_lexicon(ours[lex_id].doc, reference[lex_id].doc).additions:
            actual[(lex_id, addition.path, addition.kind)] = addition.names
    expected = expected_additions()
    problems = [
        f"{lex_id}: {path}: {kind} additions {actual.get((lex_id, path, kind), ())} != reviewed {names}"
        for (lex_id, path, kind), names in sorted(expected.items())
        if actual.get((lex_id, path, kind)) != names
    ]
    problems += [
        f"{lex_id}: {path}: unreviewed {kind} additions {names}"
        for (lex_id, path, kind), names in sorted(actual.items())
        if (lex_id, path, kind) not in expected
    ]
    assert not problems, "\n".join(problems)


def test_a_required_field_made_optional_is_reported(
    ours: dict[str, LexiconFile], reference: dict[str, LexiconFile]
) -> None:
    """What getAuditLog once did (actorDid dropped from auditEntry's required, to list anonymous refusals) fails here,
    with nothing in this file to let it pass."""
    lex_id = "pub.chive.admin.getAuditLog"
    relaxed = copy.deepcopy(ours[lex_id].doc)
    relaxed["defs"]["auditEntry"]["required"].remove("actorDid")
    differences = compare_lexicon(relaxed, reference[lex_id].doc).differences
    assert differences == [
        "defs.auditEntry.required: ['id', 'action', 'timestamp'] != ['id', 'action', 'actorDid', 'timestamp']"
    ]


def test_descriptions_are_our_own(ours: dict[str, LexiconFile], reference: dict[str, LexiconFile]) -> None:
    problems: list[str] = []
    for lex_id in _shared_ids(ours, reference):
        relpath = ours[lex_id].relpath
        our_descriptions = dict(iter_descriptions(ours[lex_id].doc))
        for path, ref_text in iter_descriptions(reference[lex_id].doc):
            text = our_descriptions.get(path, "")
            if not text.strip():
                problems.append(f"{relpath}: {path}: description missing (reference has one)")
            elif len(ref_text) >= SHORT_DESCRIPTION and _normalise(ref_text) in _normalise(text):
                problems.append(f"{relpath}: {path}: description copies the reference's {ref_text!r}")
    assert not problems, f"{len(problems)} descriptions to rewrite:\n" + "\n".join(problems)


# --- tests of our own files ---------------------------------------------------------------------------------


def test_backfill_operation_extensions(ours: dict[str, LexiconFile]) -> None:
    problems: list[str] = []
    for lex_id in BACKFILL_OP_FILES:
        op = ours[lex_id].doc["defs"]["backfillOperation"]
        required = op.get("required", [])
        for name, schema in BACKFILL_OP_EXTENSIONS.items():
            prop = op["properties"].get(name)
            if prop is None:
                problems.append(f"{lex_id}: {name} missing")
                continue
            if strip_descriptions(prop) != schema:
                problems.append(f"{lex_id}: {name}: {_brief(strip_descriptions(prop))} != {_brief(schema)}")
            if not str(prop.get("description", "")).strip():
                problems.append(f"{lex_id}: {name}: no description")
            if name in required:
                problems.append(f"{lex_id}: {name} must be optional")
    assert not problems, "\n".join(problems)


def test_backfill_operation_copies_agree(ours: dict[str, LexiconFile]) -> None:
    """The three copies carry the same fields with the same schemas. Only the status values may differ:
    Chive's history copy has no ``running``."""

    def shape(lex_id: str) -> dict[str, Any]:
        op = copy.deepcopy(ours[lex_id].doc["defs"]["backfillOperation"])
        op["properties"]["status"].pop("knownValues", None)
        stripped: dict[str, Any] = strip_descriptions(op)
        return stripped

    first, *others = BACKFILL_OP_FILES
    problems: list[str] = []
    for other in others:
        want, got = shape(first), shape(other)
        if list(got["properties"]) != list(want["properties"]):
            problems.append(f"{other}: properties {list(got['properties'])} != {first}: {list(want['properties'])}")
        problems += [
            f"{other}: {key} {_brief(got.get(key))} != {first}: {_brief(want.get(key))}"
            for key in sorted(set(want) | set(got))
            if key != "properties" and got.get(key) != want.get(key)
        ]
        problems += [
            f"{other}: properties.{name} {_brief(got['properties'][name])} != {first}: {_brief(schema)}"
            for name, schema in want["properties"].items()
            if name in got["properties"] and got["properties"][name] != schema
        ]
    assert not problems, "\n".join(problems)


def test_refs_resolve_within_our_tree(ours: dict[str, LexiconFile]) -> None:
    problems: list[str] = []

    def targets(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            if node.get("type") == "ref" and isinstance(node.get("ref"), str):
                yield node["ref"]
            if node.get("type") == "union" and isinstance(node.get("refs"), list):
                yield from node["refs"]
            for value in node.values():
                yield from targets(value)
        elif isinstance(node, list):
            for value in node:
                yield from targets(value)

    for _, f in sorted(ours.items()):
        for target in targets(f.doc):
            nsid, _, def_name = target.partition("#")
            doc = ours[nsid].doc if nsid in ours else (f.doc if nsid == "" else None)
            if doc is None or (def_name or "main") not in doc["defs"]:
                problems.append(f"{f.relpath}: ref {target!r} does not resolve within {OURS_DIR}")
    assert not problems, "\n".join(problems)


def test_files_are_canonically_formatted(ours: dict[str, LexiconFile]) -> None:
    """2-space indent, UTF-8 (no escapes), no BOM, one trailing newline; key order is checked structurally."""
    wrong = [f.relpath for f in ours.values() if f.text != json.dumps(f.doc, indent=2, ensure_ascii=False) + "\n"]
    assert not wrong, f"reformat with json.dumps(doc, indent=2, ensure_ascii=False) + newline: {sorted(wrong)}"


def test_our_lexicons_parse_with_atproto_lexicon(ours: dict[str, LexiconFile]) -> None:
    """Every file is valid Lexicon once the reviewed non-spec keys (TOLERATED_NON_SPEC) are dropped, as codegen
    drops them; any other key outside the spec fails here."""
    failures: list[str] = []
    dropped: set[tuple[str, str]] = set()
    for f in ours.values():
        notes: list[str] = []
        doc = strip_tolerated(f.doc, "", notes)
        dropped |= {(f.relpath, note.partition(":")[0]) for note in notes}
        try:
            lexicon_parse(doc)
        except Exception as exc:  # report every file, not only the first
            failures.append(f"{f.relpath}: {exc}")
    assert not failures, "\n".join(failures)
    assert dropped == TOLERATED_NON_SPEC, (
        f"non-spec keys dropped {sorted(dropped)} != reviewed {sorted(TOLERATED_NON_SPEC)}"
    )


# --- unit tests of compare_lexicon --------------------------------------------------------------------------


def _sample() -> dict[str, Any]:
    return {
        "lexicon": 1,
        "id": "example.sample",
        "defs": {
            "main": {
                "type": "query",
                "description": "Sample query.",
                "parameters": {
                    "type": "params",
                    "properties": {"limit": {"type": "integer", "minimum": 1, "description": "Page size."}},
                },
                "output": {
                    "encoding": "application/json",
                    "schema": {"type": "ref", "ref": "#thing"},
                },
                "errors": [{"name": "AuthenticationRequired"}],
            },
            "thing": {
                "type": "object",
                "description": "A thing.",
                "required": ["id", "state"],
                "properties": {
                    "id": {"type": "string", "description": "Identifier."},
                    "state": {"type": "string", "knownValues": ["on", "off"], "description": "State."},
                    "count": {"type": "integer", "description": "How many."},
                    "description": {"type": "string", "description": "A data field named description."},
                },
            },
        },
    }


def _mutated(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    doc = _sample()
    change(doc)
    return doc


def _thing(doc: dict[str, Any]) -> dict[str, Any]:
    thing: dict[str, Any] = doc["defs"]["thing"]
    return thing


def _retype_count(doc: dict[str, Any]) -> None:
    _thing(doc)["properties"]["count"]["type"] = "string"


def _remove_count(doc: dict[str, Any]) -> None:
    del _thing(doc)["properties"]["count"]


def _change_required(doc: dict[str, Any]) -> None:
    _thing(doc)["required"] = ["id"]


def _remove_known_value(doc: dict[str, Any]) -> None:
    _thing(doc)["properties"]["state"]["knownValues"] = ["on"]


def _reorder_known_values(doc: dict[str, Any]) -> None:
    _thing(doc)["properties"]["state"]["knownValues"] = ["off", "on"]


def _add_required_property(doc: dict[str, Any]) -> None:
    _thing(doc)["properties"]["extra"] = {"type": "string"}
    _thing(doc)["required"].append("extra")


def _add_param(doc: dict[str, Any]) -> None:
    doc["defs"]["main"]["parameters"]["properties"]["extra"] = {"type": "string"}


def _swap_property_order(doc: dict[str, Any]) -> None:
    props = _thing(doc)["properties"]
    _thing(doc)["properties"] = {"state": props["state"], "id": props["id"], **props}


def _remove_description_property(doc: dict[str, Any]) -> None:
    del _thing(doc)["properties"]["description"]


def _add_maximum(doc: dict[str, Any]) -> None:
    doc["defs"]["main"]["parameters"]["properties"]["limit"]["maximum"] = 100


def _bool_for_int(doc: dict[str, Any]) -> None:
    doc["defs"]["main"]["parameters"]["properties"]["limit"]["minimum"] = True


def _rename_error(doc: dict[str, Any]) -> None:
    doc["defs"]["main"]["errors"][0]["name"] = "AuthRequired"


def _add_error(doc: dict[str, Any]) -> None:
    doc["defs"]["main"]["errors"].append({"name": "NotFound"})


def _change_ref(doc: dict[str, Any]) -> None:
    doc["defs"]["main"]["output"]["schema"]["ref"] = "#other"


def _add_def(doc: dict[str, Any]) -> None:
    doc["defs"]["other"] = {"type": "object", "properties": {}}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_retype_count, "defs.thing.properties.count.type: 'string' != 'integer'"),
        (_remove_count, "defs.thing.properties.count: missing"),
        (_change_required, "defs.thing.required: ['id'] != ['id', 'state']"),
        (_remove_known_value, "defs.thing.properties.state.knownValues: ['on'] != ['on', 'off']"),
        (_reorder_known_values, "defs.thing.properties.state.knownValues: ['off', 'on']"),
        (_add_required_property, "defs.thing.properties.extra: added property is listed in required"),
        (_add_param, "defs.main.parameters.properties.extra: unexpected"),
        (_swap_property_order, "defs.thing.properties: order"),
        (_remove_description_property, "defs.thing.properties.description: missing"),
        (_add_maximum, "defs.main.parameters.properties.limit.maximum: unexpected key"),
        (_bool_for_int, "defs.main.parameters.properties.limit.minimum: True != 1"),
        (_rename_error, "defs.main.errors[0].name: 'AuthRequired' != 'AuthenticationRequired'"),
        (_add_error, "defs.main.errors[1]: unexpected item"),
        (_change_ref, "defs.main.output.schema.ref: '#other' != '#thing'"),
    ],
)
def test_compare_reports_difference(change: Callable[[dict[str, Any]], None], expected: str) -> None:
    differences = compare_lexicon(_mutated(change), _sample()).differences
    assert any(d.startswith(expected) for d in differences), differences


def test_an_added_def_is_an_addition_to_review_not_a_difference() -> None:
    comparison = compare_lexicon(_mutated(_add_def), _sample())
    assert comparison.differences == []
    assert comparison.additions == [Addition("defs", "def", ("other",))]


def test_compare_identical_and_description_changes_are_clean() -> None:
    assert compare_lexicon(_sample(), _sample()) == Comparison()

    def reword(doc: dict[str, Any]) -> None:
        doc["defs"]["main"]["description"] = "Completely different words."
        _thing(doc)["properties"]["id"]["description"] = "Another text."
        del _thing(doc)["description"]
        doc["defs"]["main"]["errors"][0]["description"] = "When the token is missing."

    assert compare_lexicon(_mutated(reword), _sample()) == Comparison()


def test_compare_accepts_added_optional_property() -> None:
    def add(doc: dict[str, Any]) -> None:
        _thing(doc)["properties"]["stage"] = {"type": "string", "description": "Current step."}

    result = compare_lexicon(_mutated(add), _sample())
    assert result.differences == []
    assert result.additions == [Addition("defs.thing.properties", "property", ("stage",))]


def test_compare_accepts_appended_known_values() -> None:
    def append(doc: dict[str, Any]) -> None:
        _thing(doc)["properties"]["state"]["knownValues"] += ["paused"]
        _thing(doc)["properties"]["id"]["knownValues"] = ["a"]  # no knownValues in the reference: open set

    result = compare_lexicon(_mutated(append), _sample())
    assert result.differences == []
    assert sorted(result.additions, key=lambda a: a.path) == [
        Addition("defs.thing.properties.id.knownValues", "knownValues", ("a",)),
        Addition("defs.thing.properties.state.knownValues", "knownValues", ("paused",)),
    ]


def test_compare_reports_all_differences() -> None:
    def several(doc: dict[str, Any]) -> None:
        _retype_count(doc)
        _change_required(doc)
        _change_ref(doc)

    assert len(compare_lexicon(_mutated(several), _sample()).differences) == 3


def test_iter_descriptions_skips_property_named_description() -> None:
    paths = [path for path, _ in iter_descriptions(_sample())]
    assert "defs.thing.properties.description" in paths  # the property's own documentation
    assert "defs.thing.properties" not in paths
