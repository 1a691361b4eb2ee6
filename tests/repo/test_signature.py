"""Signatures verified as the SDK verifies them (libsecp256k1 for ES256K): valid ones pass, and a forged, truncated,
high-S or other key's signature does not; a P-256 key still goes through the SDK."""

from __future__ import annotations

import pytest
from atproto_crypto.consts import SECP256K1_CURVE_ORDER
from atproto_crypto.exceptions import DidKeyError
from atproto_crypto.verify import verify_signature as sdk_verify
from support.jwts import SigningKey

from chive_admin.repo.signature import verify_signature

DATA = b"a commit's unsigned bytes"


@pytest.mark.parametrize("alg", ["ES256K", "ES256"])
def test_agrees_with_the_sdk(alg: str) -> None:
    key, other = SigningKey(alg), SigningKey(alg)
    good = key.sign(DATA)
    cases = [
        (key.did_key, DATA, good),
        (key.did_key, DATA + b"!", good),
        (other.did_key, DATA, good),
        (key.did_key, DATA, good[:63]),
        (key.did_key, DATA, good + b"\x00"),
        (key.did_key, DATA, b"\x00" * 64),
        (key.did_key, DATA, bytes(reversed(good))),
    ]
    for did_key, data, signature in cases:
        assert verify_signature(did_key, data, signature) == sdk_verify(did_key, data, signature)
    assert verify_signature(key.did_key, DATA, good)


def test_the_high_s_twin_of_a_valid_signature_is_refused() -> None:
    key = SigningKey("ES256K")
    good = key.sign(DATA)
    s = int.from_bytes(good[32:], "big")
    twin = good[:32] + (SECP256K1_CURVE_ORDER - s).to_bytes(32, "big")  # valid ECDSA, but malleated
    assert verify_signature(key.did_key, DATA, good)
    assert not verify_signature(key.did_key, DATA, twin)


def test_a_did_key_that_does_not_parse_raises_as_the_sdks_does() -> None:
    for verify in (verify_signature, sdk_verify):
        with pytest.raises(DidKeyError):
            verify("did:key:zNotAKey", DATA, b"\x00" * 64)
