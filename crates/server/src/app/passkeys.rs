//! Self-service passkey use cases: a user's own passkeys, listed, renamed, removed.

use super::{AppError, Result};
use keyfort_core::passkey::normalize_passkey_name;
use keyfort_core::registration::RegistrationRefusal;
use keyfort_store::{Store, User};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RenamedPasskeyDto {
    pub id: String,
    pub display_name: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeletedPasskeyDto {
    pub deleted: String,
    /// How many passkeys the user has left.
    pub remaining: usize,
}

/// Passkey ids are UUIDs: anything else names no passkey (and is not looked up).
fn passkey_id(id: &str) -> Result<()> {
    uuid::Uuid::parse_str(id)
        .map(|_| ())
        .map_err(|_| AppError::NotFound("passkey"))
}

/// Renames one of the user's own passkeys; audited.
pub async fn rename(
    store: &Store,
    user: &User,
    id: &str,
    name: &str,
    now: i64,
) -> Result<RenamedPasskeyDto> {
    passkey_id(id)?;
    let name = normalize_passkey_name(name).ok_or(RegistrationRefusal::InvalidName)?;
    store
        .rename_passkey(&user.id, id, &name, &user.username, &user.username, now)
        .await?;
    Ok(RenamedPasskeyDto {
        id: id.to_string(),
        display_name: name,
    })
}

/// Removes one of the user's own passkeys; audited.
pub async fn delete(store: &Store, user: &User, id: &str, now: i64) -> Result<DeletedPasskeyDto> {
    passkey_id(id)?;
    store
        .delete_passkey(&user.id, id, &user.username, &user.username, now)
        .await?;
    let remaining = store.passkeys_of_user(&user.id).await?.len();
    Ok(DeletedPasskeyDto {
        deleted: id.to_string(),
        remaining,
    })
}
