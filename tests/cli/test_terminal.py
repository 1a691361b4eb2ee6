"""Server text on the terminal: literal, one line, every control character visible."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

from chive_admin.cli.terminal import console, literal, visible


def test_controls_become_visible_escapes() -> None:
    assert visible("a\x1b[2Jb\x07\n\t\r\x7f\x9b") == "a\\x1b[2Jb\\x07\\n\\t\\r\\x7f\\x9b"
    assert visible("\u202eevil\u2066\u2028") == "\\u202eevil\\u2066\\u2028"
    assert visible("plain é 漢字 🙂") == "plain é 漢字 🙂"


def test_objects_become_json_never_python_reprs() -> None:
    assert visible({"b": 1, "a": "x\x1b"}) == r'{"a": "x\u001b", "b": 1}'
    assert visible(None) == "null"


def test_markup_is_never_interpreted() -> None:
    out = io.StringIO()
    hostile = "[link=https://evil.example]x[/link] [/] [bold]b :warning:"
    table = Table("message")
    table.add_row(literal(hostile))
    printer = Console(file=out, width=200, force_terminal=True)
    printer.print(table)
    printer.print(literal(hostile))
    assert out.getvalue().count(hostile) == 2
    assert "\x1b]8;" not in out.getvalue()  # no hyperlink


def test_the_console_prints_strings_as_they_are() -> None:
    printer = console()
    with printer.capture() as captured:
        printer.print("[/] [bold]x :warning:")
    assert captured.get() == "[/] [bold]x :warning:\n"
