-- Totals of the content counters (see sqlite/017_content_totals.sql). Each server connection adds to the row of its
-- own backend (`shard` = its pid), so two ingest transactions never wait on, or deadlock over, a total; readers sum a
-- few rows per kind. The triggers run per statement over the transition tables: one upsert per kind a statement
-- touched, not one per counter row.
CREATE TABLE content_totals (
    kind  TEXT COLLATE "C" NOT NULL,
    shard INTEGER NOT NULL,
    n     BIGINT NOT NULL,
    PRIMARY KEY (kind, shard)
);

INSERT INTO content_totals (kind, shard, n) SELECT kind, 0, sum(n) FROM content_counts GROUP BY kind;

CREATE FUNCTION content_counts_total_inserted() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO content_totals (kind, shard, n)
    SELECT m.kind, pg_backend_pid(), sum(m.n) FROM new_rows m GROUP BY m.kind ORDER BY m.kind
    ON CONFLICT (kind, shard) DO UPDATE SET n = content_totals.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE FUNCTION content_counts_total_deleted() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO content_totals (kind, shard, n)
    SELECT m.kind, pg_backend_pid(), -sum(m.n) FROM old_rows m GROUP BY m.kind ORDER BY m.kind
    ON CONFLICT (kind, shard) DO UPDATE SET n = content_totals.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE FUNCTION content_counts_total_updated() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO content_totals (kind, shard, n)
    SELECT m.kind, pg_backend_pid(), sum(m.n)
    FROM (SELECT kind, n FROM new_rows UNION ALL SELECT kind, -n FROM old_rows) m
    GROUP BY m.kind HAVING sum(m.n) <> 0 ORDER BY m.kind
    ON CONFLICT (kind, shard) DO UPDATE SET n = content_totals.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE TRIGGER content_counts_total_insert AFTER INSERT ON content_counts REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION content_counts_total_inserted();
CREATE TRIGGER content_counts_total_delete AFTER DELETE ON content_counts REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION content_counts_total_deleted();
CREATE TRIGGER content_counts_total_update AFTER UPDATE ON content_counts
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION content_counts_total_updated();
