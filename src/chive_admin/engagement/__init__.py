"""Engagement a deployment's front end reports (views, downloads, search impressions and what followed them), and
the analytics read from its hourly rollups."""
