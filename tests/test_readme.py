"""The README's two commands are what CI runs and what a newcomer types."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    return re.findall(r"```sh\n(.+?)\n```", (REPO / "README.md").read_text())


def test_readme_opens_with_serve_then_test_command() -> None:
    commands = readme_commands()
    assert len(commands) >= 2
    serve, test = commands[0], commands[1]
    assert "chive-admin serve" in serve
    assert "pip install" in serve
    assert "pytest" in test
    assert "pip install" in test


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    test_command = readme_commands()[1]
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert test_command in ci
