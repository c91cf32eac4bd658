-- A count that moves with every change to a user's group memberships, in the same
-- transaction as the change. A sign-in reads it with the user and reuses the groups it
-- read before while it has not moved, so a policy naming groups costs no membership read
-- on a repeat sign-in, and a membership change on any node is seen at the next sign-in.
ALTER TABLE users ADD COLUMN memberships_version BIGINT NOT NULL DEFAULT 0;
