-- Accounts and the content lists (searchUsers, getUserDetail, listReviews, listEndorsements).

-- When the index first stored the repository: getUserDetail's createdAt. Set once by upsert_repo; a repository
-- known before this migration gets the earliest indexing time of its records, else its last update.
ALTER TABLE repos ADD COLUMN first_seen_at TEXT COLLATE "C";
UPDATE repos SET first_seen_at = coalesce(
    (SELECT min(indexed_at) FROM records WHERE records.did = repos.did), updated_at
);

-- `handle` is now the verified handle only (DID document <-> handle resolution), lowercased. What was stored
-- before was whatever an ingest path saw, never checked: it is dropped, and the next did-sync or pds-scan of the
-- repository stores the handle once it verifies.
UPDATE repos SET handle = NULL;
-- searchUsers: a prefix of a handle is a range of this index (the column is COLLATE "C": byte order)
CREATE INDEX repos_handle ON repos (handle);

-- getUserDetail / searchUsers: the eprints an account submitted (by `submittedBy`, which may name another
-- repository than the one holding the record)
CREATE INDEX records_submitted_by ON records (collection, ((value::jsonb) #>> '{submittedBy}'))
    WHERE collection = 'pub.chive.eprint.submission';

-- listReviews / listEndorsements: visible (`hidden` = 0) records newest first by the record's createdAt, then uri;
-- the total is a count of the index's hidden = 0 range. (`collection` leads every index here: with an equality on
-- it, SQLite's planner, which has no statistics, prefers these to records_collection.)
CREATE INDEX records_comment_created ON records (collection, hidden, ((value::jsonb) #>> '{createdAt}') COLLATE "C", uri)
    WHERE collection = 'pub.chive.review.comment';
CREATE INDEX records_endorsement_created ON records (collection, hidden, ((value::jsonb) #>> '{createdAt}') COLLATE "C", uri)
    WHERE collection = 'pub.chive.review.endorsement';
