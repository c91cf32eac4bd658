use crate::audit::{self, AuditEvent};
use crate::exec::{Arg, Cols, Kind, Record, fetch_record};
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
    pub async fn create_group(&self, id: &str, name: &str, actor: &str, now: i64) -> Result<Group> {
        let mut tx = self.writer.begin().await?;
        const SQL: &str = "INSERT INTO groups (id, name, created_at) VALUES ($1, $2, $3) RETURNING id, name, created_at";
        let args = [Arg::Text(id), Arg::Text(name), Arg::Int(now)];
        let g: Group = fetch_record(&mut *tx, SQL, &args)
            .await
            .map_err(|e| e.named_conflict("group"))?
            .ok_or(StoreError::Corrupt("an insert returned no row".into()))?;
        audit::write(&mut tx, &AuditEvent::new(now, actor, "group.created", name)).await?;
        tx.commit().await?;
        Ok(g)
    }

    pub async fn group_by_name(&self, name: &str) -> Result<Option<Group>> {
        self.record(
            "SELECT id, name, created_at FROM groups WHERE name = $1",
            &[Arg::Text(name)],
        )
        .await
    }

    /// Adds a member. Adding someone who is already a member is a conflict.
    pub async fn add_group_member(
        &self,
        group: &Group,
        user_id: &str,
        username: &str,
        actor: &str,
        now: i64,
    ) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("INSERT INTO group_members (group_id, user_id, added_at) VALUES ($1, $2, $3)")
            .bind(&group.id)
            .bind(user_id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::conflict_or(e, "membership"))?;
        // A membership change is a change of the group (its version is the ETag).
        sqlx::query("UPDATE groups SET version = version + 1, updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&group.id)
            .execute(&mut *tx)
            .await?;
        let ev = AuditEvent::new(now, actor, "group.member_added", &group.name)
            .after(serde_json::json!({ "member": username }));
        audit::write(&mut tx, &ev).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn list_groups(&self) -> Result<Vec<GroupSummary>> {
        const SQL: &str = "SELECT g.id, g.name, g.created_at, \
             (SELECT COUNT(*) FROM group_members m WHERE m.group_id = g.id) AS member_count \
             FROM groups g ORDER BY g.name";
        self.records(SQL, &[]).await
    }

    pub async fn group_members(&self, group_id: &str) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT u.username FROM group_members m JOIN users u ON u.id = m.user_id WHERE m.group_id = $1 ORDER BY u.username",
        )
        .bind(group_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    pub async fn groups_of_user(&self, user_id: &str) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT g.name FROM group_members m JOIN groups g ON g.id = m.group_id WHERE m.user_id = $1 ORDER BY g.name",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }
}
