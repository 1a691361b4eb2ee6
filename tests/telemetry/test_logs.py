"""Log output: one line per entry in text, one JSON object per line in JSON, whatever a message holds."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest

from chive_admin.telemetry.logs import QUIETED, JsonFormatter, TextFormatter, configure_logging

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


def test_json_output_is_one_object_per_line_with_terminal_controls_spelled_out() -> None:
    line = JsonFormatter().format(record("unhandled error in %s", FORGED))
    assert "\n" not in line
    spelled = FORGED.replace("\r", "\\x0d").replace("\x1b", "\\x1b")  # newlines stay: JSON escapes them itself
    assert json.loads(line)["msg"] == f"unhandled error in {spelled}"


def test_json_fields_hold_no_control_codes_and_no_colour_copy() -> None:
    entry = record("Uvicorn running on %s", "http://x")
    entry.color_message = "Uvicorn running on \x1b[1m%s\x1b[0m"
    entry.detail = {"upstream": ["\x1b]0;title\x07", 3, None], "path": Path("/tmp/\x9b")}
    shipped = json.loads(JsonFormatter().format(entry))
    assert "color_message" not in shipped
    assert shipped["detail"] == {"upstream": ["\\x1b]0;title\\x07", 3, None], "path": "/tmp/\\x9b"}


def test_a_librarys_info_lines_are_debug_and_its_sql_lines_are_gone(caplog: pytest.LogCaptureFixture) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("info", "text")
        root.addHandler(caplog.handler)
        logging.getLogger("httpx").info('HTTP Request: GET http://pds.example "HTTP/1.1 200 OK"')
        logging.getLogger("aiosqlite").debug("executing SELECT 1")
        assert caplog.records == []
        configure_logging("debug", "text")
        root.addHandler(caplog.handler)
        logging.getLogger("httpx").info('HTTP Request: GET http://pds.example "HTTP/1.1 200 OK"')
        logging.getLogger("aiosqlite").debug("executing SELECT 1")
        logging.getLogger("chive_admin.test").debug("ours")
        assert [(r.name, r.levelname) for r in caplog.records] == [("httpx", "DEBUG"), ("chive_admin.test", "DEBUG")]
        assert len(logging.getLogger("httpx").filters) == 1  # configured twice, filtered once
    finally:  # the process's logging as it was
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.getLogger("httpx").filters.clear()
        for name in QUIETED:
            logging.getLogger(name).setLevel(logging.NOTSET)
