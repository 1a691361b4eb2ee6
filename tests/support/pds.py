"""A PDS that holds a few repositories in memory and answers the ``com.atproto`` methods the jobs call, the way the
reference PDS answers them; with the PLC directory that names it, on the same loopback server.

For the unit tests of jobs and ingest helpers, offline: what the real PDS does end to end is in tests/interop. Any
request can be answered otherwise by putting an ``Answer`` (or a function of the request, ``None`` where it answers
as usual) in ``overrides`` under the method's NSID, for the faults a real PDS does not make on demand.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
from cbrrr import CID, encode_dag_cbor
from starlette.requests import Request

from chive_admin._generated import ids
from chive_admin.upstream.atproto import AtprotoClient
from chive_admin.upstream.calls import RetryPolicy, XrpcCaller
from chive_admin.upstream.guard import upstream_http
from chive_admin.upstream.hosts import HostPolicy
from support.cars import KEY
from support.scripted import Answer, scripted_server

JSON = {"content-type": "application/json"}

Override = Answer | Callable[[Request], Answer | None]


def cid_of(value: Any) -> str:
    """A record's CID: DAG-CBOR, sha2-256, as a PDS computes it."""
    return CID.cidv1_dag_cbor_sha256_32_from(encode_dag_cbor(value)).encode()


def did_document(did: str, handle: str, pds: str) -> dict[str, Any]:
    """A DID document naming ``pds`` as the DID's PDS, and the key repository exports are signed with."""
    return {
        "@context": ["https://www.w3.org/ns/did/v1"],
        "id": did,
        "alsoKnownAs": [f"at://{handle}"],
        "verificationMethod": [
            {"id": f"{did}#atproto", "type": "Multikey", "controller": did, "publicKeyMultibase": KEY.multikey}
        ],
        "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": pds}],
    }


def _json(data: Any, status: int = 200) -> Answer:
    return Answer(status, json.dumps(data).encode(), JSON)


def _error(name: str, message: str = "", status: int = 400) -> Answer:
    return _json({"error": name, "message": message or name}, status)


@dataclass
class Repo:
    did: str
    handle: str
    #: collection → rkey → record value
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: ``None`` while active; else why the PDS no longer serves it ("deactivated", "takendown"…)
    status: str | None = None
    #: blob CID → (bytes, MIME type)
    blobs: dict[str, tuple[bytes, str]] = field(default_factory=dict)


