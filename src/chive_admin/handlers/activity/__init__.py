"""Handlers of ``pub.chive.activity.*``: a user's own write intents, with the user's own service-auth token."""
