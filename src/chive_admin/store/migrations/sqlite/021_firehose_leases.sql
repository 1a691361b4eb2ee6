-- Who consumes each firehose source (issue 25): on a database shared by several processes (PostgreSQL), exactly one
-- of them reads a source at a time. The holder renews `lease_until` while it reads, and every batch it commits
-- checks (and renews) the lease in the same transaction, so a process that lost it commits nothing more; another
-- takes the source over, from its committed cursor, once `lease_until` has passed. A clean stop deletes the row.
CREATE TABLE firehose_leases (
    source      TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    lease_until TEXT NOT NULL,
    acquired_at TEXT NOT NULL
) STRICT;
