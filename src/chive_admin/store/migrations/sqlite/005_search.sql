-- Full-text search over eprints (title, abstract, keywords, author names).
-- Two FTS5 tables take turns: one is live, a full reindex fills the other and then flips `search_state.live`
-- in one transaction, so search never answers from a half-built index. While a rebuild runs (`building` set),
-- incremental updates go to both tables, so the new index misses nothing ingested meanwhile.
CREATE VIRTUAL TABLE search_a USING fts5(uri UNINDEXED, title, abstract, keywords, authors, tokenize = 'unicode61');
CREATE VIRTUAL TABLE search_b USING fts5(uri UNINDEXED, title, abstract, keywords, authors, tokenize = 'unicode61');

CREATE TABLE search_state (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    live     TEXT NOT NULL CHECK (live IN ('search_a', 'search_b')),
    building TEXT CHECK (building IS NULL OR building IN ('search_a', 'search_b')),
    swapped_at TEXT
) STRICT;
INSERT INTO search_state (id, live) VALUES (1, 'search_a');
