"""Codegen: strict loading, deterministic output, drift detection, stale-file removal."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.reference import reference_lexicons

from codegen.__main__ import generate, main
from codegen.load import LexiconLoadError, load_dir, strip_tolerated
from codegen.naming import class_name, field_name, snake

REPO = Path(__file__).resolve().parents[2]
LEXICONS = REPO / "lexicons"
GENERATED = REPO / "src" / "chive_admin" / "_generated"


@pytest.fixture
def workspace(tmp_path: Path) -> tuple[Path, Path]:
    lexicons = tmp_path / "lexicons"
    shutil.copytree(LEXICONS, lexicons)
    out = tmp_path / "generated"
    shutil.copytree(GENERATED, out, ignore=shutil.ignore_patterns("__pycache__"))
    return lexicons, out


def test_committed_output_is_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "codegen", "--check"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_check_fails_after_a_lexicon_edit_and_names_the_file(
    workspace: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    lexicons, out = workspace
    path = lexicons / "pub/chive/admin/listPDSes.json"
    doc = json.loads(path.read_text())
    doc["defs"]["main"]["parameters"]["properties"]["limit"]["maximum"] = 500
    path.write_text(json.dumps(doc, indent=2))
    assert main(["--lexicons", str(lexicons), "--out", str(out), "--check"]) == 1
    err = capsys.readouterr().err
    assert "changed: models/pub/chive/admin/list_pdses.py" in err
    # regenerating fixes the drift, and touches only that file
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.py")}
    assert main(["--lexicons", str(lexicons), "--out", str(out)]) == 0
    changed = [p for p in out.rglob("*.py") if p.stat().st_mtime_ns != before[p]]
    assert [p.relative_to(out).as_posix() for p in changed] == ["models/pub/chive/admin/list_pdses.py"]
    assert "le=500" in (out / "models/pub/chive/admin/list_pdses.py").read_text()
    assert main(["--lexicons", str(lexicons), "--out", str(out), "--check"]) == 0


def test_stale_files_are_reported_and_deleted(workspace: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    lexicons, out = workspace
    (lexicons / "pub/chive/admin/purgeOldDLQ.json").unlink()
    assert main(["--lexicons", str(lexicons), "--out", str(out), "--check"]) == 1
    assert "stale: models/pub/chive/admin/purge_old_dlq.py" in capsys.readouterr().err
    assert main(["--lexicons", str(lexicons), "--out", str(out)]) == 0
    assert not (out / "models/pub/chive/admin/purge_old_dlq.py").exists()
    assert "purgeOldDLQ" not in (out / "ids.py").read_text()


def test_output_is_deterministic() -> None:
    assert generate(LEXICONS) == generate(LEXICONS)


def test_unknown_key_is_an_error_with_file_and_json_path(tmp_path: Path) -> None:
    target = tmp_path / "pub/chive/admin"
    target.mkdir(parents=True)
    doc = json.loads((LEXICONS / "pub/chive/admin/listPDSes.json").read_text())
    doc["defs"]["main"]["parameters"]["properties"]["limit"]["maximun"] = 5
    (target / "listPDSes.json").write_text(json.dumps(doc))
    with pytest.raises(LexiconLoadError) as info:
        load_dir(tmp_path)
    problem = "\n".join(info.value.problems)
    assert "pub/chive/admin/listPDSes.json" in problem
    assert "defs.main.parameters.properties.limit" in problem
    assert "maximun" in problem


def test_id_must_match_file_path_and_json_must_parse(tmp_path: Path) -> None:
    (tmp_path / "pub/chive/admin").mkdir(parents=True)
    doc = json.loads((LEXICONS / "pub/chive/admin/listPDSes.json").read_text())
    (tmp_path / "pub/chive/admin/other.json").write_text(json.dumps(doc))
    (tmp_path / "pub/chive/admin/broken.json").write_text("{")
    with pytest.raises(LexiconLoadError) as info:
        load_dir(tmp_path)
    assert any("does not match its file path" in p for p in info.value.problems)
    assert any("broken.json" in p and "not valid JSON" in p for p in info.value.problems)


def test_cli_exit_code_2_on_invalid_lexicons(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "x.json").write_text("[]")
    assert main(["--lexicons", str(tmp_path), "--out", str(tmp_path / "out"), "--check"]) == 2
    assert "x.json" in capsys.readouterr().err


def test_tolerated_non_spec_keys_are_dropped_and_noted() -> None:
    notes: list[str] = []
    doc = {
        "type": "object",
        "properties": {
            "orcid": {"type": "string", "pattern": "^x$"},
            "status": {"type": "ref", "ref": "#s", "default": "preprint"},
            "pattern": {"type": "integer"},
        },
    }
    cleaned = strip_tolerated(doc, "", notes)
    assert cleaned["properties"]["orcid"] == {"type": "string"}
    assert cleaned["properties"]["status"] == {"type": "ref", "ref": "#s"}
    assert cleaned["properties"]["pattern"] == {"type": "integer"}  # a property *named* pattern stays
    assert len(notes) == 2


def test_generates_importable_models_for_chive_record_lexicons(tmp_path: Path) -> None:
    """Records use unions, blobs, refs across documents and both tolerated keys: all must generate and import."""
    reference = reference_lexicons()
    lexicons = tmp_path / "lexicons"
    for sub in ("pub", "com"):
        shutil.copytree(reference / sub, lexicons / sub)
    # only records and the defs they reference: other methods have no auth policy here on purpose
    for path in list(lexicons.rglob("*.json")):
        main_type = json.loads(path.read_text())["defs"].get("main", {}).get("type")
        if main_type in ("query", "procedure", "subscription"):
            path.unlink()
    package = tmp_path / "pkg" / "gen_records"
    files = generate(lexicons)
    for rel, text in files.items():
        target = package / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text.replace("chive_admin._generated", "gen_records"))
    sys.path.insert(0, str(tmp_path / "pkg"))
    try:
        catalog = importlib.import_module("gen_records.catalog")
        submission = catalog.RECORDS["pub.chive.eprint.submission"]
        comment = catalog.RECORDS["pub.chive.review.comment"]
        valid = comment.model_validate(
            {
                "$type": "pub.chive.review.comment",
                "eprintUri": "at://did:plc:abc/pub.chive.eprint.submission/3k",
                "body": [{"$type": "pub.chive.richtext.defs#textItem", "type": "text", "content": "ok"}],
                "createdAt": "2026-01-01T00:00:00Z",
            }
        )
        assert valid.to_wire()["body"][0]["content"] == "ok"
        with pytest.raises(ValueError, match="createdAt"):
            comment.model_validate({"eprintUri": "at://did:plc:abc/x.y.z/1", "body": [], "createdAt": "yesterday"})
        assert "document" in submission.model_fields or any(
            f.alias == "document" for f in submission.model_fields.values()
        )
    finally:
        sys.path.remove(str(tmp_path / "pkg"))
        for name in [m for m in sys.modules if m.startswith("gen_records")]:
            del sys.modules[name]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("getBackfillStatus", "get_backfill_status"),
        ("listPDSes", "list_pdses"),
        ("triggerPDSScan", "trigger_pds_scan"),
        ("triggerDIDSync", "trigger_did_sync"),
        ("retryAllDLQ", "retry_all_dlq"),
        ("at-uri", "at_uri"),
    ],
)
def test_snake(name: str, expected: str) -> None:
    assert snake(name) == expected


def test_names_never_shadow_builtins_or_pydantic() -> None:
    assert class_name("warning") == "WarningDef"
    assert class_name("backfillOperation") == "BackfillOperation"
    assert field_name("schema") == "schema_"
    assert field_name("from") == "from_"
    assert field_name("recordsProcessed") == "records_processed"
