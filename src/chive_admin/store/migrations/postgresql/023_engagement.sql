-- Engagement rollups (see sqlite/023_engagement.sql).
CREATE TABLE engagement_hourly (
    uri   TEXT COLLATE "C" NOT NULL,
    kind  TEXT COLLATE "C" NOT NULL CHECK (kind IN ('view', 'download')),
    hour  INTEGER NOT NULL,
    count BIGINT NOT NULL CHECK (count > 0),
    PRIMARY KEY (uri, kind, hour)
);
CREATE INDEX engagement_hourly_by_hour ON engagement_hourly (hour, kind, uri) INCLUDE (count);

CREATE TABLE engagement_hour_totals (
    kind  TEXT COLLATE "C" NOT NULL CHECK (kind IN ('view', 'download')),
    hour  INTEGER NOT NULL,
    count BIGINT NOT NULL CHECK (count > 0),
    PRIMARY KEY (kind, hour)
);

CREATE TABLE engagement_totals (
    uri       TEXT COLLATE "C" PRIMARY KEY,
    views     BIGINT NOT NULL DEFAULT 0,
    downloads BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE engagement_seen (
    hour   INTEGER NOT NULL,
    kind   TEXT COLLATE "C" NOT NULL,
    uri    TEXT COLLATE "C" NOT NULL,
    viewer TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (hour, kind, uri, viewer)
);

CREATE TABLE search_impressions (
    impression_id TEXT COLLATE "C" PRIMARY KEY,
    hour          INTEGER NOT NULL,
    result_count  INTEGER NOT NULL CHECK (result_count >= 0)
);
CREATE INDEX search_impressions_hour ON search_impressions (hour);

CREATE TABLE search_events_seen (
    impression_id TEXT COLLATE "C" NOT NULL,
    kind          TEXT COLLATE "C" NOT NULL,
    uri           TEXT COLLATE "C" NOT NULL,
    hour          INTEGER NOT NULL,
    PRIMARY KEY (impression_id, kind, uri)
);
CREATE INDEX search_events_seen_hour ON search_events_seen (hour);

CREATE TABLE search_hourly (
    kind     TEXT COLLATE "C" NOT NULL CHECK (kind IN ('impression', 'click', 'dwell', 'download')),
    hour     INTEGER NOT NULL,
    count    BIGINT NOT NULL CHECK (count > 0),
    total_ms BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, hour)
);
