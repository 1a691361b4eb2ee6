-- getAuditLog lists only calls made by an identified caller (Chive's lexicon requires actorDid). Refusals without
-- one can outnumber them by far (anyone can send a bad token), so the newest identified entries are found through
-- this index rather than by stepping over every anonymous row.
CREATE INDEX audit_log_identified ON audit_log (id) WHERE actor_did IS NOT NULL;
