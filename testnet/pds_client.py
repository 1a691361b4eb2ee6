"""A small synchronous XRPC client for the testnet's PDSes (seeding and inspecting test data).

Plain ``httpx`` calls to the standard ``com.atproto.*`` methods, so a test shows exactly what went
over the wire. Sync on purpose: it is used from session fixtures and from async tests alike
(the project runs pytest-asyncio with function-scoped loops).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

#: com.atproto.repo.applyWrites accepts at most this many writes per call (PDS limit).
APPLY_WRITES_MAX = 200
HANDLE_LABEL_MAX = 18  # the PDS refuses longer first labels under its service handle domain


class XrpcError(Exception):
    """A non-2xx XRPC response."""

    def __init__(self, method: str, status: int, error: str | None, message: str | None) -> None:
        super().__init__(f"{method}: HTTP {status} {error or ''}: {message or ''}".strip())
        self.method = method
        self.status = status
        self.error = error
        self.message = message


@dataclass(frozen=True)
class Account:
    """An account created on a testnet PDS."""

    did: str
    handle: str
    password: str
    email: str
    access_jwt: str
    refresh_jwt: str
    pds_url: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_jwt}"}


@dataclass(frozen=True)
class RecordRef:
    uri: str
    cid: str

    @property
    def rkey(self) -> str:
        return self.uri.rsplit("/", 1)[-1]

    @property
    def collection(self) -> str:
        return self.uri.split("/")[-2]


def unique_handle(domain: str = ".test", prefix: str = "t") -> str:
    """A fresh, valid handle under a PDS service domain (``t<hex>.test``), ≤ 18 chars in its label."""
    clean = "".join(ch for ch in prefix.lower() if ch.isascii() and ch.isalnum()) or "t"
    if not clean[0].isalpha():
        clean = "t" + clean
    label = (clean[:6] + uuid.uuid4().hex)[:HANDLE_LABEL_MAX]
    return label + (domain if domain.startswith(".") else "." + domain)


class PdsClient:
    """Sync XRPC client bound to one PDS. ``admin_password`` enables ``com.atproto.admin.*`` calls."""

    def __init__(
        self,
        base_url: str,
        *,
        admin_password: str | None = None,
        handle_domain: str = ".test",
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.admin_password = admin_password
        self.handle_domain = handle_domain
        self.http = httpx.Client(base_url=self.base_url, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> PdsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- raw XRPC ---------------------------------------------------------------------------------

    @staticmethod
    def _raise_for(method: str, resp: httpx.Response) -> None:
        if resp.is_success:
            return
        error = message = None
        try:
            body = resp.json()
            error, message = body.get("error"), body.get("message")
        except ValueError:
            message = resp.text[:500]
        raise XrpcError(method, resp.status_code, error, message)

    def admin_headers(self) -> dict[str, str]:
        if not self.admin_password:
            raise ValueError("this PdsClient has no admin password")
        token = base64.b64encode(f"admin:{self.admin_password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def query(self, method: str, params: dict[str, Any] | None = None, *, headers: dict[str, str] | None = None) -> Any:
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        resp = self.http.get(f"/xrpc/{method}", params=clean, headers=headers)
        self._raise_for(method, resp)
        return resp.json()

    def query_bytes(self, method: str, params: dict[str, Any], *, headers: dict[str, str] | None = None) -> bytes:
        resp = self.http.get(f"/xrpc/{method}", params=params, headers=headers)
        self._raise_for(method, resp)
        return resp.content

    def procedure(
        self,
        method: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> Any:
        if content is not None:
            hdrs = dict(headers or {})
            hdrs["Content-Type"] = content_type or "application/octet-stream"
            resp = self.http.post(f"/xrpc/{method}", content=content, headers=hdrs)
        elif body is not None:
            resp = self.http.post(f"/xrpc/{method}", json=body, headers=headers)
        else:
            resp = self.http.post(f"/xrpc/{method}", headers=headers)
        self._raise_for(method, resp)
        if not resp.content:
            return None
        return resp.json() if resp.headers.get("content-type", "").startswith("application/json") else resp.content

    # -- accounts ---------------------------------------------------------------------------------

    def create_account(self, handle: str | None = None, *, prefix: str = "t", password: str | None = None) -> Account:
        """``com.atproto.server.createAccount`` with a unique handle under this PDS's domain."""
        handle = handle or unique_handle(self.handle_domain, prefix)
        password = password or f"pw-{uuid.uuid4().hex}"
        email = f"{handle.split('.')[0]}@example.com"
        out = self.procedure(
            "com.atproto.server.createAccount", {"handle": handle, "email": email, "password": password}
        )
        return Account(
            did=out["did"],
            handle=out["handle"],
            password=password,
            email=email,
            access_jwt=out["accessJwt"],
            refresh_jwt=out["refreshJwt"],
            pds_url=self.base_url,
        )

    def login(self, account: Account) -> Account:
        """``com.atproto.server.createSession``: a fresh access token (e.g. after reactivation)."""
        out = self.procedure(
            "com.atproto.server.createSession", {"identifier": account.did, "password": account.password}
        )
        return Account(
            did=account.did,
            handle=out["handle"],
            password=account.password,
            email=account.email,
            access_jwt=out["accessJwt"],
            refresh_jwt=out["refreshJwt"],
            pds_url=self.base_url,
        )

    def update_handle(self, account: Account, handle: str) -> None:
        """``com.atproto.identity.updateHandle``: the PDS writes the new handle into the DID document (PLC)."""
        self.procedure("com.atproto.identity.updateHandle", {"handle": handle}, headers=account.auth)

    def deactivate_account(self, account: Account, delete_after: str | None = None) -> None:
        """``com.atproto.server.deactivateAccount``: listRepos then reports the repo inactive."""
        body = {"deleteAfter": delete_after} if delete_after else {}
        self.procedure("com.atproto.server.deactivateAccount", body, headers=account.auth)

    def activate_account(self, account: Account) -> None:
        self.procedure("com.atproto.server.activateAccount", headers=account.auth)

    def takedown_account(self, did: str, ref: str = "test-takedown") -> None:
        """Admin takedown (``com.atproto.admin.updateSubjectStatus``); needs the admin password."""
        self.procedure(
            "com.atproto.admin.updateSubjectStatus",
            {
                "subject": {"$type": "com.atproto.admin.defs#repoRef", "did": did},
                "takedown": {"applied": True, "ref": ref},
            },
            headers=self.admin_headers(),
        )

    def delete_account_admin(self, did: str) -> None:
        """Admin delete (``com.atproto.admin.deleteAccount``): the repo is gone from this PDS."""
        self.procedure("com.atproto.admin.deleteAccount", {"did": did}, headers=self.admin_headers())

    def get_service_auth(self, account: Account, aud: str, lxm: str | None = None, exp: int | None = None) -> str:
        """``com.atproto.server.getServiceAuth``: a service-auth JWT signed with the account's key."""
        out = self.query(
            "com.atproto.server.getServiceAuth", {"aud": aud, "lxm": lxm, "exp": exp}, headers=account.auth
        )
        return str(out["token"])

    # -- records ----------------------------------------------------------------------------------

    def create_record(
        self,
        account: Account,
        collection: str,
        record: dict[str, Any],
        *,
        rkey: str | None = None,
        validate: bool | None = None,
    ) -> RecordRef:
        body: dict[str, Any] = {"repo": account.did, "collection": collection, "record": record}
        if rkey is not None:
            body["rkey"] = rkey
        if validate is not None:
            body["validate"] = validate
        out = self.procedure("com.atproto.repo.createRecord", body, headers=account.auth)
        return RecordRef(out["uri"], out["cid"])

    def put_record(
        self,
        account: Account,
        collection: str,
        rkey: str,
        record: dict[str, Any],
        *,
        swap_record: str | None = None,
    ) -> RecordRef:
        body: dict[str, Any] = {"repo": account.did, "collection": collection, "rkey": rkey, "record": record}
        if swap_record is not None:
            body["swapRecord"] = swap_record
        out = self.procedure("com.atproto.repo.putRecord", body, headers=account.auth)
        return RecordRef(out["uri"], out["cid"])

    def delete_record(self, account: Account, collection: str, rkey: str) -> None:
        self.procedure(
            "com.atproto.repo.deleteRecord",
            {"repo": account.did, "collection": collection, "rkey": rkey},
            headers=account.auth,
        )

    def get_record(self, repo: str, collection: str, rkey: str) -> dict[str, Any]:
        return dict(self.query("com.atproto.repo.getRecord", {"repo": repo, "collection": collection, "rkey": rkey}))

    def apply_writes(self, account: Account, writes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One ``com.atproto.repo.applyWrites`` call (≤ :data:`APPLY_WRITES_MAX` writes)."""
        if len(writes) > APPLY_WRITES_MAX:
            raise ValueError(f"applyWrites takes at most {APPLY_WRITES_MAX} writes, got {len(writes)}")
        out = self.procedure(
            "com.atproto.repo.applyWrites", {"repo": account.did, "writes": writes}, headers=account.auth
        )
        return list(out.get("results", [])) if out else []

    def bulk_create(
        self,
        account: Account,
        collection: str,
        records: Iterable[dict[str, Any]] | int,
        *,
        factory: Callable[[int], dict[str, Any]] | None = None,
        rkeys: Iterable[str] | None = None,
        chunk: int = APPLY_WRITES_MAX,
    ) -> list[RecordRef]:
        """Create many records in one repo with applyWrites, ``chunk`` writes per call.

        ``records`` is an iterable of records, or a count with ``factory(i)`` building record ``i``.
        ``rkeys`` optionally gives each record's rkey (else the PDS assigns TIDs). Returns the refs
        in input order.
        """
        if isinstance(records, int):
            if factory is None:
                raise ValueError("bulk_create(count) needs a factory")
            records = (factory(i) for i in range(records))
        if not 1 <= chunk <= APPLY_WRITES_MAX:
            raise ValueError(f"chunk must be 1..{APPLY_WRITES_MAX}")
        rkey_iter: Iterator[str] | None = iter(rkeys) if rkeys is not None else None
        refs: list[RecordRef] = []
        batch: list[dict[str, Any]] = []

        def flush() -> None:
            for result in self.apply_writes(account, batch):
                refs.append(RecordRef(result["uri"], result["cid"]))
            batch.clear()

        for record in records:
            write: dict[str, Any] = {
                "$type": "com.atproto.repo.applyWrites#create",
                "collection": collection,
                "value": record,
            }
            if rkey_iter is not None:
                write["rkey"] = next(rkey_iter)
            batch.append(write)
            if len(batch) >= chunk:
                flush()
        if batch:
            flush()
        return refs

    def list_records(
        self, repo: str, collection: str, *, limit: int = 100, cursor: str | None = None, reverse: bool | None = None
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"repo": repo, "collection": collection, "limit": limit, "cursor": cursor}
        if reverse is not None:
            params["reverse"] = "true" if reverse else "false"
        return dict(self.query("com.atproto.repo.listRecords", params))

    def list_all_records(self, repo: str, collection: str, *, limit: int = 100) -> list[dict[str, Any]]:
        """All records of a collection, following the cursor until it is absent."""
        out: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = self.list_records(repo, collection, limit=limit, cursor=cursor)
            out.extend(page.get("records", []))
            cursor = page.get("cursor")
            if not cursor:
                return out

    def describe_repo(self, repo: str) -> dict[str, Any]:
        return dict(self.query("com.atproto.repo.describeRepo", {"repo": repo}))

    # -- blobs ------------------------------------------------------------------------------------

    def upload_blob(self, account: Account, data: bytes, mime_type: str) -> dict[str, Any]:
        """``com.atproto.repo.uploadBlob``; returns the blob ref to put in a record.

        The PDS keeps an uploaded blob only if a record references it soon after.
        """
        out = self.procedure("com.atproto.repo.uploadBlob", headers=account.auth, content=data, content_type=mime_type)
        return dict(out["blob"])

    def get_blob(self, did: str, cid: str) -> bytes:
        return self.query_bytes("com.atproto.sync.getBlob", {"did": did, "cid": cid})

    # -- sync -------------------------------------------------------------------------------------

    def list_repos(self, *, limit: int = 500) -> list[dict[str, Any]]:
        """All repos on this PDS (``com.atproto.sync.listRepos``), following the cursor."""
        out: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = self.query("com.atproto.sync.listRepos", {"limit": limit, "cursor": cursor})
            out.extend(page.get("repos", []))
            cursor = page.get("cursor")
            if not cursor:
                return out

    def get_repo_status(self, did: str) -> dict[str, Any]:
        """``com.atproto.sync.getRepoStatus``: ``{"did", "active", "status"?, "rev"?}``."""
        return dict(self.query("com.atproto.sync.getRepoStatus", {"did": did}))

    def get_repo(self, did: str) -> bytes:
        """The repo as a CAR file (``com.atproto.sync.getRepo``)."""
        return self.query_bytes("com.atproto.sync.getRepo", {"did": did})
