-- Maintained content counters behind getOverview and listImports, kept by triggers (see sqlite/015_content_counts.sql
-- for the model: the same tables, the same rule, the same first fill).
CREATE TABLE content_kinds (
    collection TEXT COLLATE "C" PRIMARY KEY,
    kind       TEXT COLLATE "C" NOT NULL UNIQUE,
    rkey       TEXT COLLATE "C",
    subkind    TEXT COLLATE "C"
);
INSERT INTO content_kinds (collection, kind, rkey, subkind) VALUES
    ('pub.chive.eprint.submission', 'eprints', NULL, NULL),
    ('pub.chive.review.comment', 'reviews', NULL, NULL),
    ('pub.chive.review.endorsement', 'endorsements', NULL, NULL),
    ('pub.chive.eprint.userTag', 'tags', NULL, NULL),
    ('pub.chive.actor.profile', 'authors', 'self', NULL),
    ('pub.chive.graph.node', 'collections', NULL, 'collection');

-- Keyed by (kind, DID): concurrent ingest processes lock the rows of the repositories they write, never one hot row.
CREATE TABLE content_counts (
    kind TEXT COLLATE "C" NOT NULL,
    did  TEXT COLLATE "C" NOT NULL,
    n    BIGINT NOT NULL,
    PRIMARY KEY (kind, did)
);

INSERT INTO content_counts (kind, did, n)
SELECT k.kind, r.did, count(*)
FROM records r JOIN content_kinds k ON k.collection = r.collection
WHERE (k.rkey IS NULL OR k.rkey = r.rkey)
  AND (k.subkind IS NULL OR k.subkind = CASE WHEN k.subkind IS NOT NULL THEN (r.value::jsonb) ->> 'subkind' END)
  AND r.hidden = 0 AND NOT EXISTS (SELECT 1 FROM takedowns t WHERE t.uri = r.uri)
GROUP BY k.kind, r.did;

-- Add `delta` to the counter of the kind a record counts as, if any; with `p_uri`, only if no takedown names it
-- (the hidden flag is the caller's part).
CREATE FUNCTION content_count_add(p_uri TEXT, p_did TEXT, p_collection TEXT, p_rkey TEXT, p_value TEXT, p_delta BIGINT)
RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO content_counts (kind, did, n)
    SELECT k.kind, p_did, p_delta FROM content_kinds k
    WHERE k.collection = p_collection AND (k.rkey IS NULL OR k.rkey = p_rkey)
      -- the value is parsed only for a kind that looks into it
      AND (k.subkind IS NULL OR k.subkind = CASE WHEN k.subkind IS NOT NULL THEN (p_value::jsonb) ->> 'subkind' END)
      AND (p_uri IS NULL OR NOT EXISTS (SELECT 1 FROM takedowns t WHERE t.uri = p_uri))
    ON CONFLICT (kind, did) DO UPDATE SET n = content_counts.n + EXCLUDED.n;
END $$;

-- A row of `records` adds to its kind's counter while it is visible: hidden = 0 and no takedown of its URI. An
-- update takes the old row out and puts the new one in (a changed subkind, a hidden repository).
CREATE FUNCTION records_count() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.hidden = 0 THEN
        PERFORM content_count_add(OLD.uri, OLD.did, OLD.collection, OLD.rkey, OLD.value, -1);
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.hidden = 0 THEN
        PERFORM content_count_add(NEW.uri, NEW.did, NEW.collection, NEW.rkey, NEW.value, 1);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER records_count_insert AFTER INSERT ON records FOR EACH ROW WHEN (NEW.hidden = 0)
    EXECUTE FUNCTION records_count();
CREATE TRIGGER records_count_delete AFTER DELETE ON records FOR EACH ROW WHEN (OLD.hidden = 0)
    EXECUTE FUNCTION records_count();
CREATE TRIGGER records_count_update AFTER UPDATE OF uri, did, collection, rkey, value, hidden ON records FOR EACH ROW
    EXECUTE FUNCTION records_count();

-- A takedown takes its record out of the counters, a restore puts it back; both run after the row changed, so
-- `takedowns` already says so. Several processes write at once: a record written by a transaction not yet committed
-- is invisible to the takedown's trigger, and the takedown to the record's, so each would leave the counter as it
-- was and the record, taken down, would stay counted. The SHARE lock waits for every transaction writing `records`
-- and holds off new ones until the takedown commits, so one of the two triggers always sees the other's row.
-- Takedowns are rare admin acts; ingest waits at most one takedown transaction.
CREATE FUNCTION takedowns_count() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE records IN SHARE MODE;
    IF TG_OP <> 'INSERT' THEN
        PERFORM content_count_add(NULL, r.did, r.collection, r.rkey, r.value, 1) FROM records r
        WHERE r.uri = OLD.uri AND r.hidden = 0;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM content_count_add(NULL, r.did, r.collection, r.rkey, r.value, -1) FROM records r
        WHERE r.uri = NEW.uri AND r.hidden = 0;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER takedowns_count AFTER INSERT OR DELETE OR UPDATE OF uri ON takedowns FOR EACH ROW
    EXECUTE FUNCTION takedowns_count();

-- listEprints pages newest first by the record's createdAt, then URI, without sorting the table.
CREATE INDEX records_eprint_created ON records ((((value)::jsonb #>> '{createdAt}') COLLATE "C") DESC, uri)
    WHERE collection = 'pub.chive.eprint.submission';
