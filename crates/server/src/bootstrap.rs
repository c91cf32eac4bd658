//! First start: an empty store gets its first administrator and a one-time pass.

use crate::passes::{self, IssuedPass};
use keyfort_store::{NewUser, Store};

pub const FIRST_ADMIN: &str = "admin";

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error(transparent)]
    Store(#[from] keyfort_store::StoreError),
    #[error(transparent)]
    Issue(#[from] passes::IssueError),
    /// The stored policy gives the first administrator no pass.
    #[error("the first administrator's pass: {0}")]
    Policy(String),
}

/// Creates `admin` and a one-time pass when the directory is empty. Returns the
/// pass (to print once) only on that first start.
pub async fn first_start(store: &Store, now: i64) -> Result<Option<IssuedPass>, BootstrapError> {
    if store.count_users().await? > 0 {
        return Ok(None);
    }
    let new = NewUser {
        id: uuid::Uuid::new_v4().to_string(),
        username: FIRST_ADMIN.into(),
        display_name: "Administrator".into(),
        user_type: keyfort_core::directory::UserType::Member,
        is_admin: true,
        ..NewUser::default()
    };
    let user = match store.create_user(&new, "system", now).await {
        Ok(u) => u,
        // Another node won the race to bootstrap: it prints the pass.
        Err(keyfort_store::StoreError::Conflict(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    // On the policy's terms; the first administrator's pass is one-time, and no group
    // can be named yet, so any enabled policy allows it.
    let snapshot = crate::app::policy::load(store)
        .await
        .map_err(|e| BootstrapError::Policy(e.to_string()))?;
    let terms = keyfort_core::tap::terms(
        &snapshot.policy,
        keyfort_core::policy::Subject { groups: &[] },
        None,
        true,
    )
    .map_err(|e| BootstrapError::Policy(e.to_string()))?;
    Ok(Some(
        passes::issue(store, &user, terms, "system", now).await?,
    ))
}
