//! Temporary Access Pass use cases.

use super::directory::find_user;
use super::dto::{IssuedPassDto, iso};
use super::{AppError, Result};
use crate::passes::IssueError;
use keyfort_core::policy::Subject;
use keyfort_store::Store;

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
