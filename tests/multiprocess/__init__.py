"""Several real ``chive-admin serve`` processes sharing one PostgreSQL database: shared work, failover, shared auth."""
