-- Attempts against guessable secrets, per account or client: a growing delay, kept in
-- the store so every node sees it.
CREATE TABLE attempt_throttles (
    key TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    blocked_until BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX attempt_throttles_updated ON attempt_throttles(updated_at);

-- A refusal identical to the last row from its address (within a minute) is counted
-- on that row instead of writing its own.
ALTER TABLE signin_log ADD COLUMN attempts BIGINT NOT NULL DEFAULT 1;
ALTER TABLE signin_log ADD COLUMN last_at BIGINT;
CREATE INDEX signin_log_collapse ON signin_log(ip, id);
