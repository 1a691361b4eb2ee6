"""Pulling ``pub.chive.*`` records from repositories: shared by the sync jobs."""
