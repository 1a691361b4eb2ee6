"""Backfill operations: job types, the context a job runs in, and the engine that runs them."""
