-- Network backfill (a pds-scan through a relay): its work list may hold millions of DIDs, read a page at a time
-- in item order within one state (store/work_items.page). In SQLite the state index of this WITHOUT ROWID table
-- already ends with the key (item), so that read is a seek; named here as the PostgreSQL one is.
-- attempt_repo_base: the repositories processed when the current attempt began, for an ETA from repositories
-- (as attempt_base is for records).
DROP INDEX operation_items_state;
CREATE INDEX operation_items_state ON operation_items (operation_id, state, item);
ALTER TABLE operations ADD COLUMN attempt_repo_base INTEGER NOT NULL DEFAULT 0;
