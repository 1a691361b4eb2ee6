"""Live indexing: a firehose source's commits, verified by ``ingest.live_commit``, applied as they happen; what
cannot be applied is handed to the engine as a did-sync."""
