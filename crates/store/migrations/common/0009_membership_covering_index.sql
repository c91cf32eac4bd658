-- Once a policy names groups, every sign-in reads the user's group ids. An index holding
-- both columns answers that from one or two index pages; the index on user_id alone cost
-- a table page per membership (50 reads from disk per sign-in for a user in 50 groups,
-- since a SQLite reader's page cache starts empty after any other connection's write).
DROP INDEX group_members_user;
CREATE INDEX group_members_user_group ON group_members(user_id, group_id);
