-- The local moderation record behind listWarnings and listViolations. No ATProto record carries warnings or
-- violations and Chive never writes its own tables, so this server keeps them: written by `chive-admin moderation`
-- (each write audited), read by the two methods and the dashboard. Rows are never deleted: a warning is revoked, a
-- violation resolved, and both keep who did it and when.
CREATE TABLE warnings (
    id         INTEGER PRIMARY KEY,
    did        TEXT NOT NULL,
    reason     TEXT NOT NULL,
    issued_by  TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked_at TEXT,
    revoked_by TEXT,
    CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
) STRICT;
CREATE INDEX warnings_did ON warnings (did, id);

CREATE TABLE violations (
    id          INTEGER PRIMARY KEY,
    did         TEXT NOT NULL,
    type        TEXT NOT NULL,
    severity    TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    description TEXT,
    context     TEXT,              -- JSON text, shown as it is stored
    subject_uri TEXT,
    recorded_by TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    resolved_at TEXT,
    resolved_by TEXT,
    CHECK ((resolved_at IS NULL) = (resolved_by IS NULL))
) STRICT;
CREATE INDEX violations_did ON violations (did, id);
