-- The jti of every accepted service-auth token until it expires, in the database that every process shares, so a
-- token used on one process is refused as replayed on every other (auth/replay.py). Epoch seconds.
CREATE TABLE service_auth_jtis (
    issuer     TEXT COLLATE "C" NOT NULL,
    jti        TEXT COLLATE "C" NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (issuer, jti)
);
CREATE INDEX service_auth_jtis_expires ON service_auth_jtis (expires_at);
