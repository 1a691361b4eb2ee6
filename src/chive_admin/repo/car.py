"""A repository CAR export, verified and read without loading it whole.

Blocks are read through :mod:`chive_admin.repo.blocks` (each checked against its CID), DAG-CBOR is ``cbrrr``'s and the
signature check the atproto SDK's; what is ours is the policy: the commit must be for the expected DID and signed by
its current ``#atproto`` key, and only the ``pub.chive.*`` key range of the MST is walked.
"""

from __future__ import annotations

import io
from bisect import bisect_left
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any, NamedTuple

import libipld
from cbrrr import CID, decode_dag_cbor, encode_dag_cbor

from chive_admin.repo.blocks import BadBlock, BadCar, CarBlocks, Grow, TooManyBlocks
from chive_admin.repo.signature import verify_signature

#: the longest MST key the repository spec allows (``collection/rkey``)
MAX_KEY_BYTES = 1024


class RepoVerificationError(ValueError):
    """The CAR is not a valid, correctly signed repository of the expected DID; ``code`` says which check failed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class RepoRecord(NamedTuple):
    # a NamedTuple for the speed of making one per record (see IndexedRecord)
    collection: str
    rkey: str
    cid: str
    value: dict[str, Any] | None
    problem: str | None = None


@dataclass
class VerifiedRepo:
    did: str
    rev: str
    commit_cid: str
    _store: CarBlocks
    _data: CID

    def close(self) -> None:
        self._store.close()

    def finish(self) -> None:
        """Wait for the rest of an export still being written, checking every section of it (see ``grow`` of
        :func:`open_verified`)."""
        with _refusing():
            self._store.finish()

    def records(self, prefix: str) -> Iterator[RepoRecord]:
        """Every record whose ``collection/rkey`` key starts with ``prefix``: in key order, or, from an export
        still being written, in the order its records can be proven as their blocks arrive.

        A record block that is not a DAG-CBOR map comes with ``value=None`` and the reason in ``problem``: it was
        signed by the repository's owner, so it is an invalid record (dead-lettered), not a broken export.
        """
        store = self._store
        high = prefix + "\uffff"
        walk = (
            _in_order(store, self._data, prefix, high) if store.whole else _as_provable(store, self._data, prefix, high)
        )
        for key, cid in walk:
            collection, _, rkey = key.partition("/")
            block = _block(store, cid, "the block of record", key)
            text = encode_cid(cid)
            try:
                # the C decoder writes the XRPC JSON form directly ({"$link": cid}, {"$bytes": base64})
                value = decode_dag_cbor(block, atjson_mode=True)
            except ValueError as exc:
                yield RepoRecord(collection, rkey, text, None, f"not valid DAG-CBOR: {exc}")
                continue
            if not isinstance(value, dict):
                yield RepoRecord(collection, rkey, text, None, "record is not a map")
                continue
            yield RepoRecord(collection, rkey, text, value)

    @property
    def data_cid(self) -> str:
        """The root of the repository's MST at this commit (the ``prevData`` of the next one)."""
        return encode_cid(bytes(self._data))

    def cid_at(self, key: str) -> bytes | None:
        """The record CID the MST holds at ``key``, or ``None`` when it holds none. Only the nodes on the way to
        the key are read: a commit's diff CAR holds them (``missing_block`` when it does not)."""
        for found, cid in self.keys_in_range(key, key + "\x00"):
            return cid if found == key else None
        return None

    def block(self, cid: bytes, what: str) -> bytes:
        return _block(self._store, cid, what)

    def keys_in_range(self, low: str, high: str) -> Iterator[tuple[str, bytes]]:
        """``(key, record CID bytes)`` for every MST key in ``[low, high)``, in order.

        Subtrees wholly outside the range are never loaded; order across nodes is checked as keys come out.
        """
        return _in_order(self._store, self._data, low, high)


class _Node(NamedTuple):
    keys: list[str]
    vals: list[CID]
    #: subtrees[i] holds the keys between keys[i - 1] and keys[i]
    subtrees: list[CID | None]


def _refusal(exc: BadCar | BadBlock) -> RepoVerificationError:
    if isinstance(exc, TooManyBlocks):
        return RepoVerificationError("too_many_blocks", f"not indexed: {exc}")
    if isinstance(exc, BadBlock):
        return RepoVerificationError("bad_block", str(exc))
    return RepoVerificationError("bad_car", f"not a readable repository CAR: {exc}")


@contextmanager
def _refusing() -> Iterator[None]:
    """A CAR found unreadable or too large as it is read (one still being written is indexed as it arrives)."""
    try:
        yield
    except (BadCar, BadBlock) as exc:
        raise _refusal(exc) from None


