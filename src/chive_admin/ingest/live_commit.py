"""One firehose ``#commit`` (or ``#sync``), verified with the repository code backfills use, and what it means for
the index.

A commit is believed only when all of these hold (the checks of an export, plus the chain):

- its CAR's root is the commit the event names, for the event's repository, signed by the DID's current
  ``#atproto`` key (a bad signature re-resolves the DID once: the key may just have rotated), with the event's rev;
- each ``pub.chive.*`` op is what the signed MST says: a created or updated path holds the op's CID, a deleted
  path holds nothing, and the record block hashes to its CID;
- it follows what the index holds: ``rev`` above the stored rev (else a replay, skipped), and ``prevData`` the
  stored data root (or, where no root is stored, ``since`` the stored rev). A commit that does not chain, or is
  ``tooBig``, is not guessed at: the repository is resynced (a did-sync).

:func:`judge` decides from the event and the stored head alone; nothing here writes.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field
from enum import Enum

from cbrrr import CID, decode_dag_cbor

from chive_admin.auth.identity import IdentityError, IdentityResolver
from chive_admin.ingest.fetch import InvalidRecord, RepoContents
from chive_admin.lex.formats import validate_did
from chive_admin.repo.car import RepoVerificationError, VerifiedRepo, encode_cid, open_commit, open_verified
from chive_admin.repo.validate import is_indexed
from chive_admin.store.index import IndexedRecord, RepoHead
from chive_admin.upstream.firehose import Commit, Sync


class Verdict(Enum):
    #: verified and chained: its ops are applied and the head moves
    APPLY = "apply"
    #: rev at or below the stored one: already in the index
    REPLAY = "replay"
    #: no pub.chive.* op, of a repository the index does not hold
    IGNORE = "ignore"
    #: verified but not chained (or tooBig, or of a repository not held yet): a did-sync brings the index level
    RESYNC = "resync"
    #: not what the repository's owner signed: nothing of it is used
    REFUSE = "refuse"
    #: a did-sync of the repository is under way: the commit waits for its snapshot (see ``live.handover``)
    HOLD = "hold"
    #: read from a PDS that does not host the repository: not believed, whatever it carries
    FOREIGN = "foreign"


@dataclass
class Judgement:
    verdict: Verdict
    reason: str = ""
    #: with APPLY: the head after the commit
    rev: str = ""
    data_cid: str = ""
    #: with APPLY: the records written, sorted into valid and invalid as a backfill sorts them
    contents: RepoContents = field(default_factory=lambda: RepoContents(did=""))
    deletes: list[str] = field(default_factory=list)

    @property
    def upserts(self) -> list[IndexedRecord]:
        return self.contents.records

    @property
    def invalid(self) -> list[InvalidRecord]:
        return self.contents.invalid


def touches_index(commit: Commit) -> bool:
    return any(_indexed(op.path) for op in commit.ops)


def _indexed(path: str) -> bool:
    """A path of a collection the index keeps (a ``pub.chive.*`` one no lexicon of ours describes is not)."""
    return is_indexed(path.partition("/")[0])


def chains(commit: Commit, head: RepoHead) -> bool:
    if commit.prev_data is not None and head.data_cid is not None:
        return encode_cid(bytes(commit.prev_data)) == head.data_cid
    # no root stored (the head came from a snapshot) or a legacy event without prevData: the rev chain
    return commit.since is not None and commit.since == head.rev


async def judge(commit: Commit, head: RepoHead | None, identities: IdentityResolver) -> Judgement:
    """What ``commit`` does to a repository whose stored head is ``head`` (``None``: not in the index)."""
    if head is None and not touches_index(commit):
        return Judgement(Verdict.IGNORE, "not held, no pub.chive op")
    try:
        validate_did(commit.repo)
    except ValueError:
        return Judgement(Verdict.REFUSE, f"{commit.repo[:100]!r} is not a DID")
    if head is not None and head.rev is not None and commit.rev <= head.rev:
        return Judgement(Verdict.REPLAY, f"rev {commit.rev} is not after {head.rev}")
    try:
        repo = await _open_at(commit.repo, commit.rev, commit.blocks, commit.commit, identities)
    except RepoVerificationError as exc:  # a tooBig commit still carries its signed commit block
        return Judgement(Verdict.REFUSE, f"{exc.code}: {exc}")
    try:
        if head is None:
            return Judgement(Verdict.RESYNC, "a repository not held yet")
        if commit.too_big:
            return Judgement(Verdict.RESYNC, "tooBig")
        if not chains(commit, head):
            return Judgement(Verdict.RESYNC, "does not chain from the stored head")
        judgement = Judgement(Verdict.APPLY, rev=commit.rev, data_cid=repo.data_cid)
        judgement.contents.did = commit.repo
        for op in commit.ops:
            if not _indexed(op.path):
                continue
            collection, _, rkey = op.path.partition("/")
            uri = f"at://{commit.repo}/{op.path}"
            try:
                held = repo.cid_at(op.path)
            except RepoVerificationError as exc:
                return Judgement(Verdict.RESYNC, f"the diff does not prove {op.path}: {exc.code}")
            if op.action == "delete":
                if held is not None:
                    return Judgement(Verdict.REFUSE, f"{op.path} is deleted but the signed tree holds it")
                judgement.deletes.append(uri)
                continue
            if op.cid is None or held is None or held != bytes(op.cid):
                return Judgement(Verdict.REFUSE, f"{op.path}: the op's CID is not the signed tree's")
            try:
                block = repo.block(held, f"the record {op.path}")
            except RepoVerificationError as exc:
                return Judgement(Verdict.REFUSE if exc.code == "bad_block" else Verdict.RESYNC, f"{exc.code}: {exc}")
            try:
                value = decode_dag_cbor(block, atjson_mode=True)
            except ValueError as exc:
                judgement.contents.add(collection, rkey, encode_cid(held), None, f"not valid DAG-CBOR: {exc}")
                continue
            judgement.contents.add(collection, rkey, encode_cid(held), value)
        return judgement
    finally:
        repo.close()


async def _open(did: str, blocks: bytes, commit_cid: CID | None, identities: IdentityResolver) -> VerifiedRepo:
    """A firehose CAR whose root is ``did``'s commit (``commit_cid``, when the event names one), its signature
    checked with the DID's key; once more with a freshly resolved key if it fails."""
    for current in (False, True):
        try:
            identity = await identities.resolve(did, current=current)
        except IdentityError as exc:
            raise RepoVerificationError("did_unresolvable", str(exc)) from None
        if not identity.signing_key:
            raise RepoVerificationError("no_signing_key", f"{did} has no #atproto key")
        try:
            if commit_cid is None:
                return open_verified(io.BytesIO(blocks), did=did, signing_key=identity.signing_key)
            return open_commit(blocks, did=did, signing_key=identity.signing_key, commit_cid=commit_cid)
        except RepoVerificationError as exc:
            if exc.code == "bad_signature" and not current:
                continue
            raise
    raise AssertionError("unreachable")  # pragma: no cover - the second pass returns or raises


