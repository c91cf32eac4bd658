-- A user's authenticator app (TOTP, RFC 6238): its secret sealed under Keyfort's
-- `totp-secrets` subkey (base64 of nonce ‖ ciphertext ‖ tag, the user id as associated
-- data), and the last time step a code was accepted for, so no code is accepted twice.
CREATE TABLE totp_credentials (
    user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    secret_sealed TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_step BIGINT,
    last_used_at BIGINT
);
