//! An administrator removes a user's password or authenticator app (the passkey and pass
//! removals are `passkeys` and `passes`). Each removal is audited in its commit; nothing
//! else of the user changes.

use super::directory::find_user;
use super::{AppError, Result};
use keyfort_store::Store;
use serde::Serialize;

/// Which method was removed.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum LegacyMethod {
    Password,
    AuthenticatorApp,
}

/// A method removed from a user.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RemovedMethodDto {
    pub username: String,
    pub removed: LegacyMethod,
}

/// Removes `method` from the user named `raw`, audited (`password.removed`,
/// `totp.removed`); `NotFound` when they have none.
pub async fn remove(
    store: &Store,
    raw: &str,
    method: LegacyMethod,
    actor: &str,
    now: i64,
) -> Result<RemovedMethodDto> {
    let user = find_user(store, raw).await?;
    let (id, name) = (&user.id, &user.username);
    let removed = match method {
        LegacyMethod::Password => store.remove_password(id, name, actor, now).await?,
        LegacyMethod::AuthenticatorApp => store.remove_totp(id, name, actor, now).await?,
    };
    if !removed {
        return Err(AppError::NotFound(match method {
            LegacyMethod::Password => "password",
            LegacyMethod::AuthenticatorApp => "authenticator app",
        }));
    }
    Ok(RemovedMethodDto {
        username: user.username,
        removed: method,
    })
}
