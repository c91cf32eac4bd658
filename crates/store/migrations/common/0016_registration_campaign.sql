-- The registration campaign's memory of each person it asked: how often they snoozed
-- the question, and when last.
CREATE TABLE campaign_snoozes (
    user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    snoozes BIGINT NOT NULL,
    last_snoozed_at BIGINT NOT NULL
);
