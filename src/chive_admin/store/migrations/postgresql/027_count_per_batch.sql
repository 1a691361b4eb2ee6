-- Nothing to change here: PostgreSQL's counting triggers already run once per statement (015); SQLite's 027 moves
-- its per-row insert triggers into store/index.upsert_records.
SELECT 1;
