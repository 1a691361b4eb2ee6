"""The `chive-admin` command: `serve` (the server) and the commands beside it (`keys`, `ops`, `dlq`), each a module."""
