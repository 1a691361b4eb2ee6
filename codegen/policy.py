"""The auth policy of every XRPC method, declared once, by NSID prefix.

The generated registry carries the policy name of each route; ``chive_admin.auth.policy`` says what each name
requires. A method that matches no prefix here stops codegen: a new namespace must be given a policy on purpose.
"""

from __future__ import annotations

AUTH_BY_PREFIX: tuple[tuple[str, str], ...] = (("pub.chive.admin.", "admin"),)


class NoPolicyError(LookupError):
    pass


def policy_for(nsid: str) -> str:
    for prefix, policy in AUTH_BY_PREFIX:
        if nsid.startswith(prefix):
            return policy
    raise NoPolicyError(f"{nsid}: no auth policy declared for this method (codegen/policy.py)")
