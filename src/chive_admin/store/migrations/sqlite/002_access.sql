-- Who may do what, and what they did.

-- Roles granted with assignRole. Bootstrap admins (--admin-did) are configuration, not rows: they cannot be
-- revoked from here, so the server can never lose its last admin.
CREATE TABLE roles (
    did        TEXT NOT NULL,
    role       TEXT NOT NULL,
    granted_by TEXT,
    granted_at TEXT NOT NULL,
    PRIMARY KEY (did, role)
) STRICT;

-- API keys for scripts and CI: only the SHA-256 of the key is kept; the key itself is shown once at creation.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    did          TEXT NOT NULL,
    name         TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    revoked_at   TEXT,
    last_used_at TEXT
) STRICT;
CREATE INDEX api_keys_did ON api_keys (did);

-- One row per admin call, allowed or refused. Never the token: a refusal keeps its reason code only.
CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    actor_did TEXT,
    via       TEXT,              -- service-jwt | api-key
    key_id    TEXT,
    method    TEXT NOT NULL,
    target    TEXT,
    outcome   TEXT NOT NULL CHECK (outcome IN ('allowed', 'refused', 'failed')),
    status    INTEGER NOT NULL,
    reason    TEXT,              -- refusal/failure code (e.g. expired, wrong_lxm, AdminRequired)
    detail    TEXT,
    client_ip TEXT
) STRICT;
CREATE INDEX audit_log_actor ON audit_log (actor_did, id);