async def _open_at(
    did: str, rev: str, blocks: bytes, commit_cid: CID | None, identities: IdentityResolver
) -> VerifiedRepo:
    """:func:`_open`, and the signed commit's rev is the event's."""
    repo = await _open(did, blocks, commit_cid, identities)
    if repo.rev != rev:
        repo.close()
        raise RepoVerificationError("bad_commit", f"the commit's rev is {repo.rev!r}, the event's {rev!r}")
    return repo


async def judge_sync(event: Sync, head: RepoHead | None, identities: IdentityResolver) -> Judgement:
    """What a ``#sync`` (the repository's current signed commit, no diff) means for a repository held at ``head``:
    nothing when it is where the index stands, a resync when it is elsewhere."""
    if head is None:
        return Judgement(Verdict.IGNORE, "not held")
    if head.rev is not None and event.rev <= head.rev:
        return Judgement(Verdict.REPLAY, f"rev {event.rev} is not after {head.rev}")
    try:
        repo = await _open_at(event.did, event.rev, event.blocks, None, identities)
    except RepoVerificationError as exc:
        return Judgement(Verdict.REFUSE, f"{exc.code}: {exc}")
    with contextlib.closing(repo):
        if head.data_cid is not None and repo.data_cid == head.data_cid:
            # the same records under a newer rev: only the head moves
            return Judgement(Verdict.APPLY, rev=event.rev, data_cid=repo.data_cid)
        return Judgement(Verdict.RESYNC, "#sync: the repository is not where the index holds it")
