-- What a passkey's attestation showed when it was registered: why it is or is not
-- attested, the model the anchor or the names knew it as, and the certificate chain it
-- presented (a JSON array of base64 DER certificates, leaf first). Kept apart from
-- `passkeys` so that a sign-in, which reads the passkey row, never reads a chain.
CREATE TABLE passkey_attestations (
    passkey_id TEXT PRIMARY KEY REFERENCES passkeys(id) ON DELETE CASCADE,
    level TEXT NOT NULL,
    not_attested_reason TEXT,
    model_name TEXT,
    chain TEXT NOT NULL
);
