-- Items a job could not process: kept with enough context to retry them one by one.
CREATE TABLE dead_letters (
    id           INTEGER PRIMARY KEY,          -- the "index" of the DLQ lexicons
    operation_id TEXT REFERENCES operations (id) ON DELETE SET NULL,
    job_type     TEXT NOT NULL,
    error_type   TEXT NOT NULL,
    message      TEXT NOT NULL,
    context      TEXT NOT NULL,                -- JSON object: uri, did, pds…
    item         TEXT NOT NULL,                -- JSON: what the job needs to retry this one item
    created_at   TEXT NOT NULL,
    retry_count  INTEGER NOT NULL DEFAULT 0,
    last_retry_at TEXT
) STRICT;
CREATE INDEX dead_letters_error_type ON dead_letters (error_type, id);
-- one entry per failing thing: a re-run that meets the same failure refreshes the entry instead of adding one
CREATE UNIQUE INDEX dead_letters_item ON dead_letters (job_type, error_type, item);
CREATE INDEX dead_letters_created_at ON dead_letters (created_at);
