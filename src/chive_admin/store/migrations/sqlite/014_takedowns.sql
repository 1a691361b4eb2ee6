-- Index takedowns (deleteContent): a record hidden by an admin. Keyed by URI, not by a row of `records`, so the
-- takedown outlives the record's row (a re-sync, a delete-and-recreate of the same key) and can name a URI that is
-- not indexed yet. A restore deletes the row; the audit trail keeps the history. (013 comes from another branch:
-- the runner applies migrations by number and does not need them contiguous.)
CREATE TABLE takedowns (
    uri           TEXT PRIMARY KEY,
    collection    TEXT NOT NULL,
    -- the CID the index held when it was taken down (NULL: not indexed then)
    cid           TEXT,
    reason        TEXT,
    taken_down_by TEXT NOT NULL,
    taken_down_at TEXT NOT NULL
) STRICT;
