-- The maintenance purge finds expired rows through these instead of scanning every
-- issued token while it holds the writer.
CREATE INDEX authorization_codes_expiry ON authorization_codes(expires_at);
CREATE INDEX refresh_tokens_expiry ON refresh_tokens(expires_at);
CREATE INDEX access_tokens_expiry ON access_tokens(expires_at);
CREATE INDEX client_assertions_expiry ON client_assertions(expires_at);
