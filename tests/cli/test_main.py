"""The ``chive-admin`` command: one parser for every subcommand, and every usage or configuration error one line on
stderr with exit status 2, before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from chive_admin import __version__
from chive_admin.cli.main import EXIT_USAGE, main


def test_no_command_prints_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == EXIT_USAGE
    out = capsys.readouterr().out
    for command in ("serve", "keys", "roles", "ops", "dlq"):
        assert command in out
    assert "CHIVE_ADMIN_" in out  # every serve flag also reads a variable


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"chive-admin {__version__}\n"


def test_serve_help_lists_every_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for flag in (
        "--host",
        "--port",
        "--db",
        "--service-did",
        "--admin-did",
        "--plc-url",
        "--governance-did",
        "--workers",
        "--allow-private-network",
        "--log-level",
        "--log-format",
        "--metrics-token",
        "--upstream-timeout",
        "--upstream-attempts",
        "--upstream-deadline",
        "--upstream-concurrency",
        "--export-readers",
        "--retention-days",
        "--job-plugin",
        "--trusted-proxy",
        "--client-timeout",
        "--max-connections",
    ):
        assert flag in out


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["serve", "--bogus"], "chive-admin: error: unrecognized arguments: --bogus"),
        (["frobnicate"], "chive-admin: error: argument COMMAND: invalid choice: 'frobnicate'"),
        (["keys", "create", "--name", "x"], "chive-admin keys create: error: the following arguments are required"),
    ],
)
def test_a_usage_error_is_one_line(capsys: pytest.CaptureFixture[str], argv: list[str], line: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith(line)
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["serve", "--workers", "abc"], "chive-admin: error: --workers: 'abc' is not a whole number"),
        (["keys", "list", "--db", "missing.db"], "chive-admin: error: --db: no database at "),
        (["roles", "list", "--db", "missing.db"], "chive-admin: error: --db: no database at "),
    ],
)
def test_a_configuration_error_is_one_line_and_nothing_is_created(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    argv: list[str],
    line: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CHIVE_ADMIN_DB", raising=False)
    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith(line)
    assert err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []
