-- A record's insert no longer counts it and flags it taken down in two triggers of its own: fired once per row, they
-- were most of a batch's write. store/index.upsert_records does both once per batch of new records (one grouped
-- upsert of the counters, one update of the flags). The delete and update triggers stay: those writes are few.
DROP TRIGGER IF EXISTS records_count_insert;
DROP TRIGGER IF EXISTS records_flag_insert;
