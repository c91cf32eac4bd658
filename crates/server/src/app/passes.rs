//! Temporary Access Pass use cases.

use super::directory::find_user;
use super::dto::{IssuedPassDto, PassDto, iso};
use super::{AppError, Result};
use crate::passes::IssueError;
use keyfort_core::policy::Subject;
use keyfort_store::{AuditEvent, Store};
use serde::Serialize;

/// Issues a pass for the user named `raw`, replacing any previous one, on the terms the
/// authentication-methods policy gives (`keyfort_core::tap::terms`): refused when the
/// policy does not allow the user a pass or the lifetime is outside its range; one-time
/// when the policy makes every pass one-time. The code is in the answer and nowhere else.
/// Audited as `tap.issued`.
pub async fn issue_pass(
    store: &Store,
    raw: &str,
    lifetime_minutes: Option<i64>,
    one_time: bool,
    actor: &str,
    now: i64,
) -> Result<IssuedPassDto> {
    let user = find_user(store, raw).await?;
    let snapshot = super::policy::load(store).await?;
    let groups = snapshot.groups_of(store, &user.id).await?;
    let terms = keyfort_core::tap::terms(
        &snapshot.policy,
        Subject { groups: &groups },
        lifetime_minutes,
        one_time,
    )
    .map_err(AppError::PassIssue)?;
    let issued = crate::passes::issue(store, &user, terms, actor, now)
        .await
        .map_err(|e| match e {
            IssueError::Store(s) => s.into(),
            IssueError::Hash(h) => AppError::Internal(h.to_string()),
        })?;
    let r = &issued.record;
    Ok(IssuedPassDto {
        username: user.username,
        temporary_access_pass: issued.code,
        start_date_time: iso(r.start_at),
        expiration_date_time: iso(r.state().expires_at()),
        lifetime_in_minutes: r.lifetime_minutes,
        is_usable_once: r.one_time,
        replaced_previous: issued.replaced_previous,
    })
}

/// Whether the policy allows the user a pass now.
pub async fn allowed(store: &Store, user_id: &str) -> Result<bool> {
    let snapshot = super::policy::load(store).await?;
    let groups = snapshot.groups_of(store, user_id).await?;
    Ok(keyfort_core::tap::allowed(
        &snapshot.policy,
        Subject { groups: &groups },
    ))
}

/// The pass of the user named `raw`, as metadata (never the code); the view is audited
/// as `tap.viewed`. No pass is "not found".
pub async fn show_pass(store: &Store, raw: &str, actor: &str, now: i64) -> Result<PassDto> {
    let user = find_user(store, raw).await?;
    let pass = store
        .pass_of_user(&user.id)
        .await?
        .ok_or(AppError::NotFound("pass"))?;
    let allowed = allowed(store, &user.id).await?;
    let ev = AuditEvent::new(now, actor, "tap.viewed", &user.username)
        .after(serde_json::json!({ "passId": pass.id }));
    store.record_observation(ev).await?;
    Ok(PassDto::of(&pass, allowed, now))
}

/// A revoked pass, and what it had let in that ended with it.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevokedPassDto {
    pub username: String,
    pub temporary_access_pass: PassDto,
    /// Sessions signed in with a pass, ended.
    pub sessions_ended: u64,
    /// Applications' grants from those sessions, revoked (their tokens stop working).
    pub grants_revoked: u64,
}

/// Revokes the pass of the user named `raw`: the pass, the sessions signed in with a
/// pass and their applications' grants end in one audited commit (`tap.revoked`). No
/// pass is "not found".
pub async fn revoke_pass(
    store: &Store,
    raw: &str,
    actor: &str,
    now: i64,
) -> Result<RevokedPassDto> {
    let user = find_user(store, raw).await?;
    let revoked = store
        .revoke_pass(&user.id, &user.username, actor, now)
        .await?
        .ok_or(AppError::NotFound("pass"))?;
    Ok(RevokedPassDto {
        username: user.username,
        temporary_access_pass: PassDto::of(&revoked.pass, false, now),
        sessions_ended: revoked.sessions_ended,
        grants_revoked: revoked.grants_revoked,
    })
}
