-- The record index: what backfill jobs pulled from the network.

-- PDS hosts we know of, with scan health. `status` is what listPDSes reports.
CREATE TABLE pdses (
    url                TEXT PRIMARY KEY,
    status             TEXT NOT NULL DEFAULT 'unknown' CHECK (status IN ('healthy', 'unhealthy', 'unknown')),
    last_scan_at       TEXT,
    repo_count         INTEGER NOT NULL DEFAULT 0,
    error_count        INTEGER NOT NULL DEFAULT 0,
    consecutive_errors INTEGER NOT NULL DEFAULT 0,
    last_error         TEXT,
    first_seen_at      TEXT NOT NULL,
    updated_at         TEXT NOT NULL
) STRICT;

-- Repositories (accounts) whose records we index.
CREATE TABLE repos (
    did            TEXT PRIMARY KEY,
    handle         TEXT,
    pds_url        TEXT,
    -- active | deactivated | takendown | suspended | deleted | unknown (the upstream account status)
    status         TEXT NOT NULL DEFAULT 'active',
    rev            TEXT,
    last_synced_at TEXT,
    updated_at     TEXT NOT NULL
) STRICT;
CREATE INDEX repos_pds ON repos (pds_url);

-- One row per indexed record. `hidden` hides the records of a repo that is taken down or deactivated without
-- deleting them, so a reactivation does not need a refetch.
CREATE TABLE records (
    uri         TEXT PRIMARY KEY,
    did         TEXT NOT NULL,
    collection  TEXT NOT NULL,
    rkey        TEXT NOT NULL,
    cid         TEXT NOT NULL,
    value       TEXT NOT NULL,
    indexed_at  TEXT NOT NULL,
    verified_at TEXT NOT NULL,
    hidden      INTEGER NOT NULL DEFAULT 0 CHECK (hidden IN (0, 1)),
    -- how many times this row's content was written: a re-run that changes nothing must not move it
    writes      INTEGER NOT NULL DEFAULT 1
) STRICT;
CREATE INDEX records_did_collection ON records (did, collection);
CREATE INDEX records_collection ON records (collection);
CREATE INDEX records_verified_at ON records (verified_at);
