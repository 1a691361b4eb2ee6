-- A more compact record index (issue 28; the SQLite migration 026 says why): records_did_collection (did, collection)
-- becomes records_did (did). (`did`, `collection` and `rkey` stay stored columns here: PostgreSQL computes no virtual
-- column.)
DROP INDEX records_did_collection;
CREATE INDEX records_did ON records (did);
