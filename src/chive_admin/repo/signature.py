"""Commit signatures: ES256K through libsecp256k1 (``coincurve``), any other algorithm through the SDK.

The SDK verifies with ``cryptography``, whose secp256k1 is OpenSSL's generic curve code, about ten times slower than
libsecp256k1; a commit's signature is most of what judging a firehose commit costs (``python -m bench.firehose``).
The rules are the SDK's: a 64-byte ``r||s``, low-S only (the atproto spec refuses the malleable high-S twin).
"""

from __future__ import annotations

from functools import lru_cache

import coincurve
from atproto_crypto.consts import SECP256K1_CURVE_ORDER, SECP256K1_JWT_ALG
from atproto_crypto.did import parse_did_key
from atproto_crypto.verify import verify_signature as sdk_verify
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

#: parsed ``did:key``s kept; the keys of the repositories a firehose is busy with, in bounded memory
KEYS_CACHED = 4096


@lru_cache(maxsize=KEYS_CACHED)
def _k256(did_key: str) -> coincurve.PublicKey | None:
    """The libsecp256k1 key of an ES256K ``did:key``; ``None`` for another algorithm (the SDK's then)."""
    parsed = parse_did_key(did_key)
    return coincurve.PublicKey(parsed.key_bytes) if parsed.jwt_alg == SECP256K1_JWT_ALG else None


def verify_signature(did_key: str, data: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is the ``did_key`` holder's over ``data``. A ``did:key`` that does not parse raises
    as the SDK's does."""
    key = _k256(did_key)
    if key is None:
        return bool(sdk_verify(did_key, data, signature))
    if len(signature) != 64:
        return False
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    if not (0 < r < SECP256K1_CURVE_ORDER and 0 < s <= SECP256K1_CURVE_ORDER // 2):
        return False
    try:
        return bool(key.verify(encode_dss_signature(r, s), data))
    except ValueError:
        return False
