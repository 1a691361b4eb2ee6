"""A did:plc identity of our own on a PLC directory (the testnet's): genesis, key rotation and tombstone operations,
signed with a rotation key we hold, so tests can rotate and tombstone a real did:plc."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

import httpx
import libipld

from support.jwts import SigningKey, b64url


def _cid(signed: dict[str, Any]) -> str:
    digest = hashlib.sha256(libipld.encode_dag_cbor(signed)).digest()
    raw = b"\x01\x71\x12\x20" + digest  # CIDv1, dag-cbor, sha2-256
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


@dataclass
class PlcIdentity:
    plc_url: str
    handle: str = "plc-test.example"
    rotation: SigningKey = field(default_factory=lambda: SigningKey("ES256K"))
    signing: SigningKey = field(default_factory=lambda: SigningKey("ES256K"))
    did: str = ""
    last_cid: str | None = None

    def _sign(self, op: dict[str, Any]) -> dict[str, Any]:
        return {**op, "sig": b64url(self.rotation.sign(libipld.encode_dag_cbor(op)))}

    def _submit(self, signed: dict[str, Any]) -> None:
        response = httpx.post(f"{self.plc_url}/{self.did}", json=signed, timeout=10)
        if response.status_code != 200:
            raise RuntimeError(f"PLC refused the operation: {response.status_code} {response.text[:300]}")
        self.last_cid = _cid(signed)

    def _operation(self) -> dict[str, Any]:
        return {
            "type": "plc_operation",
            "rotationKeys": [self.rotation.did_key],
            "verificationMethods": {"atproto": self.signing.did_key},
            "alsoKnownAs": [f"at://{self.handle}"],
            "services": {"atproto_pds": {"type": "AtprotoPersonalDataServer", "endpoint": "https://pds.example"}},
            "prev": self.last_cid,
        }

    def create(self) -> PlcIdentity:
        signed = self._sign(self._operation())
        digest = hashlib.sha256(libipld.encode_dag_cbor(signed)).digest()
        self.did = "did:plc:" + base64.b32encode(digest).decode().lower()[:24]
        self._submit(signed)
        return self

    def rotate_signing_key(self) -> SigningKey:
        self.signing = SigningKey("ES256K")
        self._submit(self._sign(self._operation()))
        return self.signing

    def tombstone(self) -> None:
        self._submit(self._sign({"type": "plc_tombstone", "prev": self.last_cid}))
