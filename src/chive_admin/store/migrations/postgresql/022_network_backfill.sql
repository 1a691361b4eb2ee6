-- Network backfill (see sqlite/022_network_backfill.sql): a page of the work list in item order within one state
-- is a seek on this index, not a sort of every pending item; and the ETA's base in repositories.
DROP INDEX operation_items_state;
CREATE INDEX operation_items_state ON operation_items (operation_id, state, item);
ALTER TABLE operations ADD COLUMN attempt_repo_base BIGINT NOT NULL DEFAULT 0;
