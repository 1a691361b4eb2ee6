-- Activity intents (see sqlite/025_activity.sql).
CREATE TABLE activity_intents (
    id           TEXT COLLATE "C" PRIMARY KEY,
    did          TEXT COLLATE "C" NOT NULL,
    collection   TEXT COLLATE "C" NOT NULL,
    rkey         TEXT COLLATE "C" NOT NULL,
    uri          TEXT COLLATE "C" NOT NULL,
    action       TEXT COLLATE "C" NOT NULL CHECK (action IN ('create', 'update', 'delete')),
    category     TEXT COLLATE "C" NOT NULL,
    created_us   BIGINT NOT NULL,
    hour         INTEGER NOT NULL,
    status       TEXT COLLATE "C" NOT NULL CHECK (status IN ('pending', 'confirmed', 'failed')),
    confirmed_us BIGINT,
    error_code   TEXT
);
CREATE INDEX activity_pending_by_uri ON activity_intents (uri) WHERE status = 'pending';
CREATE INDEX activity_by_did ON activity_intents (did, created_us);
CREATE INDEX activity_by_hour ON activity_intents (hour, category);
