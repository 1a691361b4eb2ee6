-- A more compact record index (issue 28). Measured with bench/storage.py, a review comment of 350 bytes of JSON took
-- 1,252 bytes of database; where the bytes went:
--
-- * `did`, `collection` and `rkey` were stored in each row beside `uri`, which repeats all three: the row now holds
--   `did`, `rkey` and the collection as a number (a name for a collection not numbered here), and `collection` and
--   `uri` are computed from them (virtual columns), so queries and indexes name them as before; a row is about 100
--   bytes shorter, and the URI index (records_uri, the primary key's before) keeps each URI once as it did;
-- * records_did_collection (did, collection), 74 bytes a record: a repository's records are a range of the URI
--   index (`at://<did>/` to `at://<did>0`: a DID holds no '/'), which the store reads instead (index.in_repo);
-- * records_collection (collection), 37 bytes a record, served reads of a few collections (eprints, graph nodes and
--   edges), which now have small partial indexes of their own; and the createdAt indexes of reviews and
--   endorsements, partial on their collection, no longer repeat it in every entry (it led them only so that the
--   planner preferred them to records_collection; the submitter index the same).
--
-- SQLite cannot drop a stored column in place: the table is made again and its rows copied (rowids kept), and the
-- view and triggers that name it are made again as they were (migrations 015 and 018).

DROP VIEW counted_records;
DROP TRIGGER takedowns_count_insert;
DROP TRIGGER takedowns_count_delete;
DROP TRIGGER takedowns_flag_insert;
DROP TRIGGER takedowns_flag_delete;

CREATE TABLE records_compact (
    did         TEXT NOT NULL,
    -- the collection by number (the record collections of the lexicons when this was written, below), or by name
    -- for any other: a name is 25 bytes, a number one
    kind        INTEGER CHECK (kind BETWEEN 1 AND 22),
    other_collection TEXT CHECK ((kind IS NULL) = (other_collection IS NOT NULL)),
    rkey        TEXT NOT NULL,
    cid         TEXT NOT NULL,
    value       TEXT NOT NULL,
    indexed_at  TEXT NOT NULL,
    verified_at TEXT NOT NULL,
    hidden      INTEGER NOT NULL DEFAULT 0 CHECK (hidden IN (0, 1)),
    -- how many times this row's content was written: a re-run that changes nothing must not move it
    writes      INTEGER NOT NULL DEFAULT 1,
    taken_down  INTEGER NOT NULL DEFAULT 0 CHECK (taken_down IN (0, 1)),
    collection  TEXT NOT NULL GENERATED ALWAYS AS (
        CASE kind
            WHEN 1 THEN 'pub.chive.actor.mute'
            WHEN 2 THEN 'pub.chive.actor.profile'
            WHEN 3 THEN 'pub.chive.annotation.comment'
            WHEN 4 THEN 'pub.chive.annotation.entityLink'
            WHEN 5 THEN 'pub.chive.collaboration.invite'
            WHEN 6 THEN 'pub.chive.collaboration.inviteAcceptance'
            WHEN 7 THEN 'pub.chive.discovery.settings'
            WHEN 8 THEN 'pub.chive.eprint.changelog'
            WHEN 9 THEN 'pub.chive.eprint.citation'
            WHEN 10 THEN 'pub.chive.eprint.relatedWork'
            WHEN 11 THEN 'pub.chive.eprint.submission'
            WHEN 12 THEN 'pub.chive.eprint.userTag'
            WHEN 13 THEN 'pub.chive.eprint.version'
            WHEN 14 THEN 'pub.chive.graph.edge'
            WHEN 15 THEN 'pub.chive.graph.edgeProposal'
            WHEN 16 THEN 'pub.chive.graph.node'
            WHEN 17 THEN 'pub.chive.graph.nodeProposal'
            WHEN 18 THEN 'pub.chive.graph.reconciliation'
            WHEN 19 THEN 'pub.chive.graph.vote'
            WHEN 20 THEN 'pub.chive.review.comment'
            WHEN 21 THEN 'pub.chive.review.endorsement'
            WHEN 22 THEN 'pub.chive.review.entityLink'
            ELSE other_collection
        END
    ) VIRTUAL,
    uri         TEXT NOT NULL GENERATED ALWAYS AS ('at://' || did || '/' || collection || '/' || rkey) VIRTUAL
) STRICT;
INSERT INTO records_compact
    (rowid, did, kind, other_collection, rkey, cid, value, indexed_at, verified_at, hidden, writes, taken_down)
SELECT old_rowid, did, kind, CASE WHEN kind IS NULL THEN collection END, rkey, cid, value, indexed_at, verified_at,
    hidden, writes, taken_down
FROM (
    SELECT rowid AS old_rowid, *, CASE collection
        WHEN 'pub.chive.actor.mute' THEN 1
        WHEN 'pub.chive.actor.profile' THEN 2
        WHEN 'pub.chive.annotation.comment' THEN 3
        WHEN 'pub.chive.annotation.entityLink' THEN 4
        WHEN 'pub.chive.collaboration.invite' THEN 5
        WHEN 'pub.chive.collaboration.inviteAcceptance' THEN 6
        WHEN 'pub.chive.discovery.settings' THEN 7
        WHEN 'pub.chive.eprint.changelog' THEN 8
        WHEN 'pub.chive.eprint.citation' THEN 9
        WHEN 'pub.chive.eprint.relatedWork' THEN 10
        WHEN 'pub.chive.eprint.submission' THEN 11
        WHEN 'pub.chive.eprint.userTag' THEN 12
        WHEN 'pub.chive.eprint.version' THEN 13
        WHEN 'pub.chive.graph.edge' THEN 14
        WHEN 'pub.chive.graph.edgeProposal' THEN 15
        WHEN 'pub.chive.graph.node' THEN 16
        WHEN 'pub.chive.graph.nodeProposal' THEN 17
        WHEN 'pub.chive.graph.reconciliation' THEN 18
        WHEN 'pub.chive.graph.vote' THEN 19
        WHEN 'pub.chive.review.comment' THEN 20
        WHEN 'pub.chive.review.endorsement' THEN 21
        WHEN 'pub.chive.review.entityLink' THEN 22
    END AS kind FROM records
)
ORDER BY old_rowid;
DROP TABLE records;
ALTER TABLE records_compact RENAME TO records;
-- the primary key it was: each URI once, found by its index
CREATE UNIQUE INDEX records_uri ON records (uri);

CREATE INDEX records_verified_at ON records (verified_at);
CREATE INDEX records_eprint_doi ON records (lower(json_extract(value, '$.publishedVersion.doi')))
    WHERE collection = 'pub.chive.eprint.submission';
CREATE INDEX records_eprint_arxiv ON records (lower(json_extract(value, '$.externalIds.arxivId')))
    WHERE collection = 'pub.chive.eprint.submission';
CREATE INDEX records_submitted_by ON records (json_extract(value, '$.submittedBy'))
    WHERE collection = 'pub.chive.eprint.submission';
CREATE INDEX records_eprint_created ON records (json_extract(value, '$.createdAt') DESC, uri, hidden, taken_down)
    WHERE collection = 'pub.chive.eprint.submission';
CREATE INDEX records_comment_created ON records (hidden, taken_down, json_extract(value, '$.createdAt'), uri)
    WHERE collection = 'pub.chive.review.comment';
CREATE INDEX records_endorsement_created ON records (hidden, taken_down, json_extract(value, '$.createdAt'), uri)
    WHERE collection = 'pub.chive.review.endorsement';
-- what read a collection through records_collection reads its own partial index (the collection a literal in the
-- query): eprints in URI order (search rebuilds, citation extraction), the knowledge graph (getGraphStats)
CREATE INDEX records_eprint_uri ON records (uri, hidden, taken_down) WHERE collection = 'pub.chive.eprint.submission';
CREATE INDEX records_graph_node ON records (uri) WHERE collection = 'pub.chive.graph.node';
CREATE INDEX records_graph_edge ON records (uri) WHERE collection = 'pub.chive.graph.edge';

CREATE VIEW counted_records AS
SELECT r.uri, r.did, r.hidden, k.kind
FROM records r JOIN content_kinds k ON k.collection = r.collection
WHERE (k.rkey IS NULL OR k.rkey = r.rkey) AND (k.subkind IS NULL OR k.subkind = json_extract(r.value, '$.subkind'));

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

-- (the columns computed from `uri` change with it)
CREATE TRIGGER records_count_update_old BEFORE UPDATE OF uri, value, hidden ON records
BEGIN
    INSERT INTO content_counts (kind, did, n)
    SELECT c.kind, c.did, -1 FROM counted_records c
    WHERE c.uri = OLD.uri AND c.hidden = 0 AND NOT EXISTS (SELECT 1 FROM takedowns t WHERE t.uri = c.uri)
    ON CONFLICT (kind, did) DO UPDATE SET n = n + excluded.n;
END;

CREATE TRIGGER records_count_update_new AFTER UPDATE OF uri, value, hidden ON records
BEGIN
    INSERT INTO content_counts (kind, did, n)
    SELECT c.kind, c.did, 1 FROM counted_records c
    WHERE c.uri = NEW.uri AND c.hidden = 0 AND NOT EXISTS (SELECT 1 FROM takedowns t WHERE t.uri = c.uri)
    ON CONFLICT (kind, did) DO UPDATE SET n = n + excluded.n;
END;

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

CREATE TRIGGER takedowns_flag_insert AFTER INSERT ON takedowns
BEGIN
    UPDATE records SET taken_down = 1 WHERE uri = NEW.uri;
END;

CREATE TRIGGER takedowns_flag_delete AFTER DELETE ON takedowns
BEGIN
    UPDATE records SET taken_down = 0 WHERE uri = OLD.uri;
END;

CREATE TRIGGER records_flag_insert AFTER INSERT ON records
WHEN EXISTS (SELECT 1 FROM takedowns t WHERE t.uri = NEW.uri)
BEGIN
    UPDATE records SET taken_down = 1 WHERE uri = NEW.uri;
END;
