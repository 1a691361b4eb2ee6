-- Who consumes each firehose source (see sqlite/021_firehose_leases.sql).
CREATE TABLE firehose_leases (
    source      TEXT COLLATE "C" PRIMARY KEY,
    holder      TEXT COLLATE "C" NOT NULL,
    lease_until TEXT COLLATE "C" NOT NULL,
    acquired_at TEXT COLLATE "C" NOT NULL
);
