-- Live indexing from the firehose (com.atproto.sync.subscribeRepos).

-- Per source (a relay's or a PDS's URL as configured), the sequence number of the last event whose effects are
-- committed: it is written in the same transaction as the records and repository heads of its batch, so a restart
-- resumes after what is in the index, never after what was only received.
CREATE TABLE firehose_cursors (
    source     TEXT PRIMARY KEY,
    seq        INTEGER NOT NULL CHECK (seq >= 0),
    updated_at TEXT NOT NULL
) STRICT;

-- The root CID of the repository's MST at `rev` (the commit's `data`): a live commit applies only when its
-- `prevData` is this. NULL when the rev came from a snapshot (did-sync, pds-scan) that did not record it; a commit
-- then chains by `since = rev`.
ALTER TABLE repos ADD COLUMN data_cid TEXT;
