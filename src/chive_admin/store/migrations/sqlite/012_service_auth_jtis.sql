-- The jti of every accepted service-auth token until it expires (epoch seconds). A server that owns its SQLite file
-- keeps the set in memory; the table is the set that several processes share (auth/replay.py), kept on both
-- backends so that the schema is one.
CREATE TABLE service_auth_jtis (
    issuer     TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (issuer, jti)
) STRICT, WITHOUT ROWID;
CREATE INDEX service_auth_jtis_expires ON service_auth_jtis (expires_at);
