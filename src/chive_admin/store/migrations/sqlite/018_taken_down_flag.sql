-- A takedown marked on the record's row as well: `records.taken_down`, kept by triggers from `takedowns` (which stays
-- the truth: keyed by URI, it outlives the row and can precede it). Readers test two columns of the row instead of
-- probing `takedowns` once per record, and the page indexes hold both, so an offset walks an index range and reads
-- nothing else (the middle of 454k reviews: 3x faster).
ALTER TABLE records ADD COLUMN taken_down INTEGER NOT NULL DEFAULT 0 CHECK (taken_down IN (0, 1));
UPDATE records SET taken_down = 1 WHERE uri IN (SELECT uri FROM takedowns);

CREATE TRIGGER takedowns_flag_insert AFTER INSERT ON takedowns
BEGIN
    UPDATE records SET taken_down = 1 WHERE uri = NEW.uri;
END;

CREATE TRIGGER takedowns_flag_delete AFTER DELETE ON takedowns
BEGIN
    UPDATE records SET taken_down = 0 WHERE uri = OLD.uri;
END;

-- a record written under a takedown made before it (a URI blocked in advance, a delete-and-recreate)
CREATE TRIGGER records_flag_insert AFTER INSERT ON records
WHEN EXISTS (SELECT 1 FROM takedowns t WHERE t.uri = NEW.uri)
BEGIN
    UPDATE records SET taken_down = 1 WHERE uri = NEW.uri;
END;

DROP INDEX records_eprint_created;
CREATE INDEX records_eprint_created ON records (json_extract(value, '$.createdAt') DESC, uri, hidden, taken_down)
    WHERE collection = 'pub.chive.eprint.submission';
DROP INDEX records_comment_created;
CREATE INDEX records_comment_created
    ON records (collection, hidden, taken_down, json_extract(value, '$.createdAt'), uri)
    WHERE collection = 'pub.chive.review.comment';
DROP INDEX records_endorsement_created;
CREATE INDEX records_endorsement_created
    ON records (collection, hidden, taken_down, json_extract(value, '$.createdAt'), uri)
    WHERE collection = 'pub.chive.review.endorsement';
