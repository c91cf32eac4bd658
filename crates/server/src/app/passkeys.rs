//! Self-service passkey use cases: a user's own passkeys, listed, renamed, removed.

use super::{AppError, Result};
use keyfort_core::passkey::normalize_passkey_name;
use keyfort_core::registration::RegistrationRefusal;
use keyfort_core::removal::{OwnRemovalFacts, RemovalRefusal, may_remove_own};
use keyfort_store::{OwnDeletion, PasskeyRecord, Store, User};
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

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RemovedPasskeyDto {
    pub removed: String,
    pub username: String,
    /// How many passkeys the user has left.
    pub remaining: usize,
    /// Browser sessions signed in with it, ended.
    pub sessions_ended: u64,
    /// Their applications' grants (refresh tokens and their access tokens), revoked.
    pub grants_revoked: u64,
}

/// What a person's passkey manager is told through the WebAuthn signal API
/// (`signalAllAcceptedCredentials`, `signalCurrentUserDetails`): every credential
/// Keyfort still accepts for the account, and the names it shows.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignalsDto {
    pub rp_id: String,
    /// The WebAuthn user handle, base64url.
    pub user_id: String,
    pub name: String,
    pub display_name: String,
    /// Credential ids, base64url.
    pub all_accepted_credential_ids: Vec<String>,
}

/// The signals for `user` under the RP ID `rp_id`.
pub async fn signals(store: &Store, user: &User, rp_id: &str) -> Result<SignalsDto> {
    use base64::Engine;
    let handle = uuid::Uuid::parse_str(&user.id).map_err(|_| AppError::NotFound("user"))?;
    let passkeys = store.passkeys_of_user(&user.id).await?;
    Ok(SignalsDto {
        rp_id: rp_id.to_string(),
        user_id: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(handle.as_bytes()),
        name: user.username.clone(),
        display_name: user.display_name.clone(),
        all_accepted_credential_ids: passkeys.into_iter().map(|p| p.credential_id).collect(),
    })
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

/// Removes one of the user's own passkeys, unless it is the last that can sign them in
/// (`signs_in` says which can: the policy in force accepts it and it is not blocked;
/// `password`: their password can too); audited. The last-one check is made again in the
/// commit, so racing removals cannot both pass it.
pub async fn delete(
    store: &Store,
    user: &User,
    id: &str,
    signs_in: &(dyn Fn(&PasskeyRecord) -> bool + Sync),
    password: bool,
    now: i64,
) -> Result<DeletedPasskeyDto> {
    passkey_id(id)?;
    let passkeys = store.passkeys_of_user(&user.id).await?;
    let target = passkeys
        .iter()
        .find(|p| p.id == id)
        .ok_or(AppError::NotFound("passkey"))?;
    let keep: Vec<String> = passkeys
        .iter()
        .filter(|p| p.id != id && signs_in(p))
        .map(|p| p.id.clone())
        .collect();
    let target_signs_in = signs_in(target);
    may_remove_own(OwnRemovalFacts {
        target_signs_in,
        others_that_sign_in: keep.len().saturating_add(usize::from(password)),
    })?;
    if target_signs_in && !password {
        match store
            .delete_own_passkey(&user.id, id, &keep, &user.username, now)
            .await?
        {
            OwnDeletion::Deleted => {}
            OwnDeletion::NotFound => return Err(AppError::NotFound("passkey")),
            OwnDeletion::LastUsable => return Err(RemovalRefusal::LastMethod.into()),
        }
    } else {
        store
            .delete_passkey(&user.id, id, &user.username, &user.username, now)
            .await?;
    }
    let remaining = store.passkeys_of_user(&user.id).await?.len();
    Ok(DeletedPasskeyDto {
        deleted: id.to_string(),
        remaining,
    })
}

/// An administrator removes one of the user's passkeys (whether they may is the caller's
/// check): deleted, the sessions signed in with it ended and their grants revoked, in one
/// audited commit. The person's passkey manager learns of it at their next sign-in or
/// visit to "My security" (the WebAuthn signal API).
pub async fn remove(
    store: &Store,
    username: &str,
    id: &str,
    actor: &str,
    now: i64,
) -> Result<RemovedPasskeyDto> {
    let user = super::directory::find_user(store, username).await?;
    passkey_id(id)?;
    let (sessions_ended, grants_revoked) = store
        .remove_passkey(&user.id, id, &user.username, actor, now)
        .await?;
    let remaining = store.passkeys_of_user(&user.id).await?.len();
    Ok(RemovedPasskeyDto {
        removed: id.to_string(),
        username: user.username.clone(),
        remaining,
        sessions_ended,
        grants_revoked,
    })
}
