-- Engagement recorded by a deployment's front end (pub.chive.metrics.record*, and our search impressions): hourly
-- rollups only, never the raw events. `hour` counts whole hours since the Unix epoch, UTC.

-- Views and downloads of each eprint per hour; kept for the retention period (store/engagement.py).
CREATE TABLE engagement_hourly (
    uri   TEXT NOT NULL,
    kind  TEXT NOT NULL CHECK (kind IN ('view', 'download')),
    hour  INTEGER NOT NULL,
    count INTEGER NOT NULL CHECK (count > 0),
    PRIMARY KEY (uri, kind, hour)
) STRICT, WITHOUT ROWID;
-- windows over every eprint (trending, the overview) and pruning read by hour; `count` makes it covering
CREATE INDEX engagement_hourly_by_hour ON engagement_hourly (hour, kind, uri, count);

-- The same summed over every eprint: the aggregate time series reads a row per hour, whatever the eprints.
CREATE TABLE engagement_hour_totals (
    kind  TEXT NOT NULL CHECK (kind IN ('view', 'download')),
    hour  INTEGER NOT NULL,
    count INTEGER NOT NULL CHECK (count > 0),
    PRIMARY KEY (kind, hour)
) STRICT, WITHOUT ROWID;

-- All-time counts per eprint (listEprints), never pruned.
CREATE TABLE engagement_totals (
    uri       TEXT PRIMARY KEY,
    views     INTEGER NOT NULL DEFAULT 0,
    downloads INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;

-- Who was counted in an hour, as a salted hash (of the viewer's DID, else of the client address): one view per
-- viewer, eprint and hour. Rows of hours that are over are pruned.
CREATE TABLE engagement_seen (
    hour   INTEGER NOT NULL,
    kind   TEXT NOT NULL,
    uri    TEXT NOT NULL,
    viewer TEXT NOT NULL,
    PRIMARY KEY (hour, kind, uri, viewer)
) STRICT, WITHOUT ROWID;

-- Search impressions, kept a day so that clicks, dwell times and downloads can name them; no query text is kept.
CREATE TABLE search_impressions (
    impression_id TEXT PRIMARY KEY,
    hour          INTEGER NOT NULL,
    result_count  INTEGER NOT NULL CHECK (result_count >= 0)
) STRICT, WITHOUT ROWID;
CREATE INDEX search_impressions_hour ON search_impressions (hour);

-- The results of an impression already clicked or downloaded (each counts once), pruned with the impressions.
CREATE TABLE search_events_seen (
    impression_id TEXT NOT NULL,
    kind          TEXT NOT NULL,
    uri           TEXT NOT NULL,
    hour          INTEGER NOT NULL,
    PRIMARY KEY (impression_id, kind, uri)
) STRICT, WITHOUT ROWID;
CREATE INDEX search_events_seen_hour ON search_events_seen (hour);

-- Search events per hour: impressions, clicks, dwell times (with their sum), downloads.
CREATE TABLE search_hourly (
    kind     TEXT NOT NULL CHECK (kind IN ('impression', 'click', 'dwell', 'download')),
    hour     INTEGER NOT NULL,
    count    INTEGER NOT NULL CHECK (count > 0),
    total_ms INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, hour)
) STRICT, WITHOUT ROWID;