@dataclass
class ScriptedPds:
    url: str = ""
    repos: dict[str, Repo] = field(default_factory=dict)
    overrides: dict[str, Override] = field(default_factory=dict)
    #: the NSID of every XRPC request answered (a path for any other request), in order
    seen: list[str] = field(default_factory=list)
    #: seconds each answer to the NSID waits before it is sent (a busy PDS: an op that lasts long enough to be
    #: interrupted)
    delays: dict[str, float] = field(default_factory=dict)

    def repo(self, did: str, handle: str | None = None) -> Repo:
        """The repository of ``did``, created (active, empty) on first use."""
        if did not in self.repos:
            self.repos[did] = Repo(did, handle or f"{did.rsplit(':', 1)[1][:12]}.test")
        return self.repos[did]

    def put(self, did: str, collection: str, rkey: str, value: Any) -> str:
        """Write one record; its AT URI."""
        self.repo(did).records.setdefault(collection, {})[rkey] = value
        return f"at://{did}/{collection}/{rkey}"

    def delete(self, did: str, collection: str, rkey: str) -> None:
        del self.repos[did].records[collection][rkey]

    def document(self, did: str) -> dict[str, Any]:
        """The DID document the PLC directory serves: this PDS, and the key repository exports are signed with."""
        return did_document(did, self.repo(did).handle, self.url)

    def also_directory_of(self, other: ScriptedPds) -> None:
        """This PDS's PLC directory serves the documents of ``other``'s repositories too (each naming ``other``)."""
        for did in other.repos:
            self.overrides[f"/{did}"] = _json(other.document(did))

    def answer(self, request: Request) -> Answer:
        nsid = request.url.path.removeprefix("/xrpc/")
        self.seen.append(nsid)
        answer = self._answer(nsid, request)
        delay = self.delays.get(nsid)
        return replace(answer, delay=delay) if delay else answer

    def _answer(self, nsid: str, request: Request) -> Answer:
        override = self.overrides.get(nsid)
        instead = override(request) if callable(override) else override
        if instead is not None:
            return instead
        query = request.query_params
        if request.url.path.startswith("/did:"):  # the PLC directory
            did = request.url.path[1:]
            return (
                _json(self.document(did))
                if did in self.repos
                else _json({"message": f"DID not registered: {did}"}, 404)
            )
        if nsid == ids.COM_ATPROTO_SYNC_LIST_REPOS:
            return self._list_repos(query.get("cursor"), int(query.get("limit", "500")))
        if nsid == ids.COM_ATPROTO_SYNC_GET_REPO_STATUS:
            repo = self.repos.get(query["did"])
            if repo is None:
                return _error("RepoNotFound", f"Could not find repo for DID: {query['did']}")
            status = {"status": repo.status} if repo.status else {}
            return _json({"did": repo.did, "active": repo.status is None, **status})
        repo = self.repos.get(query.get("repo") or query.get("did") or "")
        if repo is None:
            return _error("InvalidRequest", "Could not find repo")
        if repo.status is not None:  # what a PDS says of a repository it no longer serves
            return _error(f"Repo{repo.status.capitalize()}", f"Repo has been {repo.status}")
        if nsid == ids.COM_ATPROTO_REPO_DESCRIBE_REPO:
            return _json(
                {
                    "handle": repo.handle,
                    "did": repo.did,
                    "didDoc": self.document(repo.did),
                    "collections": sorted(repo.records),
                    "handleIsCorrect": True,
                }
            )
        if nsid == ids.COM_ATPROTO_REPO_LIST_RECORDS:
            reverse = query.get("reverse") == "true"
            return self._list_records(repo, query["collection"], query.get("cursor"), int(query["limit"]), reverse)
        if nsid == ids.COM_ATPROTO_REPO_GET_RECORD:
            value = repo.records.get(query["collection"], {}).get(query["rkey"])
            if value is None:
                return _error("RecordNotFound", "Could not locate record")
            uri = f"at://{repo.did}/{query['collection']}/{query['rkey']}"
            return _json({"uri": uri, "cid": cid_of(value), "value": value})
        if nsid == ids.COM_ATPROTO_SYNC_GET_BLOB:
            blob = repo.blobs.get(query["cid"])
            if blob is None:
                return _error("BlobNotFound", "Blob not found")
            return Answer(200, blob[0], {"content-type": blob[1]})
        return _error("MethodNotImplemented", f"{nsid} is not served here", 501)

    def _list_repos(self, cursor: str | None, limit: int) -> Answer:
        listed = [did for did in sorted(self.repos) if cursor is None or did > cursor][:limit]
        rows = []
        for did in listed:
            repo = self.repos[did]
            row = {"did": did, "head": cid_of({"head": did}), "rev": "3kabcdefghi22", "active": repo.status is None}
            rows.append(row | ({"status": repo.status} if repo.status else {}))
        return _json({"repos": rows} | ({"cursor": listed[-1]} if listed else {}))

    def _list_records(self, repo: Repo, collection: str, cursor: str | None, limit: int, reverse: bool) -> Answer:
        """Newest record key first (``reverse``: oldest first), the cursor being the last key of the page."""
        keys = sorted(repo.records.get(collection, {}), reverse=not reverse)
        if cursor is not None:
            keys = [key for key in keys if (key > cursor if reverse else key < cursor)]
        page = keys[:limit]
        values = repo.records[collection] if page else {}
        rows = [
            {"uri": f"at://{repo.did}/{collection}/{key}", "cid": cid_of(values[key]), "value": values[key]}
            for key in page
        ]
        return _json({"records": rows} | ({"cursor": page[-1]} if page else {}))


@contextmanager
def scripted_pds() -> Iterator[ScriptedPds]:
    """A ``ScriptedPds`` serving at ``.url`` until the block ends (its PLC directory is the same URL)."""
    with scripted_server() as (url, script):
        pds = ScriptedPds(url)
        script.default = pds.answer
        yield pds


@asynccontextmanager
async def atproto_client(*, attempts: int = 1) -> AsyncIterator[AtprotoClient]:
    """The production upstream client, the guard letting loopback through; each call tried ``attempts`` times."""
    async with upstream_http(allow_private=True, timeout=httpx.Timeout(2.0)) as http:
        yield AtprotoClient(XrpcCaller(http, HostPolicy(), RetryPolicy(attempts=attempts)))
