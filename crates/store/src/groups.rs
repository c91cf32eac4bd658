use crate::audit::{self, AuditEvent};
use crate::exec::{Arg, Cols, Exec, Kind, Record, fetch_record};
use crate::group_commit::Body;
use crate::{Result, Store, StoreError};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub id: String,
    pub name: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GroupSummary {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub member_count: i64,
}

/// A group as `id, name, created_at`.
impl Record for Group {
    const KINDS: &'static [Kind] = &[Kind::Text, Kind::Text, Kind::Int];

    fn from_cols(c: &mut Cols) -> Result<Group> {
        Ok(Group {
            id: c.text()?,
            name: c.text()?,
            created_at: c.int()?,
        })
    }
}

/// A group as `id, name, created_at, member_count`.
impl Record for GroupSummary {
    const KINDS: &'static [Kind] = &[Kind::Text, Kind::Text, Kind::Int, Kind::Int];

    fn from_cols(c: &mut Cols) -> Result<GroupSummary> {
        Ok(GroupSummary {
            id: c.text()?,
            name: c.text()?,
            created_at: c.int()?,
            member_count: c.int()?,
        })
    }
}

impl Store {
    /// Adds a group; audited in the same commit.
    pub async fn create_group(&self, id: &str, name: &str, actor: &str, now: i64) -> Result<Group> {
        self.transact(CreateGroup {
            id: id.to_string(),
            name: name.to_string(),
            actor: actor.to_string(),
            now,
        })
        .await
    }

    pub async fn group_by_name(&self, name: &str) -> Result<Option<Group>> {
        self.record(
            "SELECT id, name, created_at FROM groups WHERE name = $1",
            &[Arg::Text(name)],
        )
        .await
    }

    /// Adds a member. Adding someone who is already a member is a conflict. Audited in
    /// the same commit, which also moves the group's version.
    pub async fn add_group_member(
        &self,
        group: &Group,
        user_id: &str,
        username: &str,
        actor: &str,
        now: i64,
    ) -> Result<()> {
        self.transact(AddMember {
            group: group.clone(),
            user_id: user_id.to_string(),
            username: username.to_string(),
            actor: actor.to_string(),
            now,
        })
        .await
    }

    /// One page of groups in name order, after `after` (the last name of the previous
    /// page), their names starting with `prefix` (empty: any). Walks the name index.
    pub async fn groups_page(
        &self,
        after: Option<&str>,
        prefix: &str,
        limit: u32,
    ) -> Result<Vec<GroupSummary>> {
        const SQL: &str = "SELECT g.id, g.name, g.created_at, \
             (SELECT COUNT(*) FROM group_members m WHERE m.group_id = g.id) AS member_count \
             FROM groups g WHERE g.name > $1 \
             AND ($2 = '' OR substr(g.name, 1, length($2)) = $2) \
             ORDER BY g.name LIMIT $3";
        let args = [
            Arg::Text(after.unwrap_or("")),
            Arg::Text(prefix),
            Arg::Int(i64::from(limit)),
        ];
        self.records(SQL, &args).await
    }

    /// The usernames of a group's members, in order.
    pub async fn group_members(&self, group_id: &str) -> Result<Vec<String>> {
        self.records(
            "SELECT u.username FROM group_members m JOIN users u ON u.id = m.user_id \
             WHERE m.group_id = $1 ORDER BY u.username",
            &[Arg::Text(group_id)],
        )
        .await
    }

    /// The ids of a user's groups: what policy targets name.
    pub async fn group_ids_of_user(&self, user_id: &str) -> Result<Vec<String>> {
        self.records(GROUP_IDS_OF_USER, &[Arg::Text(user_id)]).await
    }

    /// Every group, by id and name (for resolving the groups a policy names).
    pub async fn all_groups(&self) -> Result<Vec<Group>> {
        self.records("SELECT id, name, created_at FROM groups ORDER BY name", &[])
            .await
    }

    /// The names of a user's groups, in order.
    pub async fn groups_of_user(&self, user_id: &str) -> Result<Vec<String>> {
        self.records(
            "SELECT g.name FROM group_members m JOIN groups g ON g.id = m.group_id \
             WHERE m.user_id = $1 ORDER BY g.name",
            &[Arg::Text(user_id)],
        )
        .await
    }
}

const GROUP_IDS_OF_USER: &str = "SELECT group_id FROM group_members WHERE user_id = $1";

/// Moves `users.memberships_version` of a user: every change to the user's memberships
/// calls this in its own transaction, since a sign-in reuses the groups it read for as long
/// as that version stays put.
pub(crate) async fn bump_memberships_version<E: Exec>(e: &mut E, user_id: &str) -> Result<()> {
    e.exec(
        "UPDATE users SET memberships_version = memberships_version + 1 WHERE id = $1",
        &[Arg::Text(user_id)],
    )
    .await?;
    Ok(())
}

struct CreateGroup {
    id: String,
    name: String,
    actor: String,
    now: i64,
}

impl Body for CreateGroup {
    type Out = Group;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<Group> {
        const SQL: &str = "INSERT INTO groups (id, name, created_at) VALUES ($1, $2, $3) \
             RETURNING id, name, created_at";
        let args = [
            Arg::Text(&self.id),
            Arg::Text(&self.name),
            Arg::Int(self.now),
        ];
        let g: Group = fetch_record(e, SQL, &args)
            .await
            .map_err(|e| e.named_conflict("group"))?
            .ok_or(StoreError::Corrupt("an insert returned no row".into()))?;
        let ev = AuditEvent::new(self.now, &self.actor, "group.created", &self.name);
        audit::write_with(e, &ev).await?;
        Ok(g)
    }
}

struct AddMember {
    group: Group,
    user_id: String,
    username: String,
    actor: String,
    now: i64,
}

impl Body for AddMember {
    type Out = ();

    async fn run<E: Exec>(&self, e: &mut E) -> Result<()> {
        e.exec(
            "INSERT INTO group_members (group_id, user_id, added_at) VALUES ($1, $2, $3)",
            &[
                Arg::Text(&self.group.id),
                Arg::Text(&self.user_id),
                Arg::Int(self.now),
            ],
        )
        .await
        .map_err(|e| e.named_conflict("membership"))?;
        // Every sign-in's cached view of this user's groups is stale from this commit.
        bump_memberships_version(e, &self.user_id).await?;
        // A membership change is a change of the group (its version is the ETag).
        e.exec(
            "UPDATE groups SET version = version + 1, updated_at = $1 WHERE id = $2",
            &[Arg::Int(self.now), Arg::Text(&self.group.id)],
        )
        .await?;
        let ev = AuditEvent::new(
            self.now,
            &self.actor,
            "group.member_added",
            &self.group.name,
        )
        .after(serde_json::json!({ "member": self.username }));
        audit::write_with(e, &ev).await
    }
}
