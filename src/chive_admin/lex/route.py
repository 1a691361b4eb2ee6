"""What the generated catalog says of each XRPC method."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from chive_admin.lex.base import LexModel, LexStrictModel


class ParamKind(StrEnum):
    """The wire type of a query parameter: what its string must parse as."""

    STRING = "string"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class ParamSpec:
    kind: ParamKind
    is_array: bool = False


@dataclass(frozen=True)
class Route:
    nsid: str
    kind: Literal["query", "procedure"]
    params: type[LexStrictModel]
    param_specs: Mapping[str, ParamSpec]
    input: type[LexStrictModel] | None
    input_encoding: str | None
    output: type[LexModel] | None
    output_encoding: str | None
    errors: tuple[str, ...]
    #: Name of the auth policy (see ``chive_admin.auth.policy``); declared once, in codegen's policy table.
    auth: str
    description: str = field(default="", compare=False)
