-- Maintained content counters behind getOverview and listImports, kept by triggers so that every path that writes
-- `records` or `takedowns` (every job, dead-letter retries, deleteContent, `content restore`, and any path to come)
-- keeps them right without having to remember them.

-- What is counted, as data: a record of `collection` counts as `kind` when its rkey is `rkey` (if set) and its
-- `subkind` field is `subkind` (if set). The triggers and the first fill below read this one table.
CREATE TABLE content_kinds (
    collection TEXT PRIMARY KEY,
    kind       TEXT NOT NULL UNIQUE,
    rkey       TEXT,
    subkind    TEXT
) STRICT, WITHOUT ROWID;
INSERT INTO content_kinds (collection, kind, rkey, subkind) VALUES
    ('pub.chive.eprint.submission', 'eprints', NULL, NULL),
    ('pub.chive.review.comment', 'reviews', NULL, NULL),
    ('pub.chive.review.endorsement', 'endorsements', NULL, NULL),
    ('pub.chive.eprint.userTag', 'tags', NULL, NULL),
    -- one profile per repository (its key is `self`): the count of authors is a count of repositories
    ('pub.chive.actor.profile', 'authors', 'self', NULL),
    ('pub.chive.graph.node', 'collections', NULL, 'collection');

-- Visible records (store/takedowns.visible) of each kind, per repository. Keyed by DID, not one row per kind:
-- on PostgreSQL several processes ingest at once, and one hot row per kind would serialise every ingest
-- transaction on its lock. Readers sum (a few rows per repository), and listImports joins it with repos.pds_url.
CREATE TABLE content_counts (
    kind TEXT NOT NULL,
    did  TEXT NOT NULL,
    n    INTEGER NOT NULL,
    PRIMARY KEY (kind, did)
) STRICT, WITHOUT ROWID;

-- The rows of `records` that count, with their kind. The triggers below read a row through it while the row is in
-- the table: after an insert, before a delete, before and after an update.
CREATE VIEW counted_records AS
SELECT r.uri, r.did, r.hidden, k.kind
FROM records r JOIN content_kinds k ON k.collection = r.collection
WHERE (k.rkey IS NULL OR k.rkey = r.rkey) AND (k.subkind IS NULL OR k.subkind = json_extract(r.value, '$.subkind'));

INSERT INTO content_counts (kind, did, n)
SELECT c.kind, c.did, count(*) FROM counted_records c
WHERE c.hidden = 0 AND NOT EXISTS (SELECT 1 FROM takedowns t WHERE t.uri = c.uri)
GROUP BY c.kind, c.did;

-- A row of `records` adds to its kind's counter while it is visible: hidden = 0 and no takedown of its URI. An
-- update takes the old row out and puts the new one in (a changed subkind, a hidden repository). (If the statement
-- fails, SQLite undoes what its triggers did with it, the BEFORE ones included.)
CREATE TRIGGER records_count_insert AFTER INSERT ON records
BEGIN
    INSERT INTO content_counts (kind, did, n)
    SELECT c.kind, c.did, 1 FROM counted_records c
    WHERE c.uri = NEW.uri AND c.hidden = 0 AND NOT EXISTS (SELECT 1 FROM takedowns t WHERE t.uri = c.uri)
    ON CONFLICT (kind, did) DO UPDATE SET n = n + excluded.n;
END;

CREATE TRIGGER records_count_delete BEFORE DELETE ON records
BEGIN
    INSERT INTO content_counts (kind, did, n)
    SELECT c.kind, c.did, -1 FROM counted_records c
    WHERE c.uri = OLD.uri AND c.hidden = 0 AND NOT EXISTS (SELECT 1 FROM takedowns t WHERE t.uri = c.uri)
    ON CONFLICT (kind, did) DO UPDATE SET n = n + excluded.n;
END;

CREATE TRIGGER records_count_update_old BEFORE UPDATE OF uri, did, collection, rkey, value, hidden ON records
BEGIN
    INSERT INTO content_counts (kind, did, n)
    SELECT c.kind, c.did, -1 FROM counted_records c
    WHERE c.uri = OLD.uri AND c.hidden = 0 AND NOT EXISTS (SELECT 1 FROM takedowns t WHERE t.uri = c.uri)
    ON CONFLICT (kind, did) DO UPDATE SET n = n + excluded.n;
END;

CREATE TRIGGER records_count_update_new AFTER UPDATE OF uri, did, collection, rkey, value, hidden ON records
BEGIN
    INSERT INTO content_counts (kind, did, n)
    SELECT c.kind, c.did, 1 FROM counted_records c
    WHERE c.uri = NEW.uri AND c.hidden = 0 AND NOT EXISTS (SELECT 1 FROM takedowns t WHERE t.uri = c.uri)
    ON CONFLICT (kind, did) DO UPDATE SET n = n + excluded.n;
END;

-- A takedown takes its record out of the counters (it was visible if its repository is not hidden: a URI has at
-- most one takedown), a restore puts it back. The store never changes a takedown's URI.
CREATE TRIGGER takedowns_count_insert AFTER INSERT ON takedowns
BEGIN
    INSERT INTO content_counts (kind, did, n)
    SELECT c.kind, c.did, -1 FROM counted_records c WHERE c.uri = NEW.uri AND c.hidden = 0
    ON CONFLICT (kind, did) DO UPDATE SET n = n + excluded.n;
END;

CREATE TRIGGER takedowns_count_delete AFTER DELETE ON takedowns
BEGIN
    INSERT INTO content_counts (kind, did, n)
    SELECT c.kind, c.did, 1 FROM counted_records c WHERE c.uri = OLD.uri AND c.hidden = 0
    ON CONFLICT (kind, did) DO UPDATE SET n = n + excluded.n;
END;

-- listEprints pages newest first by the record's createdAt, then URI, without sorting the table; `hidden` is in
-- the index so that the rows an offset skips can be checked without reading them.
CREATE INDEX records_eprint_created ON records (json_extract(value, '$.createdAt') DESC, uri, hidden)
    WHERE collection = 'pub.chive.eprint.submission';
