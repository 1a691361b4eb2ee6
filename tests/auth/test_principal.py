"""The authenticated caller: an admin is whoever holds the admin role, however they authenticated."""

from __future__ import annotations

from chive_admin.auth.principal import Principal


def test_admin_is_the_admin_role() -> None:
    assert Principal("did:plc:a", "api-key", frozenset({"admin"}), key_id="k1").is_admin
    assert Principal("did:plc:a", "service-jwt", frozenset({"admin", "reader"})).is_admin
    assert not Principal("did:plc:a", "service-jwt", frozenset({"moderator", "graph-editor"})).is_admin
    assert not Principal("did:plc:a", "api-key").is_admin  # no roles at all
