"""A repository CAR export, verified and read without loading it whole.

The block store and MST walk are ``atmst``'s (hash-checked block reads from a file, key-range iteration), the
signature check is the atproto SDK's; what is ours is the policy: the commit must be for the expected DID and signed
by its current ``#atproto`` key, and only the ``pub.chive.*`` key range of the MST is walked.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, BinaryIO, cast

from atmst.blockstore.car_file import ReadOnlyCARBlockStore
from atmst.mst.node_store import NodeStore
from atmst.mst.node_walker import NodeWalker
from atproto_crypto.verify import verify_signature
from cbrrr import CID, decode_dag_cbor, encode_dag_cbor


class RepoVerificationError(ValueError):
    """The CAR is not a valid, correctly signed repository of the expected DID; ``code`` says which check failed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class RepoRecord:
    collection: str
    rkey: str
    cid: str
    value: dict[str, Any]


def to_json(value: Any) -> Any:
    """DAG-CBOR data model → the JSON form XRPC uses (``{"$link": cid}``, ``{"$bytes": base64}``)."""
    if isinstance(value, CID):
        return {"$link": value.encode("base32")}
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode().rstrip("=")}
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    return value


@dataclass
class VerifiedRepo:
    did: str
    rev: str
    commit_cid: str
    _store: ReadOnlyCARBlockStore
    _data: CID

    def records(self, prefix: str) -> Iterator[RepoRecord]:
        """Every record whose ``collection/rkey`` key starts with ``prefix``, in key order."""
        walker = NodeWalker(NodeStore(self._store), self._data)
        # keys are "<collection>/<rkey>"; the range [prefix, prefix + U+FFFF) covers every key with that prefix
        for key, cid in walker.iter_kv_range(prefix, prefix + "\uffff"):
            collection, _, rkey = key.partition("/")
            try:
                value = decode_dag_cbor(self._store.get_block(bytes(cid)))
            except KeyError:
                raise RepoVerificationError("missing_block", f"record block {key} is not in the CAR") from None
            if not isinstance(value, dict):
                raise RepoVerificationError("bad_record", f"record {key} is not a map")
            yield RepoRecord(collection, rkey, cid.encode("base32"), to_json(value))


def open_verified(file: IO[bytes], *, did: str, signing_key: str) -> VerifiedRepo:
    """Open a CAR export and check its commit: for ``did``, signed by ``signing_key`` (a ``did:key``)."""
    try:
        store = ReadOnlyCARBlockStore(cast(BinaryIO, file))
        root = store.car_root
        commit = decode_dag_cbor(store.get_block(bytes(root)))
    except (ValueError, EOFError, KeyError) as exc:
        raise RepoVerificationError("bad_car", f"not a readable repository CAR: {exc}") from None
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
    return VerifiedRepo(did, str(commit.get("rev", "")), root.encode("base32"), store, data)
