"""The handover between a did-sync and the live stream of the same repository.

A did-sync writes a snapshot: the repository as its export was when downloaded. A live commit applied while the
sync runs could be overwritten by that older snapshot (a lost update), and one applied on top of the snapshot must
chain from it. So while a did-sync of a repository is queued or running, its live commits are held here, in the
order they came; once the sync has ended they are judged again against the head it wrote: those at or below its rev
are already in it (skipped), those that chain from its data root are applied in order, and any other ends in
another sync.

The hold is bounded by commits and bytes. When it is full, the repository holding the most is dropped whole and
resynced once its running sync ends: its held commits are not needed, the next snapshot contains them. Held commits
are in memory only: the cursor moves past them, and after a crash the sync, being durable, resumes and downloads an
export that contains them.
"""

from __future__ import annotations

from dataclasses import dataclass

from chive_admin.upstream.firehose import Commit

#: commits held for all repositories at most
MAX_COMMITS = 10_000
#: bytes of commit blocks held at most
MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class HeldState:
    """What :class:`HeldCommits` held at one moment (:meth:`HeldCommits.snapshot`)."""

    by_did: dict[str, list[Commit]]
    overflowed: frozenset[str]
    commits: int
    bytes: int


class HeldCommits:
    def __init__(self, *, max_commits: int = MAX_COMMITS, max_bytes: int = MAX_BYTES) -> None:
        self.max_commits = max_commits
        self.max_bytes = max_bytes
        self._by_did: dict[str, list[Commit]] = {}
        #: repositories dropped for the bound: a sync after their current one replaces what they held
        self._overflowed: set[str] = set()
        self.commits = 0
        self.bytes = 0

    def __bool__(self) -> bool:
        return bool(self._by_did or self._overflowed)

    def dids(self) -> set[str]:
        return set(self._by_did) | self._overflowed

    def add(self, commit: Commit) -> None:
        if commit.repo in self._overflowed:
            return
        self._by_did.setdefault(commit.repo, []).append(commit)
        self.commits += 1
        self.bytes += len(commit.blocks)
        while self.commits > self.max_commits or self.bytes > self.max_bytes:
            largest = max(self._by_did, key=lambda did: sum(len(c.blocks) for c in self._by_did[did]))
            self._drop(largest)
            self._overflowed.add(largest)

    def release(self, did: str) -> list[Commit] | None:
        """The commits held for ``did``, in order, and forget them; ``None`` when some were dropped for the bound
        (the repository must be synced again instead)."""
        if did in self._overflowed:
            self._overflowed.discard(did)
            return None
        return self._drop(did)

    def snapshot(self) -> HeldState:
        """The hold as it is now, for :meth:`restore` if the transaction that releases or adds commits fails."""
        return HeldState(
            {did: list(held) for did, held in self._by_did.items()},
            frozenset(self._overflowed),
            self.commits,
            self.bytes,
        )

    def restore(self, state: HeldState) -> None:
        self._by_did = {did: list(held) for did, held in state.by_did.items()}
        self._overflowed = set(state.overflowed)
        self.commits, self.bytes = state.commits, state.bytes

    def _drop(self, did: str) -> list[Commit]:
        held = self._by_did.pop(did, [])
        self.commits -= len(held)
        self.bytes -= sum(len(c.blocks) for c in held)
        return held
