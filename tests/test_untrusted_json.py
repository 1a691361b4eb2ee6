"""Strict JSON from outside: every failure is one ValueError subclass."""

from __future__ import annotations

import pytest

from chive_admin import untrusted_json
from chive_admin.untrusted_json import NotJson


def test_json_is_parsed() -> None:
    assert untrusted_json.loads(b'{"a": [1, "\\u00e9", null]}') == {"a": [1, "é", None]}
    assert untrusted_json.loads('"x"') == "x"


@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"{",
        b'{"a": NaN}',
        b"[Infinity]",
        b"-Infinity",
        b"\xff\xfe{",
        b"[" * 100_000 + b"]" * 100_000,  # RecursionError inside the parser
        '{"a": ' * 5000 + "1" + "}" * 5000,
    ],
)
def test_anything_else_is_not_json(text: bytes | str) -> None:
    with pytest.raises(NotJson):
        untrusted_json.loads(text)
    assert issubclass(NotJson, ValueError)
