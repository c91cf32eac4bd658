//! Administrative role assignments: assign, remove, list. Audited in the store, in the
//! same transaction as the change.

use super::directory::find_user;
use super::{AppError, Result};
use keyfort_core::roles::{PrincipalKind, Role};
use keyfort_store::{Assignment, Store};
use serde::Serialize;

/// One role held by a person or an application.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
#[derive(utoipa::ToSchema)]
pub struct RoleAssignmentDto {
    pub role: Role,
    pub principal_type: PrincipalKind,
    /// The username, or the client id.
    pub principal: String,
    pub assigned_by: String,
    pub assigned_date_time: String,
}

impl From<&Assignment> for RoleAssignmentDto {
    fn from(a: &Assignment) -> Self {
        RoleAssignmentDto {
            role: a.role,
            principal_type: a.principal_kind,
            principal: a.principal_name.clone(),
            assigned_by: a.assigned_by.clone(),
            assigned_date_time: super::dto::iso(a.assigned_at),
        }
    }
}

/// Parses a role name, naming the valid ones when it is not one.
pub fn parse_role(raw: &str) -> Result<Role> {
    Role::parse(raw).ok_or_else(|| AppError::UnknownRole(raw.chars().take(64).collect()))
}

/// The assignment `principal` (a username, or a client id) would hold.
async fn assignment(
    store: &Store,
    kind: PrincipalKind,
    principal: &str,
    role: Role,
    actor: &str,
    now: i64,
) -> Result<Assignment> {
    match kind {
        PrincipalKind::User => {
            let user = find_user(store, principal).await?;
            Ok(Assignment::of_user(&user, role, actor, now))
        }
        PrincipalKind::Client => {
            let client = store
                .client(principal)
                .await?
                .ok_or(AppError::NotFound("client"))?;
            Ok(Assignment::of_client(&client.id, role, actor, now))
        }
    }
}

/// Assigns `role`; already held is a conflict.
pub async fn assign(
    store: &Store,
    kind: PrincipalKind,
    principal: &str,
    role: Role,
    actor: &str,
    now: i64,
) -> Result<RoleAssignmentDto> {
    let a = assignment(store, kind, principal, role, actor, now).await?;
    store.assign_role(a.clone()).await?;
    Ok(RoleAssignmentDto::from(&a))
}

/// Removes `role`; not held is "not found". The last global administrator who is a person
/// is kept: someone must be able to sign in and administer. (An operator with the server's
/// configuration can always assign roles with the CLI.)
pub async fn remove(
    store: &Store,
    kind: PrincipalKind,
    principal: &str,
    role: Role,
    actor: &str,
    now: i64,
) -> Result<()> {
    let a = assignment(store, kind, principal, role, actor, now).await?;
    if role == Role::GlobalAdministrator && kind == PrincipalKind::User {
        let people = store
            .role_assignments()
            .await?
            .into_iter()
            .filter(|x| x.role == role && x.principal_kind == PrincipalKind::User)
            .count();
        if people <= 1 && store.roles_of(kind, &a.principal_id).await?.contains(&role) {
            return Err(AppError::LastGlobalAdministrator);
        }
    }
    store.remove_role(a, actor, now).await?;
    Ok(())
}

/// Every assignment, by holder then role.
pub async fn list(store: &Store) -> Result<Vec<RoleAssignmentDto>> {
    Ok(store
        .role_assignments()
        .await?
        .iter()
        .map(RoleAssignmentDto::from)
        .collect())
}
