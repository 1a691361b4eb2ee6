-- A takedown marked on the record's row as well (see sqlite/018_taken_down_flag.sql).
ALTER TABLE records ADD COLUMN taken_down INTEGER NOT NULL DEFAULT 0 CHECK (taken_down IN (0, 1));
UPDATE records SET taken_down = 1 WHERE uri IN (SELECT uri FROM takedowns);

-- Fires after takedowns_count (triggers fire in name order), whose SHARE lock on `records` has waited for every
-- transaction writing records, so the row of a record written at the same moment is committed and found here.
CREATE FUNCTION takedowns_flag() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE records SET taken_down = 0 WHERE uri = OLD.uri;
    ELSE
        UPDATE records SET taken_down = 1 WHERE uri = NEW.uri;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER takedowns_flag AFTER INSERT OR DELETE ON takedowns FOR EACH ROW EXECUTE FUNCTION takedowns_flag();

-- a record written under a takedown made before it; once per statement, over the rows it inserted
CREATE FUNCTION records_flag_inserted() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    UPDATE records r SET taken_down = 1 FROM new_rows n JOIN takedowns t ON t.uri = n.uri WHERE r.uri = n.uri;
    RETURN NULL;
END $$;
CREATE TRIGGER records_flag_insert AFTER INSERT ON records REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION records_flag_inserted();

DROP INDEX records_eprint_created;
CREATE INDEX records_eprint_created ON records ((((value)::jsonb #>> '{createdAt}') COLLATE "C") DESC, uri)
    INCLUDE (hidden, taken_down) WHERE collection = 'pub.chive.eprint.submission';
DROP INDEX records_comment_created;
CREATE INDEX records_comment_created
    ON records (collection, hidden, taken_down, ((value::jsonb) #>> '{createdAt}') COLLATE "C", uri)
    WHERE collection = 'pub.chive.review.comment';
DROP INDEX records_endorsement_created;
CREATE INDEX records_endorsement_created
    ON records (collection, hidden, taken_down, ((value::jsonb) #>> '{createdAt}') COLLATE "C", uri)
    WHERE collection = 'pub.chive.review.endorsement';
