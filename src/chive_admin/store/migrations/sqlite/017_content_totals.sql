-- Totals of the content counters (migration 015), kept by triggers on `content_counts` itself: getOverview and the
-- totals of listEprints/listReviews/listEndorsements read one row per kind instead of summing a row per repository
-- and kind (a few hundred thousand rows at a million records). `shard` is 0 here (SQLite has one writer); on
-- PostgreSQL each server connection writes its own shard, so concurrent ingest never waits on a total.
CREATE TABLE content_totals (
    kind  TEXT NOT NULL,
    shard INTEGER NOT NULL,
    n     INTEGER NOT NULL,
    PRIMARY KEY (kind, shard)
) STRICT, WITHOUT ROWID;

INSERT INTO content_totals (kind, shard, n) SELECT kind, 0, sum(n) FROM content_counts GROUP BY kind;

-- (an upsert that finds its row fires the UPDATE trigger, one that inserts the INSERT trigger: each change once)
CREATE TRIGGER content_counts_total_insert AFTER INSERT ON content_counts
BEGIN
    INSERT INTO content_totals (kind, shard, n) VALUES (NEW.kind, 0, NEW.n)
    ON CONFLICT (kind, shard) DO UPDATE SET n = n + excluded.n;
END;

CREATE TRIGGER content_counts_total_update AFTER UPDATE OF n ON content_counts
BEGIN
    INSERT INTO content_totals (kind, shard, n) VALUES (NEW.kind, 0, NEW.n - OLD.n)
    ON CONFLICT (kind, shard) DO UPDATE SET n = n + excluded.n;
END;

CREATE TRIGGER content_counts_total_delete AFTER DELETE ON content_counts
BEGIN
    INSERT INTO content_totals (kind, shard, n) VALUES (OLD.kind, 0, -OLD.n)
    ON CONFLICT (kind, shard) DO UPDATE SET n = n + excluded.n;
END;
