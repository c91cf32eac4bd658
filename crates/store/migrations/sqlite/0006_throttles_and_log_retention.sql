-- Attempts against guessable secrets, per account or client: a growing delay, kept in
-- the store so every node sees it.
CREATE TABLE attempt_throttles (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    blocked_until INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX attempt_throttles_updated ON attempt_throttles(updated_at);

-- A refusal identical to the last row from its address (within a minute) is counted
-- on that row instead of writing its own.
ALTER TABLE signin_log ADD COLUMN attempts INTEGER NOT NULL DEFAULT 1;
ALTER TABLE signin_log ADD COLUMN last_at INTEGER;
CREATE INDEX signin_log_collapse ON signin_log(ip, id);
