-- Maintained content counters behind getOverview and listImports, kept by triggers so that every path that writes
-- `records` or `takedowns` (backfill jobs, the firehose, dead-letter retries, deleteContent, `content restore`,
-- migrations to come) keeps them right without having to remember them.

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

INSERT INTO content_counts (kind, did, n)
SELECT k.kind, r.did, count(*)
FROM records r JOIN content_kinds k ON k.collection = r.collection
WHERE (k.rkey IS NULL OR k.rkey = r.rkey)
  AND (k.subkind IS NULL OR k.subkind = json_extract(r.value, '$.subkind'))
  AND r.hidden = 0 AND NOT EXISTS (SELECT 1 FROM takedowns t WHERE t.uri = r.uri)
GROUP BY k.kind, r.did;

-- A row of `records` adds to its kind's counter while it is visible: hidden = 0 and no takedown of its URI.
CREATE TRIGGER records_count_insert AFTER INSERT ON records
WHEN NEW.hidden = 0 AND NEW.collection IN (SELECT collection FROM content_kinds)
BEGIN
    INSERT INTO content_counts (kind, did, n)
    SELECT k.kind, NEW.did, 1 FROM content_kinds k
    WHERE k.collection = NEW.collection AND (k.rkey IS NULL OR k.rkey = NEW.rkey)
      AND (k.subkind IS NULL OR k.subkind = json_extract(NEW.value, '$.subkind'))
      AND NOT EXISTS (SELECT 1 FROM takedowns t WHERE t.uri = NEW.uri)
    ON CONFLICT (kind, did) DO UPDATE SET n = n + excluded.n;
END;

CREATE TRIGGER records_count_delete AFTER DELETE ON records
WHEN OLD.hidden = 0 AND OLD.collection IN (SELECT collection FROM content_kinds)
BEGIN
    INSERT INTO content_counts (kind, did, n)
    SELECT k.kind, OLD.did, -1 FROM content_kinds k
    WHERE k.collection = OLD.collection AND (k.rkey IS NULL OR k.rkey = OLD.rkey)
      AND (k.subkind IS NULL OR k.subkind = json_extract(OLD.value, '$.subkind'))
      AND NOT EXISTS (SELECT 1 FROM takedowns t WHERE t.uri = OLD.uri)
    ON CONFLICT (kind, did) DO UPDATE SET n = n + excluded.n;
END;

-- An update takes the old row out and puts the new one in (a changed subkind, a hidden repository).
CREATE TRIGGER records_count_update AFTER UPDATE OF uri, did, collection, rkey, value, hidden ON records
WHEN OLD.collection IN (SELECT collection FROM content_kinds) OR NEW.collection IN (SELECT collection FROM content_kinds)
BEGIN
    INSERT INTO content_counts (kind, did, n)
    SELECT k.kind, OLD.did, -1 FROM content_kinds k
    WHERE k.collection = OLD.collection AND (k.rkey IS NULL OR k.rkey = OLD.rkey)
      AND (k.subkind IS NULL OR k.subkind = json_extract(OLD.value, '$.subkind'))
      AND OLD.hidden = 0 AND NOT EXISTS (SELECT 1 FROM takedowns t WHERE t.uri = OLD.uri)
    ON CONFLICT (kind, did) DO UPDATE SET n = n + excluded.n;
    INSERT INTO content_counts (kind, did, n)
    SELECT k.kind, NEW.did, 1 FROM content_kinds k
    WHERE k.collection = NEW.collection AND (k.rkey IS NULL OR k.rkey = NEW.rkey)
      AND (k.subkind IS NULL OR k.subkind = json_extract(NEW.value, '$.subkind'))
      AND NEW.hidden = 0 AND NOT EXISTS (SELECT 1 FROM takedowns t WHERE t.uri = NEW.uri)
    ON CONFLICT (kind, did) DO UPDATE SET n = n + excluded.n;
END;

-- A takedown takes its record out of the counters (it was visible if its repository is not hidden: a URI has at
-- most one takedown), a restore puts it back. Both run after the row changed, so `takedowns` already says so.
CREATE TRIGGER takedowns_count_insert AFTER INSERT ON takedowns
BEGIN
    INSERT INTO content_counts (kind, did, n)
    SELECT k.kind, r.did, -1 FROM records r JOIN content_kinds k ON k.collection = r.collection
    WHERE r.uri = NEW.uri AND r.hidden = 0 AND (k.rkey IS NULL OR k.rkey = r.rkey)
      AND (k.subkind IS NULL OR k.subkind = json_extract(r.value, '$.subkind'))
    ON CONFLICT (kind, did) DO UPDATE SET n = n + excluded.n;
END;

CREATE TRIGGER takedowns_count_delete AFTER DELETE ON takedowns
BEGIN
    INSERT INTO content_counts (kind, did, n)
    SELECT k.kind, r.did, 1 FROM records r JOIN content_kinds k ON k.collection = r.collection
    WHERE r.uri = OLD.uri AND r.hidden = 0 AND (k.rkey IS NULL OR k.rkey = r.rkey)
      AND (k.subkind IS NULL OR k.subkind = json_extract(r.value, '$.subkind'))
    ON CONFLICT (kind, did) DO UPDATE SET n = n + excluded.n;
END;

CREATE TRIGGER takedowns_count_update AFTER UPDATE OF uri ON takedowns
BEGIN
    INSERT INTO content_counts (kind, did, n)
    SELECT k.kind, r.did, 1 FROM records r JOIN content_kinds k ON k.collection = r.collection
    WHERE r.uri = OLD.uri AND r.hidden = 0 AND (k.rkey IS NULL OR k.rkey = r.rkey)
      AND (k.subkind IS NULL OR k.subkind = json_extract(r.value, '$.subkind'))
    ON CONFLICT (kind, did) DO UPDATE SET n = n + excluded.n;
    INSERT INTO content_counts (kind, did, n)
    SELECT k.kind, r.did, -1 FROM records r JOIN content_kinds k ON k.collection = r.collection
    WHERE r.uri = NEW.uri AND r.hidden = 0 AND (k.rkey IS NULL OR k.rkey = r.rkey)
      AND (k.subkind IS NULL OR k.subkind = json_extract(r.value, '$.subkind'))
    ON CONFLICT (kind, did) DO UPDATE SET n = n + excluded.n;
END;

-- listEprints pages newest first by the record's createdAt, then URI, without sorting the table; `hidden` is in
-- the index so that the rows an offset skips can be checked without reading them.
CREATE INDEX records_eprint_created ON records (json_extract(value, '$.createdAt') DESC, uri, hidden)
    WHERE collection = 'pub.chive.eprint.submission';
