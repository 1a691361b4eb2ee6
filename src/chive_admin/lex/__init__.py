"""Runtime support for the models that codegen emits from the lexicons.

Generated modules import only from here (and pydantic), so what a lexicon type means at run time is decided in
one hand-written place, not repeated in thousands of generated lines.
"""

from chive_admin.lex.base import BlobLimits, BlobRef, Bytes, CidLink, LexModel, LexStrictModel, UnknownUnionMember
from chive_admin.lex.constraints import Graphemes, Utf8Length
from chive_admin.lex.route import ParamKind, ParamSpec, Route
from chive_admin.lex.unions import union_discriminator

__all__ = [
    "BlobLimits",
    "BlobRef",
    "Bytes",
    "CidLink",
    "Graphemes",
    "LexModel",
    "LexStrictModel",
    "ParamKind",
    "ParamSpec",
    "Route",
    "UnknownUnionMember",
    "Utf8Length",
    "union_discriminator",
]
