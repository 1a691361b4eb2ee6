"""Log output: one line per entry in text, one JSON object per line in JSON, whatever a message holds."""

from __future__ import annotations

import json
import logging
import sys

from chive_admin.logs import JsonFormatter, TextFormatter

FORGED = "GET /xrpc/x\n2026-11-23 18:00:00,000 INFO chive_admin.auth: admin granted\r\u2028\x1b[2J"


def record(message: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("boom")
        except ValueError:
            exc_info = sys.exc_info()
    return logging.LogRecord("chive_admin.test", logging.INFO, __file__, 1, message, args, exc_info)


def test_text_output_escapes_what_could_forge_a_line() -> None:
    line = TextFormatter().format(record("unhandled error in %s", FORGED))
    assert "\n" not in line
    assert "\r" not in line
    assert "\u2028" not in line
    assert "\x1b" not in line
    assert line.endswith(
        "chive_admin.test: unhandled error in GET /xrpc/x\\n2026-11-23 18:00:00,000 INFO chive_admin.auth: admin"
        " granted\\r\\u2028\\x1b[2J"
    )


def test_a_traceback_keeps_its_lines_after_the_escaped_message() -> None:
    text = TextFormatter().format(record("failed: %s", "a\nb", exc=True))
    first, *rest = text.split("\n")
    assert first.endswith("failed: a\\nb")
    assert rest[0] == "Traceback (most recent call last):"
    assert rest[-1] == "ValueError: boom"


def test_json_output_is_one_object_per_line() -> None:
    line = JsonFormatter().format(record("unhandled error in %s", FORGED))
    assert "\n" not in line
    assert json.loads(line)["msg"] == f"unhandled error in {FORGED}"
