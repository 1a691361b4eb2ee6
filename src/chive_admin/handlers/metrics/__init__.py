"""Handlers of ``pub.chive.metrics.record*``: engagement reported by a deployment's front end or proxy."""
