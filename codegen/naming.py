"""How lexicon names become Python names."""

from __future__ import annotations

import builtins
import keyword
import re

from pydantic import BaseModel

# an acronym keeps its plural ("PDSes" is one word), then ordinary camel-case words, then a bare acronym
_WORD = re.compile(r"[A-Z]{2,}(?:es|s)(?![a-z])|[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])|[0-9]+")
_RESERVED = frozenset(dir(BaseModel)) | {"LEX_TYPE", "to_wire"}


def snake(name: str) -> str:
    """``getBackfillStatus`` → ``get_backfill_status``; ``listPDSes`` → ``list_pdses``."""
    return "_".join(word.lower() for part in name.split("-") for word in _WORD.findall(part))


def module_parts(nsid: str) -> tuple[str, ...]:
    """``pub.chive.admin.getBackfillStatus`` → ``("pub", "chive", "admin", "get_backfill_status")``."""
    *authority, name = nsid.split(".")
    return (*(snake(p) for p in authority), snake(name))


def module_alias(nsid: str) -> str:
    """The name a generated module imports another generated module under."""
    return "_" + "_".join(module_parts(nsid)[2:])


# names a def class must not take: builtins (an annotation would silently resolve to `Warning` the exception) and
# the names every generated module defines or imports itself
_TAKEN_CLASS_NAMES = frozenset(dir(builtins)) | {
    "Params",
    "Input",
    "Output",
    "Record",
    "Main",
    "Field",
    "Tag",
    "Annotated",
    "Any",
    "ClassVar",
    "Final",
    "Literal",
    "Union",
}


def class_name(def_name: str) -> str:
    """``backfillOperation`` → ``BackfillOperation``; ``warning`` → ``WarningDef`` (never a builtin's name)."""
    name = def_name[:1].upper() + def_name[1:]
    return name + "Def" if name in _TAKEN_CLASS_NAMES else name


def field_name(prop: str) -> str:
    """A property name as a pydantic field name that shadows nothing."""
    name = snake(prop.lstrip("$"))
    if keyword.iskeyword(name) or name in _RESERVED or name.startswith("model_"):
        name += "_"
    return name


def const_name(nsid: str) -> str:
    """``pub.chive.admin.getBackfillStatus`` → ``PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS``."""
    return "_".join(snake(p) for p in nsid.split(".")).upper()
