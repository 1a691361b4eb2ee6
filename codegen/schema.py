"""The Lexicon language, and a loaded set of lexicon documents with ref resolution.

The language itself is the atproto SDK's strict pydantic model (``atproto_lexicon.models``): unknown keys are
errors there, which is the strictness we want. This module adds what a generator needs on top: documents by id,
and resolution of ``#name`` / ``nsid#name`` / ``nsid`` refs to their definitions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

from atproto_lexicon import models as lex

Definition: TypeAlias = Any  # one of the lex.Lex* definition models; the SDK's union is not a usable annotation
LexiconDoc = lex.LexiconDoc


@dataclass(frozen=True)
class DefRef:
    """A resolved ref: the document id, the def name, and the definition model."""

    nsid: str
    name: str
    definition: Definition

    @property
    def full(self) -> str:
        """The canonical ref string, as ``$type`` spells it: ``nsid`` for ``main``, else ``nsid#name``."""
        return self.nsid if self.name == "main" else f"{self.nsid}#{self.name}"


@dataclass(frozen=True)
class LoadedLexicon:
    path: Path  # relative to the lexicons root, for messages
    doc: LexiconDoc


class UnresolvedRefError(LookupError):
    pass


@dataclass
class LexiconSet:
    lexicons: dict[str, LoadedLexicon] = field(default_factory=dict)

    def __iter__(self) -> Iterator[LoadedLexicon]:
        for nsid in sorted(self.lexicons):
            yield self.lexicons[nsid]

    def __len__(self) -> int:
        return len(self.lexicons)

    def resolve(self, ref: str, *, context: str) -> DefRef:
        """Resolve ``ref`` as written inside the lexicon ``context``."""
        nsid, _, name = ref.partition("#")
        nsid = nsid or context
        name = name or "main"
        loaded = self.lexicons.get(nsid)
        if loaded is None:
            raise UnresolvedRefError(f"{context}: ref {ref!r} names lexicon {nsid!r}, which is not loaded")
        definition = loaded.doc.defs.get(name)
        if definition is None:
            raise UnresolvedRefError(f"{context}: ref {ref!r}: lexicon {nsid!r} has no def {name!r}")
        return DefRef(nsid, name, definition)
