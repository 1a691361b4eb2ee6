-- The work list of one operation (e.g. the repos a pds-scan discovered), with each item's state and position:
-- the per-item checkpoint that lets a resumed operation skip what is done and continue what was half done.
CREATE TABLE operation_items (
    operation_id TEXT NOT NULL REFERENCES operations (id) ON DELETE CASCADE,
    item         TEXT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed', 'skipped')),
    info         TEXT NOT NULL DEFAULT '{}',   -- JSON owned by the job type (e.g. host, listing cursors)
    PRIMARY KEY (operation_id, item)
) STRICT, WITHOUT ROWID;
CREATE INDEX operation_items_state ON operation_items (operation_id, state);
