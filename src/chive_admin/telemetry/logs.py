"""Log output: readable text, or one JSON object per line for log shippers (``--log-format json``).

What reaches INFO is what an operator acts on: the server's own lines, each XRPC call, each operation transition.
Libraries' detail is DEBUG (httpx writes every upstream request at INFO) or quieter still (aiosqlite writes one
DEBUG line per SQL statement, which would bury ``--log-level debug``'s own lines).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

#: attributes every LogRecord has; anything else on a record came from ``extra=`` and is worth shipping
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
#: ``extra=`` fields that are presentation, not content: uvicorn's copy of its message with ANSI colour codes
_DROPPED = {"color_message"}
#: libraries whose INFO lines are detail here: one line per upstream request (httpx)
DEMOTED = ("httpx",)
#: libraries whose DEBUG lines drown ours: one per SQL statement (aiosqlite), per connection event, per frame
QUIETED = ("aiosqlite", "asyncio", "httpcore", "hpack", "multipart", "python_multipart", "aiohttp")


#: control characters and Unicode line breaks, spelled out: in text output a message holding one could forge a line
_ESCAPES = {i: f"\\x{i:02x}" for i in (*range(32), 127)} | {
    ord("\n"): "\\n",
    ord("\r"): "\\r",
    ord("\t"): "\\t",
    0x85: "\\x85",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}
#: in JSON a line cannot be forged, but a field printed by a reader (``jq -r``) could still drive a terminal
#: (ESC [2J, a colour code, a window title): controls and C1 codes are spelled out, newlines and tabs kept
_JSON_ESCAPES = {i: f"\\x{i:02x}" for i in (*range(32), *range(127, 160)) if i not in (9, 10)}


class TextFormatter(logging.Formatter):
    """One line per entry. A message can carry text from outside (a request path, an upstream's error), so its
    control characters are escaped; a traceback, which is ours, keeps its lines."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        return super().formatMessage(record).translate(_ESCAPES)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in _DROPPED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(_spelled(entry), default=str, ensure_ascii=False)


def _spelled(value: Any) -> Any:
    if isinstance(value, str):
        return value.translate(_JSON_ESCAPES)
    if isinstance(value, dict):
        return {str(k).translate(_JSON_ESCAPES): _spelled(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_spelled(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value).translate(_JSON_ESCAPES)  # what json's default=str would write, spelled out too


class Demoted(logging.Filter):
    """A library's INFO line re-levelled DEBUG, and let through only when DEBUG is on."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)


def configure_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    for name in DEMOTED:
        library = logging.getLogger(name)
        if not any(isinstance(f, Demoted) for f in library.filters):
            library.addFilter(Demoted())
    for name in QUIETED:
        logging.getLogger(name).setLevel(logging.WARNING)
