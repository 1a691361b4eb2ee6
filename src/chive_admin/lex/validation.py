"""Turning pydantic validation errors into one readable message, by wire name: shared by the inbound protocol, the
upstream client's answer checks and the record checks of the export reader."""

from __future__ import annotations

from pydantic import ValidationError

_MAX_SHOWN = 3


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def describe(exc: ValidationError, *, what: str) -> str:
    """``"Invalid params: limit: Input should be less than or equal to 100"``, at most three problems shown."""
    problems = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith(("function-", "tagged-"))))
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown field"
        elif err["type"] == "missing":
            message = "required"
        problems.append(f"{_where(loc)}: {message}" if loc else message)
    more = len(problems) - _MAX_SHOWN
    shown = "; ".join(problems[:_MAX_SHOWN]) + (f"; and {more} more" if more > 0 else "")
    return f"Invalid {what}: {shown}"
