"""The admin routes' authenticator: one ``Authorization: Bearer`` header, an API key (``ca_``…) or else a
service-auth JWT; each refusal a 401 with its own reason code for the audit trail, and the roles of whoever it is."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from starlette.requests import Request

from chive_admin._generated import ids
from chive_admin._generated.catalog import ROUTES
from chive_admin.auth.api_keys import KeyOwner
from chive_admin.auth.authenticator import MAX_TOKEN_CHARS, AdminAuthenticator
from chive_admin.auth.principal import Principal
from chive_admin.auth.service_jwt import ServiceToken, TokenRefused
from chive_admin.xrpc.errors import XRPCError

ROUTE = ROUTES[ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS]
KEY = "ca_" + "k" * 43
ISSUER = "did:plc:issuer0000000000000000000"
KEY_OWNER = "did:plc:keyowner000000000000000000"


@dataclass
class Verifier:
    """The verifier's three steps, scripted: read the claims, check the signature, spend the jti."""

    refuse: str | None = None
    seen: list[tuple[str, str]] = field(default_factory=list)
    spent: list[str] = field(default_factory=list)

    def read(self, token: str, nsid: str) -> ServiceToken:
        self.seen.append((token, nsid))
        if self.refuse:
            raise TokenRefused(self.refuse, "refused", issuer=ISSUER)
        return ServiceToken(issuer=ISSUER, jti="j", exp=0, alg="ES256K", signing_input=b"", signature=b"")

    async def check_signature(self, token: ServiceToken, *, vouched: bool) -> None:
        pass

    async def spend(self, token: ServiceToken) -> None:
        self.spent.append(token.jti)


class Keys:
    async def owner(self, key: str) -> KeyOwner | None:
        return KeyOwner("k1", KEY_OWNER) if key == KEY else None


class Roles:
    async def roles_of(self, did: str) -> frozenset[str]:
        return frozenset({"admin"}) if did == KEY_OWNER else frozenset({"reader"})


def request(*headers: bytes) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "headers": [(b"authorization", h) for h in headers]})


async def authenticate(*headers: bytes, verifier: Verifier | None = None) -> Principal:
    authenticator = AdminAuthenticator(verifier or Verifier(), Keys(), Roles())  # type: ignore[arg-type]
    return await authenticator.authenticate(request(*headers), ROUTE)


async def reason(*headers: bytes, verifier: Verifier | None = None) -> str | None:
    with pytest.raises(XRPCError) as caught:
        await authenticate(*headers, verifier=verifier)
    assert (caught.value.status, caught.value.error) == (401, "AuthenticationRequired")
    assert caught.value.headers["WWW-Authenticate"].startswith("Bearer")
    return caught.value.reason


async def test_an_api_key_is_its_owner_with_the_owners_roles() -> None:
    assert await authenticate(f"Bearer {KEY}".encode()) == Principal(KEY_OWNER, "api-key", frozenset({"admin"}), "k1")
    assert await authenticate(f"bearer   {KEY}  ".encode()) == await authenticate(f"Bearer {KEY}".encode())


async def test_anything_else_is_a_service_token_for_the_method_called() -> None:
    verifier = Verifier()
    principal = await authenticate(b"Bearer a.b.c", verifier=verifier)
    assert principal == Principal(ISSUER, "service-jwt", frozenset({"reader"}))
    assert verifier.seen == [("a.b.c", ROUTE.nsid)]
    assert verifier.spent == []  # a reader may not call this method: its jti costs no replay memory


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ((), "no_credentials"),
        ((b"Bearer a.b.c", b"Bearer a.b.c"), "several_credentials"),
        ((b"Basic YWRtaW46YWRtaW4=",), "not_bearer"),
        ((b"Token abc",), "not_bearer"),
        ((b"Bearer",), "empty_token"),
        ((b"Bearer ",), "empty_token"),
        ((b"bearer",), "empty_token"),
        ((b"Bearer a b",), "malformed"),
        ((("Bearer " + "é" * 10).encode(),), "malformed"),
        ((b"Bearer " + b"x" * (MAX_TOKEN_CHARS + 1),), "malformed"),
        ((f"Bearer ca_{'x' * 43}".encode(),), "unknown_key"),
    ],
)
async def test_refusals_have_their_own_reasons(headers: tuple[bytes, ...], expected: str) -> None:
    verifier = Verifier()
    assert await reason(*headers, verifier=verifier) == expected
    assert verifier.seen == []  # nothing so malformed reaches signature checks or DID resolution


async def test_a_refused_token_says_little_and_keeps_the_verifiers_reason() -> None:
    with pytest.raises(XRPCError) as caught:
        await authenticate(b"Bearer a.b.c", verifier=Verifier(refuse="wrong_lxm"))
    assert caught.value.reason == "wrong_lxm"
    assert caught.value.message == "Invalid service-auth token"


async def test_a_token_of_the_longest_length_allowed_is_still_checked() -> None:
    verifier = Verifier(refuse="malformed")
    assert await reason(b"Bearer " + b"x" * MAX_TOKEN_CHARS, verifier=verifier) == "malformed"
    assert len(verifier.seen) == 1
