-- A user's password, as a hash: Argon2id when Keyfort made it, or the Argon2 or bcrypt
-- hash an import brought (`scheme`), until the password is next verified and rehashed.
-- `source`: `set` (an administrator or the person chose it) or `imported`.
CREATE TABLE passwords (
    user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    hash TEXT NOT NULL,
    scheme TEXT NOT NULL,
    source TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
