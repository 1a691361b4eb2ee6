"""Parsing JSON that comes from outside: a client's body or token, a PDS's answer, a DID host's document.

Every way such a text can make Python's parser fail is a ``ValueError`` here, so a caller's one ``except
ValueError`` is enough: bad UTF-8 (``UnicodeDecodeError`` is one already), bad syntax, and nesting deeper than the
interpreter's recursion limit, which the parser reports as a ``RecursionError``. A 1,200-deep array in a bearer
token's payload used to escape that way and answer 500.
"""

from __future__ import annotations

import json
from typing import Any


class NotJson(ValueError):
    """The text is not JSON this server accepts."""


def _refuse_constant(name: str) -> Any:
    # NaN and Infinity are not JSON (RFC 8259) nor in the atproto data model; Python's parser accepts them
    raise NotJson(f"{name} is not JSON")


def loads(text: bytes | str) -> Any:
    """``text`` parsed as strict JSON; ``NotJson`` (a ``ValueError``) whatever is wrong with it."""
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise NotJson("JSON nested too deeply") from None
    except NotJson:
        raise
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise NotJson(str(exc)) from None
