-- What provisioning (SCIM, the admin API) serves for each directory object and client:
-- a version that moves with every change (its ETag), when it last changed (NULL until
-- the first change after it was created), and, for users and groups, the provisioning
-- system's own id for it.
ALTER TABLE users ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN updated_at BIGINT;
ALTER TABLE users ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX users_external_id ON users(external_id);
ALTER TABLE groups ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE groups ADD COLUMN updated_at BIGINT;
ALTER TABLE groups ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX groups_external_id ON groups(external_id);
ALTER TABLE clients ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE clients ADD COLUMN updated_at BIGINT;
