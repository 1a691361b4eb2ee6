"""The auth policy of every XRPC method, declared once, by NSID prefix.

The generated catalog carries the policy name of each route; ``chive_admin.auth.policy`` says what each name
requires. A method that matches no prefix here stops codegen: a new namespace must be given a policy on purpose.
"""

from __future__ import annotations

#: the policy of methods this server only *calls* on other servers (PDS sync and repo reads); they are emitted
#: into ``catalog.UPSTREAM`` for their typed models, and never served
UPSTREAM = "upstream"

AUTH_BY_PREFIX: tuple[tuple[str, str], ...] = (
    ("pub.chive.admin.", "admin"),
    # engagement events from the deployer's front end or proxy, and our own impression route beside them
    ("pub.chive.metrics.record", "metrics-writer"),
    ("dev.chiveadmin.search.record", "metrics-writer"),
    # a user's own intents, with that user's own service-auth token
    ("pub.chive.activity.", "user"),
    ("com.atproto.sync.", UPSTREAM),
    ("com.atproto.repo.", UPSTREAM),
    ("com.atproto.identity.", UPSTREAM),
)


class NoPolicyError(LookupError):
    pass


def policy_for(nsid: str) -> str:
    for prefix, policy in AUTH_BY_PREFIX:
        if nsid.startswith(prefix):
            return policy
    raise NoPolicyError(f"{nsid}: no auth policy declared for this method (codegen/policy.py)")
