-- The maintenance purge removes grants that nothing issued from them still uses,
-- oldest first, through this index.
CREATE INDEX grants_created ON grants(created_at);
CREATE INDEX authorization_codes_grant ON authorization_codes(grant_id);
