"""The README's two commands are what CI runs and what a newcomer types; its configuration table is the settings."""

from __future__ import annotations

import re
from pathlib import Path

from chive_admin.settings import DECLARATIONS, Declaration

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


def configuration_rows() -> list[tuple[str, str, str]]:
    """The flag, env and default cells of the README's configuration table, in its order."""
    section = (REPO / "README.md").read_text().split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `--")]
    return [(flag, env, default) for flag, env, default, _ in (row.strip("| ").split(" | ", 3) for row in rows)]


def declared_row(declared: Declaration) -> tuple[str, str, str]:
    """A setting's row as its declaration says it should read."""
    several = declared.kind == "repeatable"
    return (
        f"`{declared.flag}`" + (" (repeatable)" if several else ""),
        f"`{declared.env}`" + (" (comma-separated)" if several else ""),
        declared.documented_default,
    )


def test_the_configuration_table_is_the_declared_settings() -> None:
    # adding a setting means adding its row here; its meaning is the README's own prose, not compared
    assert configuration_rows() == [declared_row(declared) for declared in DECLARATIONS]
