"""What several handlers share (operation views, trigger paths, DLQ lookups); `handlers/admin/` holds only methods."""
