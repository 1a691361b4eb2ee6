-- Accounts and the content lists (searchUsers, getUserDetail, listReviews, listEndorsements).

-- When the index first stored the repository: getUserDetail's createdAt. Set once by upsert_repo; a repository
-- known before this migration gets the earliest indexing time of its records, else its last update.
ALTER TABLE repos ADD COLUMN first_seen_at TEXT;
UPDATE repos SET first_seen_at = coalesce(
    (SELECT min(indexed_at) FROM records WHERE records.did = repos.did), updated_at
);

-- `handle` is now the verified handle only (DID document <-> handle resolution), lowercased. What was stored
-- before was whatever an ingest path saw, never checked: it is dropped, and the next did-sync or pds-scan of the
-- repository stores the handle once it verifies.
UPDATE repos SET handle = NULL;
-- searchUsers: a prefix of a handle is a range of this index
CREATE INDEX repos_handle ON repos (handle);

-- getUserDetail / searchUsers: the eprints an account submitted (by `submittedBy`, which may name another
-- repository than the one holding the record)
CREATE INDEX records_submitted_by ON records (json_extract(value, '$.submittedBy'))
    WHERE collection = 'pub.chive.eprint.submission';

-- listReviews / listEndorsements: newest first by the record's createdAt, then uri, with `hidden` so that the
-- page and the total are read from the index alone (`collection` leads: with it, SQLite's planner prefers this
-- index to records_collection without statistics)
CREATE INDEX records_comment_created ON records (collection, json_extract(value, '$.createdAt'), uri, hidden)
    WHERE collection = 'pub.chive.review.comment';
CREATE INDEX records_endorsement_created ON records (collection, json_extract(value, '$.createdAt'), uri, hidden)
    WHERE collection = 'pub.chive.review.endorsement';
