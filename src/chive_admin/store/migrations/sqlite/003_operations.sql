-- Backfill operations: durable state of every triggered job, the engine's only source of truth.
CREATE TABLE operations (
    id                TEXT PRIMARY KEY,        -- ULID: sortable by creation time
    type              TEXT NOT NULL,           -- kebab-case job type, e.g. pds-scan
    status            TEXT NOT NULL CHECK (status IN
                          ('queued', 'running', 'cancelling', 'completed', 'partial', 'failed', 'cancelled')),
    stage             TEXT,
    params            TEXT NOT NULL,           -- normalised trigger parameters, JSON object
    params_hash       TEXT NOT NULL,           -- sha256 of type + params: what makes two triggers "the same"
    started_by        TEXT,
    requested_at      TEXT NOT NULL,
    started_at        TEXT,                    -- first time a worker picked it up
    updated_at        TEXT NOT NULL,
    completed_at      TEXT,
    records_processed INTEGER NOT NULL DEFAULT 0,
    total_records     INTEGER,
    total_repos       INTEGER,
    processed_repos   INTEGER,
    records_failed    INTEGER NOT NULL DEFAULT 0,
    counts            TEXT,                    -- JSON object of the job type's own counters
    checkpoint        TEXT,                    -- JSON, owned by the job type
    error             TEXT,
    error_code        TEXT,
    error_context     TEXT,                    -- JSON object
    attempts          INTEGER NOT NULL DEFAULT 0,
    lease_owner       TEXT,
    lease_expires_at  TEXT,
    -- progress at the start of the current attempt, so the ETA uses this attempt's rate
    attempt_started_at TEXT,
    attempt_base      INTEGER NOT NULL DEFAULT 0
) STRICT;

-- The database itself refuses a second active op of the same type and parameters, whatever the code does.
CREATE UNIQUE INDEX operations_one_active ON operations (type, params_hash) WHERE status IN ('queued', 'running');
CREATE INDEX operations_status ON operations (status, requested_at);
CREATE INDEX operations_ended ON operations (completed_at) WHERE completed_at IS NOT NULL;
CREATE INDEX operations_type ON operations (type, requested_at);
