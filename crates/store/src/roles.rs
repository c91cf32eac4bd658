//! Administrative role assignments: which person or application holds which role.

use crate::audit::{self, AuditEvent};
use crate::exec::{Arg, Cols, Exec, Kind, Record, fetch_records};
use crate::group_commit::Body;
use crate::{Result, Store, StoreError};
use keyfort_core::roles::{PrincipalKind, Role};

/// One role held by one principal. `principal_name` is the username or the client id,
/// for people reading it.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    pub principal_kind: PrincipalKind,
    pub principal_id: String,
    pub principal_name: String,
    pub role: Role,
    pub assigned_at: i64,
    pub assigned_by: String,
}

impl Assignment {
    pub fn of_user(user: &crate::User, role: Role, actor: &str, now: i64) -> Assignment {
        Assignment {
            principal_kind: PrincipalKind::User,
            principal_id: user.id.clone(),
            principal_name: user.username.clone(),
            role,
            assigned_at: now,
            assigned_by: actor.to_string(),
        }
    }

    pub fn of_client(client_id: &str, role: Role, actor: &str, now: i64) -> Assignment {
        Assignment {
            principal_kind: PrincipalKind::Client,
            principal_id: client_id.to_string(),
            principal_name: client_id.to_string(),
            role,
            assigned_at: now,
            assigned_by: actor.to_string(),
        }
    }

    fn target(&self) -> String {
        format!("{}:{}", self.principal_kind.as_str(), self.principal_name)
    }
}

/// `principal_kind, principal_id, principal_name, role, assigned_at, assigned_by`.
impl Record for Assignment {
    const KINDS: &'static [Kind] = &[
        Kind::Text,
        Kind::Text,
        Kind::Text,
        Kind::Text,
        Kind::Int,
        Kind::Text,
    ];

    fn from_cols(c: &mut Cols) -> Result<Assignment> {
        Ok(Assignment {
            principal_kind: c.parsed("principal kind", PrincipalKind::parse)?,
            principal_id: c.text()?,
            principal_name: c.text()?,
            role: c.parsed("role", Role::parse)?,
            assigned_at: c.int()?,
            assigned_by: c.text()?,
        })
    }
}

/// Every assignment with the name of its holder, by holder then role.
const LIST: &str = "SELECT r.principal_kind, r.principal_id, COALESCE(u.username, r.principal_id), \
     r.role, r.assigned_at, r.assigned_by FROM role_assignments r \
     LEFT JOIN users u ON r.principal_kind = 'user' AND u.id = r.principal_id \
     ORDER BY r.principal_kind, 3, r.role";

const ROLES_OF: &str = "SELECT role FROM role_assignments WHERE principal_kind = $1 AND principal_id = $2 \
     ORDER BY role";

/// Inserts an assignment with its audit row, on the connection of the change it belongs to.
pub(crate) async fn insert_with<E: Exec>(e: &mut E, a: &Assignment, actor: &str) -> Result<()> {
    e.exec(
        "INSERT INTO role_assignments (principal_kind, principal_id, role, assigned_at, assigned_by) \
         VALUES ($1, $2, $3, $4, $5)",
        &[
            Arg::Text(a.principal_kind.as_str()),
            Arg::Text(&a.principal_id),
            Arg::Text(a.role.as_str()),
            Arg::Int(a.assigned_at),
            Arg::Text(&a.assigned_by),
        ],
    )
    .await
    .map_err(|e| e.named_conflict("role assignment"))?;
    let ev = AuditEvent::new(a.assigned_at, actor, "role.assigned", a.target())
        .after(serde_json::json!({ "role": a.role.as_str() }));
    audit::write_with(e, &ev).await
}

struct Assign(Assignment);

impl Body for Assign {
    type Out = ();

    async fn run<E: Exec>(&self, e: &mut E) -> Result<()> {
        insert_with(e, &self.0, &self.0.assigned_by).await
    }
}

struct Unassign {
    assignment: Assignment,
    actor: String,
    now: i64,
}

impl Body for Unassign {
    type Out = ();

    async fn run<E: Exec>(&self, e: &mut E) -> Result<()> {
        let a = &self.assignment;
        let gone = e
            .exec(
                "DELETE FROM role_assignments WHERE principal_kind = $1 AND principal_id = $2 AND role = $3",
                &[
                    Arg::Text(a.principal_kind.as_str()),
                    Arg::Text(&a.principal_id),
                    Arg::Text(a.role.as_str()),
                ],
            )
            .await?;
        if gone == 0 {
            return Err(StoreError::NotFound("role assignment"));
        }
        let ev = AuditEvent::new(self.now, &self.actor, "role.removed", a.target())
            .before(serde_json::json!({ "role": a.role.as_str() }));
        audit::write_with(e, &ev).await
    }
}

struct RolesOf {
    kind: PrincipalKind,
    id: String,
}

impl Body for RolesOf {
    type Out = Vec<Role>;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<Vec<Role>> {
        let names: Vec<String> = fetch_records(
            e,
            ROLES_OF,
            &[Arg::Text(self.kind.as_str()), Arg::Text(&self.id)],
        )
        .await?;
        // An unknown name (written by a newer version) grants nothing.
        Ok(names.iter().filter_map(|n| Role::parse(n)).collect())
    }
}

impl Store {
    /// Assigns a role, audited in the same transaction. `Conflict` when it is held already.
    pub async fn assign_role(&self, a: Assignment) -> Result<()> {
        self.transact(Assign(a)).await
    }

    /// Removes a role, audited in the same transaction. `NotFound` when it was not held.
    pub async fn remove_role(&self, a: Assignment, actor: &str, now: i64) -> Result<()> {
        self.transact(Unassign {
            assignment: a,
            actor: actor.to_string(),
            now,
        })
        .await
    }

    /// The roles a principal holds.
    pub async fn roles_of(&self, kind: PrincipalKind, id: &str) -> Result<Vec<Role>> {
        self.read(RolesOf {
            kind,
            id: id.to_string(),
        })
        .await
    }

    /// Every role assignment.
    pub async fn role_assignments(&self) -> Result<Vec<Assignment>> {
        self.records(LIST, &[]).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn assignments_are_audited_listed_and_removed() {
        let (store, _dir) = crate::test_sqlite().await;
        let a = Assignment::of_client("svc", Role::GlobalReader, "admin", 1_000);
        store.assign_role(a.clone()).await.unwrap();
        assert!(matches!(
            store.assign_role(a.clone()).await,
            Err(StoreError::Conflict("role assignment"))
        ));
        assert_eq!(
            store.roles_of(PrincipalKind::Client, "svc").await.unwrap(),
            vec![Role::GlobalReader]
        );
        assert!(
            store
                .roles_of(PrincipalKind::User, "svc")
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(store.role_assignments().await.unwrap(), vec![a.clone()]);
        store.remove_role(a.clone(), "admin", 2_000).await.unwrap();
        assert!(matches!(
            store.remove_role(a, "admin", 3_000).await,
            Err(StoreError::NotFound("role assignment"))
        ));
        let actions: Vec<String> = store
            .audit_log(10)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.action)
            .collect();
        assert!(actions.contains(&"role.assigned".to_string()));
        assert!(actions.contains(&"role.removed".to_string()));
    }
}
