"""Lexicon string formats, always validated.

The checks are the atproto SDK's (``atproto_client.models.string_formats``); the SDK only runs them when a caller
opts in through the validation context, and a server must never skip them, so we call the undecorated functions.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any, cast

from pydantic import AfterValidator


def _sdk_string_formats() -> ModuleType:
    """The SDK's ``atproto_client.models.string_formats``, loaded on its own.

    Importing it by name first runs ``atproto_client/__init__``, which imports the SDK's whole client: 1.1 s of
    every process start (the server, each command, each export reader) for a module that needs only ``re``,
    pydantic and ``atproto_core``. Its file is loaded as is, under a private name, unless the SDK is loaded already.
    """
    loaded = sys.modules.get("atproto_client.models.string_formats")
    if loaded is not None:
        return loaded
    package = importlib.util.find_spec("atproto_client")  # finds the package without running it
    if package is None or package.origin is None:
        raise ImportError("the atproto SDK (atproto_client) is not installed")
    name = f"{__name__}._sdk_string_formats"
    spec = importlib.util.spec_from_file_location(name, Path(package.origin).parent / "models" / "string_formats.py")
    if spec is None or spec.loader is None:
        raise ImportError("atproto_client.models.string_formats is missing")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # pydantic resolves the module's annotations through sys.modules
    spec.loader.exec_module(module)
    return module


_sf = _sdk_string_formats()

#: Valid values are remembered per format: the same DIDs, URIs and timestamps come back on every listing (status
#: polls re-validate the same rows each second). Only valid values are kept (a failure raises and is not cached),
#: and only short ones, so the memory is bounded whatever callers send.
_CACHE_SIZE = 8192
_CACHE_MAX_LENGTH = 512


def _whole(fn: Callable[..., str]) -> Callable[[str], str]:
    """The SDK's check ``fn``, run whatever the validation context says, and over the whole string."""
    check = cast("Callable[[str, Any], str]", getattr(fn, "__wrapped__", fn))
    label = fn.__name__.removeprefix("validate_").replace("_", "-")

    def validate(value: str) -> str:
        # the SDK's patterns end in "$", which in Python also matches before a final newline: "did:plc:…\n" passed
        # as a DID. JavaScript's "$" (the reference implementation's) does not, and no format allows a line break.
        if value.endswith("\n"):
            raise ValueError(f"Invalid {label}: ends in a line break")
        return check(value, None)

    validate.__name__ = fn.__name__
    return validate


def _always(fn: Callable[..., str]) -> Callable[[str], str]:
    """:func:`_whole`, with valid short values remembered."""
    check = _whole(fn)
    remembered = functools.lru_cache(maxsize=_CACHE_SIZE)(check)

    def validate(value: str) -> str:
        if len(value) <= _CACHE_MAX_LENGTH:
            return remembered(value)
        return check(value)

    validate.__name__ = fn.__name__
    return validate


validate_did = _always(_sf.validate_did)
validate_handle = _always(_sf.validate_handle)
validate_nsid = _always(_sf.validate_nsid)
validate_at_uri = _always(_sf.validate_at_uri)
validate_datetime = _always(_sf.validate_datetime)
validate_cid = _always(_sf.validate_cid)
validate_tid = _always(_sf.validate_tid)
validate_record_key = _always(_sf.validate_record_key)
validate_uri = _always(_sf.validate_uri)
validate_language = _always(_sf.validate_language)


#: the record-key check, not remembered: a repository's keys are mostly unique, and caching them would only push out
#: the values that do repeat
_check_record_key = _whole(_sf.validate_record_key)


def is_record_key(value: str) -> bool:
    try:
        _check_record_key(value)
    except ValueError:
        return False
    return True


def validate_at_identifier(value: str) -> str:
    if value.startswith("did:"):
        return validate_did(value)
    return validate_handle(value)


Did = Annotated[str, AfterValidator(validate_did)]
Handle = Annotated[str, AfterValidator(validate_handle)]
AtIdentifier = Annotated[str, AfterValidator(validate_at_identifier)]
Nsid = Annotated[str, AfterValidator(validate_nsid)]
AtUri = Annotated[str, AfterValidator(validate_at_uri)]
Datetime = Annotated[str, AfterValidator(validate_datetime)]
Cid = Annotated[str, AfterValidator(validate_cid)]
Tid = Annotated[str, AfterValidator(validate_tid)]
RecordKey = Annotated[str, AfterValidator(validate_record_key)]
Uri = Annotated[str, AfterValidator(validate_uri)]
Language = Annotated[str, AfterValidator(validate_language)]

#: Lexicon format name → the name of its type in this module (what codegen writes).
BY_FORMAT: dict[str, str] = {
    "did": "Did",
    "handle": "Handle",
    "at-identifier": "AtIdentifier",
    "nsid": "Nsid",
    "at-uri": "AtUri",
    "datetime": "Datetime",
    "cid": "Cid",
    "tid": "Tid",
    "record-key": "RecordKey",
    "uri": "Uri",
    "language": "Language",
}


def record_uri_parts(uri: str) -> tuple[str, str, str]:
    """(did, collection, rkey) of an at-uri that names one record by its repository's DID, the form the index
    keys records by; ValueError for any other at-uri (a repository, a collection, a handle authority, a fragment)."""
    validate_at_uri(uri)
    parts = uri.removeprefix("at://").split("/")
    if "#" in uri or "?" in uri or len(parts) != 3:
        raise ValueError("not the at-uri of one record (at://DID/COLLECTION/RKEY)")
    did, collection, rkey = parts
    if not did.startswith("did:"):
        raise ValueError("the record must be named by its repository's DID, not a handle")
    return validate_did(did), validate_nsid(collection), validate_record_key(rkey)
