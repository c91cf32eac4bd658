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

/// Removes the password of the user named `raw`, audited as `password.removed`.
pub async fn remove_password(
    store: &Store,
    raw: &str,
    actor: &str,
    now: i64,
) -> Result<RemovedMethodDto> {
    let user = find_user(store, raw).await?;
    if !store
        .remove_password(&user.id, &user.username, actor, now)
        .await?
    {
        return Err(AppError::NotFound("password"));
    }
    Ok(RemovedMethodDto {
        username: user.username,
        removed: LegacyMethod::Password,
    })
}

/// Removes the authenticator app of the user named `raw`, audited as `totp.removed`.
pub async fn remove_authenticator_app(
    store: &Store,
    raw: &str,
    actor: &str,
    now: i64,
) -> Result<RemovedMethodDto> {
    let user = find_user(store, raw).await?;
    if !store
        .remove_totp(&user.id, &user.username, actor, now)
        .await?
    {
        return Err(AppError::NotFound("authenticator app"));
    }
    Ok(RemovedMethodDto {
        username: user.username,
        removed: LegacyMethod::AuthenticatorApp,
    })
}
