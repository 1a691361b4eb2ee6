-- Live indexing from the firehose (see sqlite/019_firehose.sql).
CREATE TABLE firehose_cursors (
    source     TEXT COLLATE "C" PRIMARY KEY,
    seq        BIGINT NOT NULL CHECK (seq >= 0),
    updated_at TEXT COLLATE "C" NOT NULL
);

ALTER TABLE repos ADD COLUMN data_cid TEXT COLLATE "C";
