"""Lexicon string formats: the SDK's checks, always run, and whole-string."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from chive_admin.lex import formats

VALID: list[tuple[Callable[[str], str], str]] = [
    (formats.validate_did, "did:plc:abcdefghijklmnopqrstuvwx"),
    (formats.validate_handle, "alice.test"),
    (formats.validate_at_identifier, "did:web:example.com"),
    (formats.validate_nsid, "pub.chive.review.comment"),
    (formats.validate_at_uri, "at://did:plc:abcdefghijklmnopqrstuvwx/pub.chive.review.comment/3kabcdefghi22"),
    (formats.validate_datetime, "2026-11-23T18:00:00.000Z"),
    (formats.validate_cid, "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"),
    (formats.validate_tid, "3kabcdefghi22"),
    (formats.validate_record_key, "self"),
    (formats.validate_uri, "https://chive.example/path"),
    (formats.validate_language, "en-GB"),
]


@pytest.mark.parametrize(("check", "value"), VALID)
def test_a_valid_value_passes_and_the_same_with_a_final_newline_does_not(
    check: Callable[[str], str], value: str
) -> None:
    assert check(value) == value
    # the SDK's patterns end in "$", which in Python matches before a final newline too (in JavaScript it does not)
    for ending in ("\n", "\r\n"):
        with pytest.raises(ValueError, match="ends in a line break"):
            check(value + ending)


def test_values_too_long_to_remember_are_still_checked() -> None:
    long_uri = "https://chive.example/" + "a" * 600
    assert formats.validate_uri(long_uri) == long_uri
    with pytest.raises(ValueError, match="ends in a line break"):
        formats.validate_uri(long_uri + "\n")


def test_the_checks_are_the_sdks_own_loaded_without_its_client() -> None:
    # importing atproto_client runs its whole client: 1.1 s of every process start (server, command, reader)
    program = (
        "import sys; import chive_admin.server.app, chive_admin.repo.reader_process;"
        "from chive_admin.lex import formats;"
        "print(sorted(m for m in sys.modules if m.startswith('atproto_client')));"
        "print(formats.validate_did.__name__, formats._sf.__file__)"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True, timeout=60)
    loaded, checks = done.stdout.splitlines()
    assert loaded == "[]"
    name, source = checks.split(" ", 1)
    assert name == "validate_did"
    assert Path(source).parts[-3:] == ("atproto_client", "models", "string_formats.py")


def test_the_sdks_module_is_reused_when_the_sdk_is_loaded() -> None:
    program = (
        "import atproto_client.models.string_formats as sdk;"
        "from chive_admin.lex import formats;"
        "print(formats._sf is sdk)"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == "True"