def _block(store: CarBlocks, cid: bytes, what: str, of: str = "") -> bytes:
    """The block ``cid``; a missing or forged one fails the export, naming ``what`` (``of`` what) it was."""
    try:
        return store.get(cid)
    except (BadCar, BadBlock) as exc:  # a growing CAR is indexed as the walk meets it (``_refusing`` costs a call)
        raise _refusal(exc) from None
    except KeyError:
        # the message (and the CID in base32, costly) is made only here: a walk reads thousands of blocks
        named = f"{what} {of}" if of else what
        raise RepoVerificationError("missing_block", f"{named} ({encode_cid(cid)}) is not in the CAR") from None


def _in_order(store: CarBlocks, root: CID, low: str, high: str) -> Iterator[tuple[str, bytes]]:
    # iterative: nested generators would pass every key up through each level of the tree
    stack: list[tuple[_Node, int]] = []  # a node and the index of its next key
    pending: CID | None = root
    previous = ""
    while True:
        while pending is not None:
            node = _node(store, pending)
            first = bisect_left(node.keys, low)  # what is left of it is below the range
            stack.append((node, first))
            # the subtree left of a key equal to ``low`` holds only smaller keys: an exact lookup (a firehose op's
            # proof) reads the path to its key, not the right spine of its left neighbour too
            at_low = first < len(node.keys) and node.keys[first] == low
            pending = None if at_low else node.subtrees[first]
        if not stack:
            return
        node, i = stack.pop()
        if i == len(node.keys):
            continue
        key = node.keys[i]
        if key >= high:
            return
        if key <= previous:
            raise RepoVerificationError("bad_mst", f"MST keys out of order: {key!r} after {previous!r}")
        previous = key
        yield key, bytes(node.vals[i])
        stack.append((node, i + 1))
        pending = node.subtrees[i + 1]


def _as_provable(store: CarBlocks, root: CID, low: str, high: str) -> Iterator[tuple[str, bytes]]:
    """What :func:`_in_order` yields, in the order the blocks of a growing CAR make each record provable (its block
    and every node on its path from the root are there), waiting for the CAR to grow when nothing more is.

    The reference PDS writes an export's records newest first, the reverse of key order: a walk in key order would
    wait for the whole export. Order across nodes is checked by place instead: a subtree's keys must lie between the
    keys on either side of it in its parent, which for a tree whose nodes are each in order is the same check.
    """
    # what is still to come: a node's CID → the bounds (low, high) of each place it holds; a record's → its keys
    wanted: dict[bytes, list[tuple[str, str | None] | str]] = {}
    store.wanted = wanted
    ready: list[tuple[CID, str, str | None]] = [(root, "", None)]
    while True:
        while ready:
            cid, above, below = ready.pop()
            node = _node(store, cid)
            keys = node.keys
            if keys and (keys[0] <= above or (below is not None and keys[-1] >= below)):
                raise RepoVerificationError("bad_mst", f"MST node {cid.encode()} holds keys out of its place")
            for i, subtree in enumerate(node.subtrees):
                # the subtree left of keys[i] (right of the last key when i == len(keys)), and keys[i] itself
                left = keys[i - 1] if i else above
                right = keys[i] if i < len(keys) else below
                if subtree is not None and left < high and (right is None or right > low):
                    if store.has(bytes(subtree)):
                        ready.append((subtree, left, right))
                    else:
                        wanted.setdefault(bytes(subtree), []).append((left, right))
                if right is not None and i < len(keys) and low <= right < high:
                    value = bytes(node.vals[i])
                    if store.has(value):
                        yield right, value
                    else:
                        wanted.setdefault(value, []).append(right)
        if not wanted:
            return
        if store.whole:
            missing, [place, *_] = next(iter(wanted.items()))
            what, of = ("the block of record", place) if isinstance(place, str) else ("MST node", "")
            _block(store, missing, what, of)  # raises: it is not in the CAR
        store.wait()
        for cid_bytes in store.arrived:
            for place in wanted.pop(cid_bytes, ()):
                if isinstance(place, str):
                    yield place, cid_bytes
                else:
                    ready.append((CID(cid_bytes), *place))
        store.arrived.clear()


