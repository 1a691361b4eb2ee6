-- Intents a front end logs before a user's PDS write (pub.chive.activity.log), confirmed when the record arrives
-- in the index (ingest/write.py, every write path), failed by markFailed, timed out an hour after they were logged.
-- Times are microseconds since the Unix epoch, so latencies are a subtraction on either engine.
CREATE TABLE activity_intents (
    id           TEXT PRIMARY KEY,
    did          TEXT NOT NULL,
    collection   TEXT NOT NULL,
    rkey         TEXT NOT NULL,
    uri          TEXT NOT NULL,
    action       TEXT NOT NULL CHECK (action IN ('create', 'update', 'delete')),
    category     TEXT NOT NULL,
    created_us   INTEGER NOT NULL,
    -- whole hours since the epoch of created_us: getActivityCorrelation's buckets
    hour         INTEGER NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'failed')),
    confirmed_us INTEGER,
    error_code   TEXT
) STRICT;
-- the write paths look up pending intents by record
CREATE INDEX activity_pending_by_uri ON activity_intents (uri) WHERE status = 'pending';
-- a caller's recent intents: the rate limit, and markFailed
CREATE INDEX activity_by_did ON activity_intents (did, created_us);
-- the hours of getActivityCorrelation, and pruning
CREATE INDEX activity_by_hour ON activity_intents (hour, category);
