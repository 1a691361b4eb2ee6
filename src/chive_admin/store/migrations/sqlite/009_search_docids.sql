-- Deleting from an FTS5 table by an UNINDEXED column scans the whole table: keeping a 20k-eprint index in step
-- was quadratic. Every eprint URI now has a stable docid, used as the rowid in both search tables, so a delete or
-- replace is a rowid lookup.
CREATE TABLE search_docids (
    docid INTEGER PRIMARY KEY,
    uri   TEXT NOT NULL UNIQUE
) STRICT;
INSERT OR IGNORE INTO search_docids (uri) SELECT uri FROM search_a;
INSERT OR IGNORE INTO search_docids (uri) SELECT uri FROM search_b;
UPDATE search_a SET rowid = (SELECT docid FROM search_docids d WHERE d.uri = search_a.uri);
UPDATE search_b SET rowid = (SELECT docid FROM search_docids d WHERE d.uri = search_b.uri);
