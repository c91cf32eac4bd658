-- The last good FIDO metadata BLOB, shared by every node: replaced only by a verified BLOB
-- of a higher serial number, so a failed or older download never displaces it.
CREATE TABLE metadata_blobs (
    source TEXT PRIMARY KEY,
    blob TEXT NOT NULL,
    serial BIGINT NOT NULL,
    next_update BIGINT NOT NULL,
    stored_at BIGINT NOT NULL
);
