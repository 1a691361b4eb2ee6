"""``chive-admin moderation`` beside a running server (SQLite file or PostgreSQL URL): warnings and violations
written by the command appear in listWarnings / listViolations at once, every write is in the audit trail, and a
bad argument is one line and exit 2."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest
from support.auth import bearer
from support.server import ServerProcess, cli_command, create_database, create_key, db_arg

from chive_admin._generated import ids
from chive_admin.store.target import DbTarget

ADMIN = "did:plc:moderationadmin0000000000"
MOD = "did:plc:moderationmod00000000000000"
ALICE = "did:plc:moderatedalice00000000000"
SUBJECT = f"at://{ALICE}/pub.chive.eprint.submission/3kabc"


def moderation(db: DbTarget, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli_command("moderation", *args, "--db", db_arg(db)), capture_output=True, text=True, timeout=60, check=False
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.both_backends
def test_the_moderation_record_beside_a_running_server(tmp_path: Path, db_target: DbTarget) -> None:
    key = create_key(db_target, ADMIN)
    server = ServerProcess(args=["--db", db_arg(db_target), "--admin-did", ADMIN], cwd=tmp_path).start()
    try:

        def listed(nsid: str, **params: str) -> dict[str, object]:
            response = httpx.get(f"{server.url}/xrpc/{nsid}", params=params, headers=bearer(key))
            assert response.status_code == 200, response.text
            answer: dict[str, object] = response.json()
            return answer

        warned = ok(moderation(db_target, "warn", ALICE, "--reason", "spam links", "--by", MOD, "--days", "30"))
        assert warned.startswith(f"warning 1 issued to {ALICE} (expires ")
        ok(moderation(db_target, "warn", ALICE, "--reason", "a mistake", "--by", MOD))
        assert ok(moderation(db_target, "revoke", "2", "--by", ADMIN)) == f"warning 2 of {ALICE} revoked"
        again = moderation(db_target, "revoke", "2", "--by", ADMIN)
        assert (again.returncode, again.stderr.splitlines()[-1]) == (
            1,
            "chive-admin: error: no unrevoked warning with id 2",
        )
        warnings = listed(ids.PUB_CHIVE_ADMIN_LIST_WARNINGS, did=ALICE)
        assert warnings["total"] == 1
        [warning] = warnings["warnings"]  # type: ignore[misc]
        assert {k: v for k, v in warning.items() if k not in ("createdAt", "expiresAt")} == {
            "id": "1",
            "did": ALICE,
            "reason": "spam links",
            "issuedBy": MOD,
        }
        assert warning["expiresAt"] > warning["createdAt"]

        recorded = moderation(
            db_target,
            *("violation", ALICE, "--type", "plagiarism", "--severity", "high", "--by", MOD),
            *("--description", "abstract copied", "--context", '{"similarity": 0.97}', "--subject", SUBJECT),
        )
        assert ok(recorded) == f"violation 1 recorded for {ALICE} (high)"
        ok(moderation(db_target, "violation", ALICE, "--type", "spam", "--severity", "low", "--by", MOD))
        assert ok(moderation(db_target, "resolve", "2", "--by", ADMIN)) == f"violation 2 of {ALICE} resolved"
        violations = listed(ids.PUB_CHIVE_ADMIN_LIST_VIOLATIONS)
        assert violations["total"] == 2
        newest, oldest = violations["violations"]  # type: ignore[misc]
        assert (newest["id"], newest["type"], newest["severity"], newest["resolvedBy"]) == ("2", "spam", "low", ADMIN)
        assert "resolvedAt" in newest
        assert {k: v for k, v in oldest.items() if k != "createdAt"} == {
            "id": "1",
            "did": ALICE,
            "type": "plagiarism",
            "severity": "high",
            "description": "abstract copied",
            "context": '{"similarity":0.97}',
            "subjectUri": SUBJECT,
            "recordedBy": MOD,
        }

        audit = listed(ids.PUB_CHIVE_ADMIN_GET_AUDIT_LOG, limit="100")["entries"]
        by_cli = [
            (e["action"], e["actorDid"], e["targetUri"])  # type: ignore[index]
            for e in audit  # type: ignore[attr-defined]
            if "via=cli" in e["details"]  # type: ignore[index]
        ]
        assert by_cli == [
            ("moderation.resolve", ADMIN, ALICE),
            ("moderation.violation", MOD, ALICE),
            ("moderation.violation", MOD, ALICE),
            ("moderation.revoke", ADMIN, ALICE),
            ("moderation.warn", MOD, ALICE),
            ("moderation.warn", MOD, ALICE),
        ]
    finally:
        server.stop()


def test_bad_arguments_are_one_line_and_exit_2(tmp_path: Path) -> None:
    db = tmp_path / "bad.db"
    create_database(db)
    for args in (
        ("violation", ALICE, "--type", "spam", "--severity", "extreme", "--by", MOD),
        ("violation", ALICE, "--type", "spam", "--severity", "low", "--by", MOD, "--context", "{not json"),
        ("violation", ALICE, "--type", "spam", "--severity", "low", "--by", MOD, "--subject", "https://x.test/"),
        ("violation", "nope", "--type", "spam", "--severity", "low", "--by", MOD),
        ("warn", ALICE, "--reason", "x", "--by", "nope"),
        ("warn", ALICE, "--reason", " ", "--by", MOD),
        ("warn", ALICE, "--reason", "x", "--by", MOD, "--days", "0"),
        ("warn", ALICE, "--reason", "x", "--by", MOD, "--days", "²"),
        ("revoke", "-1", "--by", MOD),
        ("resolve", "abc", "--by", MOD),
    ):
        result = moderation(db, *args)
        assert (result.returncode, result.stdout) == (2, ""), args
        assert result.stderr.count("\n") == 1, (args, result.stderr)
        assert result.stderr.startswith("chive-admin: error: "), args
    severity = moderation(db, "violation", ALICE, "--type", "spam", "--severity", "extreme", "--by", MOD)
    assert severity.stderr == "chive-admin: error: --severity: 'extreme' is not one of low, medium, high, critical\n"
    assert moderation(db, "resolve", "7", "--by", MOD).returncode == 1  # no such violation: nothing written
