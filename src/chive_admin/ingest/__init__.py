"""Pulling `pub.chive.*` records from repositories into the index: listing, export reading, writing, retries."""
