-- Administrative roles held by people (principal_kind 'user', a users.id) and by
-- applications acting as themselves (principal_kind 'client', a clients.id). Removing
-- the user or client removes its assignments in the same transaction as the removal.
CREATE TABLE role_assignments (
    principal_kind TEXT NOT NULL,
    principal_id TEXT NOT NULL,
    role TEXT NOT NULL,
    assigned_at BIGINT NOT NULL,
    assigned_by TEXT NOT NULL,
    PRIMARY KEY (principal_kind, principal_id, role)
);

-- The administrators made before roles existed are global administrators.
INSERT INTO role_assignments (principal_kind, principal_id, role, assigned_at, assigned_by)
SELECT 'user', id, 'globalAdministrator', created_at, 'migration' FROM users WHERE is_admin = 1;
