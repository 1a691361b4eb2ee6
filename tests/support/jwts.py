"""Signing service-auth JWTs in tests, with keys we hold (P-256 or secp256k1), as a PDS would."""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from atproto_crypto.consts import P256_CURVE_ORDER, SECP256K1_CURVE_ORDER
from atproto_crypto.did import format_did_key, format_multikey
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

_CURVES = {"ES256": (ec.SECP256R1(), P256_CURVE_ORDER), "ES256K": (ec.SECP256K1(), SECP256K1_CURVE_ORDER)}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class SigningKey:
    alg: str = "ES256K"
    private: ec.EllipticCurvePrivateKey = field(init=False)

    def __post_init__(self) -> None:
        self.private = ec.generate_private_key(_CURVES[self.alg][0])

    @property
    def public_bytes(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    @property
    def did_key(self) -> str:
        return format_did_key(self.alg, self.public_bytes)

    @property
    def multikey(self) -> str:
        return format_multikey(self.alg, self.public_bytes)

    def sign(self, data: bytes) -> bytes:
        """Raw r||s, low-S, as atproto requires."""
        r, s = decode_dss_signature(self.private.sign(data, ec.ECDSA(hashes.SHA256())))
        order = _CURVES[self.alg][1]
        if s > order // 2:
            s = order - s
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def service_token(
    key: SigningKey,
    *,
    iss: str,
    aud: Any,
    lxm: Any = None,
    exp: Any = "default",
    iat: Any = "default",
    jti: Any = "default",
    header: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    signature: bytes | None = None,
) -> str:
    """A JWT like getServiceAuth's; every claim can be dropped (None) or bent to test a refusal."""
    now = int(time.time())
    claims: dict[str, Any] = {"iss": iss, "aud": aud}
    for name, value, default in (
        ("exp", exp, now + 60),
        ("iat", iat, now),
        ("jti", jti, secrets.token_hex(16)),
        ("lxm", lxm, None),
    ):
        chosen = default if value == "default" else value
        if chosen is not None:
            claims[name] = chosen
    claims.update(extra or {})
    head = {"typ": "JWT", "alg": key.alg, **(header or {})}
    signing_input = f"{b64url(json.dumps(head).encode())}.{b64url(json.dumps(claims).encode())}"
    sig = signature if signature is not None else key.sign(signing_input.encode())
    return f"{signing_input}.{b64url(sig)}"
