-- Policies as versioned documents, one row per policy (the authentication-methods policy
-- is `methods`). `version` moves with every change: a change names the version it was
-- made from and is refused when another change came first. Every node compares its
-- copy's version with this row's to pick up a change made elsewhere.
CREATE TABLE policies (
    id TEXT PRIMARY KEY,
    version BIGINT NOT NULL,
    document TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