def _node(store: CarBlocks, cid: CID) -> _Node:
    """One MST node, its keys expanded from their prefix compression.

    atmst's MSTNode does the same and also recomputes every key's height (a SHA-256 each) to check the tree is
    canonical; that was 80 % of a walk, and an export's records are what its owner signed whatever its shape.
    Order is still checked here within a node and by the walk across nodes.
    """
    block = _block(store, bytes(cid), "MST node")
    try:
        data = decode_dag_cbor(block)
    except ValueError as exc:
        raise RepoVerificationError("bad_mst", f"MST node {cid.encode()} is not DAG-CBOR: {exc}") from None
    if not isinstance(data, dict) or len(data) != 2:
        raise RepoVerificationError("bad_mst", f"MST node {cid.encode()} is malformed")
    left, entries = data.get("l"), data.get("e")
    if not isinstance(entries, list) or not (left is None or isinstance(left, CID)):
        raise RepoVerificationError("bad_mst", f"MST node {cid.encode()} is malformed")
    node = _Node([], [], [left])
    previous = b""
    for entry in entries:
        if not isinstance(entry, dict) or len(entry) != 4:
            raise RepoVerificationError("bad_mst", f"MST node {cid.encode()} has a malformed entry")
        prefix, suffix, value, right = entry.get("p"), entry.get("k"), entry.get("v"), entry.get("t")
        if (
            not isinstance(prefix, int)
            or not isinstance(suffix, bytes)
            or not isinstance(value, CID)
            or not (right is None or isinstance(right, CID))
            or not 0 <= prefix <= len(previous)
        ):
            raise RepoVerificationError("bad_mst", f"MST node {cid.encode()} has a malformed entry")
        if prefix + len(suffix) > MAX_KEY_BYTES:
            # checked before the key is built: each key may extend the one before, so a node of n long suffixes
            # would otherwise build n keys of up to n suffixes each (a 1 MB node, gigabytes of keys)
            raise RepoVerificationError("bad_mst", f"MST node {cid.encode()} has a key over {MAX_KEY_BYTES} bytes")
        key = previous[:prefix] + suffix
        if key <= previous:  # the first key is compared with b"": an empty key is no key
            raise RepoVerificationError("bad_mst", f"MST node {cid.encode()} keys are out of order")
        try:
            node.keys.append(key.decode())
        except UnicodeDecodeError:
            raise RepoVerificationError("bad_mst", f"MST node {cid.encode()} has a key that is not UTF-8") from None
        node.vals.append(value)
        node.subtrees.append(right)
        previous = key
    return node


def encode_cid(cid: bytes) -> str:
    """A binary CID as its base32 text; libipld's Rust encoder is ~10x faster than the pure-Python base32."""
    return str(libipld.encode_cid(cid))


def open_verified(
    file: IO[bytes], *, did: str, signing_key: str, grow: Grow | None = None, size: int = 0
) -> VerifiedRepo:
    """Open a CAR export and check its commit: for ``did``, signed by ``signing_key`` (a ``did:key``).

    ``grow``: the export is still being written, ``size`` bytes of it so far (:class:`CarBlocks`): blocks are
    waited for as they are needed, and :meth:`VerifiedRepo.finish` waits for the rest; ``file`` must stay open.
    The repository holds the file's contents (or a mapping of them) until it is closed."""
    with _refusing():
        store = CarBlocks(file, grow=grow, size=size)
    try:
        try:
            commit = decode_dag_cbor(store.get(bytes(store.root)))
        except TooManyBlocks as exc:
            raise _refusal(exc) from None
        except (KeyError, ValueError) as exc:  # BadBlock and BadCar are ValueErrors
            raise RepoVerificationError("bad_car", f"not a readable repository CAR: {exc}") from None
        return _checked_commit(store, commit, did=did, signing_key=signing_key)
    except BaseException:
        store.close()
        raise


def open_commit(blocks: bytes, *, did: str, signing_key: str, commit_cid: CID) -> VerifiedRepo:
    """A firehose commit's diff CAR, its commit checked as :func:`open_verified` checks an export's, and its root
    the commit the event names (the CAR could otherwise carry another, correctly signed, older commit)."""
    verified = open_verified(io.BytesIO(blocks), did=did, signing_key=signing_key)
    if verified.commit_cid != encode_cid(bytes(commit_cid)):
        verified.close()
        raise RepoVerificationError("bad_commit", "the CAR's root is not the commit the event names")
    return verified


def _checked_commit(store: CarBlocks, commit: Any, *, did: str, signing_key: str) -> VerifiedRepo:
    root = store.root
    data = commit.get("data") if isinstance(commit, dict) else None
    if not isinstance(commit, dict) or not isinstance(data, CID):
        raise RepoVerificationError("bad_commit", "the CAR root is not a repository commit")
    if commit.get("did") != did:
        raise RepoVerificationError("did_mismatch", f"the commit is for {commit.get('did')!r}, not {did}")
    sig = commit.get("sig")
    if not isinstance(sig, bytes):
        raise RepoVerificationError("bad_commit", "the commit has no signature")
    unsigned = {k: v for k, v in commit.items() if k != "sig"}
    if not verify_signature(signing_key, encode_dag_cbor(unsigned), sig):
        raise RepoVerificationError("bad_signature", "the commit signature does not verify with the DID's key")
    return VerifiedRepo(did, str(commit.get("rev", "")), encode_cid(bytes(root)), store, data)
