-- Every host the index holds records from is in the PDS registry (listPDSes). Before, only pds-scan registered
-- hosts, so the PDS of a repository indexed by a did-sync, a governance-sync or a freshness-scan was missing, and
-- its records were not counted. Register the hosts of the repositories already known; upsert_repo does it since.
INSERT INTO pdses (url, first_seen_at, updated_at)
SELECT DISTINCT pds_url, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
FROM repos WHERE pds_url IS NOT NULL
ON CONFLICT (url) DO NOTHING;
