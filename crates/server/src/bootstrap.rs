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
    Ok(Some(
        passes::issue(store, &user, None, true, "system", now).await?,
    ))
}
