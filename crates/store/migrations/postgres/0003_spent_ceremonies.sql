-- Sign-in ceremonies are sealed and carried by the browser; their ids are recorded
-- here when spent, so each is finished at most once. Rows go once the ceremony expired.
CREATE TABLE spent_ceremonies (
    id TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX spent_ceremonies_expiry ON spent_ceremonies(expires_at);
