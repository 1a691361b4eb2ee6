"""Handlers of this server's own ``dev.chiveadmin.search.*`` methods (no Chive lexicon covers them)."""
