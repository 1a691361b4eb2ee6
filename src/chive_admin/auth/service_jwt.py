"""Strict verification of ATProto service-auth JWTs (what ``com.atproto.server.getServiceAuth`` issues).

Parsing and signature checks are the atproto SDK's (``atproto_server.auth.jwt``, ``atproto_crypto``); this module
adds what the SDK leaves to the service: the allowed algorithms and their match with the key, ``typ``, no ``crit``
extension (RFC 7515 §4.1.11: we understand none), required ``exp``, ``lxm`` and ``jti``, ``nbf``, exact ``aud``, a
bounded lifetime, one re-resolution on a bad signature (key rotation) and a ``jti`` replay cache. Every refusal has
its own reason code, for logs and the audit trail; the client only learns that authentication failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from atproto_crypto.did import parse_did_key
from atproto_crypto.verify import verify_signature
from atproto_server.auth.jwt import parse_jwt
from atproto_server.exceptions import TokenDecodeError

from chive_admin import untrusted_json
from chive_admin.auth.identity import IdentityError, IdentityResolver, ResolutionShed
from chive_admin.auth.replay import Replay, ReplayCache
from chive_admin.lex.formats import validate_did

ALGORITHMS = frozenset({"ES256K", "ES256"})
#: tokens of a PDS's own sessions and of OAuth: never service auth, whatever else they carry
SESSION_TYPES = frozenset({"at+jwt", "refresh+jwt", "dpop+jwt"})
DEFAULT_SKEW_SECONDS = 30
#: the replay cache holds each jti until its exp, so a bound on lifetime bounds its entries' lives (getServiceAuth
#: allows 1 h)
MAX_LIFETIME_SECONDS = 3600
#: getServiceAuth's jti is 32 hex characters; a longer one is no token of a PDS, and would only cost memory
MAX_JTI_CHARS = 128


class TokenRefused(Exception):
    def __init__(self, reason: str, message: str, *, issuer: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        #: the DID the token claims, for logs only: nothing proves it when the token is refused
        self.issuer = issuer


@dataclass(frozen=True)
class ServiceToken:
    """A token whose form and claims passed; its signature is checked (and its jti spent) separately."""

    issuer: str
    jti: str
    exp: int
    alg: str
    signing_input: bytes
    signature: bytes


class ServiceJwtVerifier:
    """Three steps, which the authenticator runs in order: ``read`` (no I/O), ``check_signature`` (resolves the
    issuer), and ``spend`` (the jti), the last only once the caller is known to be allowed the method."""

    def __init__(
        self,
        service_did: str,
        resolver: IdentityResolver,
        *,
        skew_seconds: int = DEFAULT_SKEW_SECONDS,
        replay: Replay | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.service_did = service_did
        self.resolver = resolver
        self.skew = skew_seconds
        self.replay: Replay = replay or ReplayCache(clock=clock)
        self._clock = clock

    def read(self, token: str, nsid: str) -> ServiceToken:
        """The token's claims, checked for the method ``nsid``; ``TokenRefused`` says which one fails."""
        try:
            payload_bytes, signing_input, header, signature = parse_jwt(token)
            payload = untrusted_json.loads(payload_bytes)
        except (TokenDecodeError, ValueError, UnicodeError):
            raise TokenRefused("malformed", "the token is not a JWT") from None
        if not isinstance(payload, dict):
            raise TokenRefused("malformed", "the token payload is not an object")
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise TokenRefused("bad_alg", f"alg {str(alg)[:20]!r} is not allowed")
        if header.get("typ") in SESSION_TYPES:
            raise TokenRefused("session_token", f"a {header.get('typ')} token is not a service-auth token")
        if "crit" in header:
            raise TokenRefused("unknown_crit", "the token names critical extensions this service does not know")
        issuer = self._issuer(payload.get("iss"))
        self._check_claims(payload, nsid, issuer)
        return ServiceToken(issuer, str(payload["jti"]), int(payload["exp"]), str(alg), signing_input, signature)

    async def check_signature(self, token: ServiceToken, *, vouched: bool) -> None:
        """``TokenRefused`` unless the issuer's current key signed the token; ``ResolutionShed`` when the issuer
        is not ``vouched`` for and the budget for resolving such issuers is spent."""
        key = await self._key(token.issuer, vouched=vouched)
        if _key_alg(key) == token.alg and _verifies(key, token.signing_input, token.signature):
            return
        # the key may have rotated since it was cached: look once more (rate-limited per DID by the resolver)
        rotated = await self._key(token.issuer, vouched=vouched, fresh=True)
        if _key_alg(rotated) != token.alg:
            raise TokenRefused(
                "alg_key_mismatch", f"alg {token.alg} does not match the issuer's key", issuer=token.issuer
            )
        if rotated == key or not _verifies(rotated, token.signing_input, token.signature):
            raise TokenRefused("bad_signature", "the token signature does not verify", issuer=token.issuer)

    async def spend(self, token: ServiceToken) -> None:
        """Use the token's jti up: ``TokenRefused`` if it was used before; ``ReplayFull`` when there is no room."""
        if not await self.replay.first_use(token.issuer, token.jti, token.exp + self.skew):
            raise TokenRefused("replayed", "the token was already used", issuer=token.issuer)

    @staticmethod
    def _issuer(iss: object) -> str:
        if not isinstance(iss, str):
            raise TokenRefused("missing_iss", "the token has no issuer")
        did = iss.split("#", 1)[0]  # a service id like did:plc:x#atproto_labeler names the DID
        try:
            return validate_did(did)
        except ValueError:
            raise TokenRefused("bad_iss", "the token issuer is not a DID") from None

    def _check_claims(self, payload: dict[str, object], nsid: str, issuer: str) -> None:
        now = self._clock()
        aud = payload.get("aud")
        if isinstance(aud, list):
            raise TokenRefused("aud_list", "a list audience is not accepted", issuer=issuer)
        if aud != self.service_did:
            raise TokenRefused("wrong_aud", "the token is for another service", issuer=issuer)
        exp = payload.get("exp")
        if not isinstance(exp, int) or isinstance(exp, bool):
            raise TokenRefused("missing_exp", "the token has no expiry", issuer=issuer)
        if exp <= now - self.skew:
            raise TokenRefused("expired", "the token has expired", issuer=issuer)
        if exp > now + MAX_LIFETIME_SECONDS + self.skew:
            raise TokenRefused("lifetime_too_long", "the token expires too far in the future", issuer=issuer)
        iat = payload.get("iat")
        if iat is not None and (not isinstance(iat, int) or iat > now + self.skew):
            raise TokenRefused("iat_future", "the token is issued in the future", issuer=issuer)
        nbf = payload.get("nbf")
        if nbf is not None and (not isinstance(nbf, int) or isinstance(nbf, bool) or nbf > now + self.skew):
            raise TokenRefused("not_yet_valid", "the token is not valid yet", issuer=issuer)
        jti = payload.get("jti")
        if jti is None:
            raise TokenRefused("missing_jti", "the token has no jti, so it could be replayed", issuer=issuer)
        if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_CHARS:
            raise TokenRefused("bad_jti", f"jti must be a string of 1-{MAX_JTI_CHARS} characters", issuer=issuer)
        lxm = payload.get("lxm")
        if lxm is None:
            raise TokenRefused("missing_lxm", "the token does not name the method it is for", issuer=issuer)
        if lxm != nsid:
            raise TokenRefused("wrong_lxm", "the token is for another method", issuer=issuer)

    async def _key(self, issuer: str, *, vouched: bool, fresh: bool = False) -> str:
        try:
            identity = await self.resolver.resolve(issuer, fresh=fresh, vouched=vouched)
        except ResolutionShed:
            raise
        except IdentityError as exc:
            raise TokenRefused(f"issuer_{exc.code}", "the token issuer cannot be resolved", issuer=issuer) from None
        if identity.signing_key is None:
            raise TokenRefused("no_signing_key", "the token issuer has no atproto signing key", issuer=issuer)
        return identity.signing_key


def _key_alg(key: str) -> str | None:
    try:
        return str(parse_did_key(key).jwt_alg)
    except Exception:  # an unparseable key verifies nothing
        return None


def _verifies(key: str, signing_input: bytes, signature: bytes) -> bool:
    try:
        return bool(verify_signature(key, signing_input, signature))
    except Exception:  # the SDK raises for malformed or high-S signatures: a refusal, not an error
        return False
