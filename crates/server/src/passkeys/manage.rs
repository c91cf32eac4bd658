//! Self-service passkey management on "My security": rename and delete.

use crate::error::ApiError;
use crate::extract::{ApiJson, CurrentSession};
use crate::state::{AppState, now_ms};
use axum::Json;
use axum::extract::{Path, State};
use keyfort_core::passkey::normalize_passkey_name;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rename {
    display_name: String,
}

fn valid_id(id: &str) -> Result<(), ApiError> {
    uuid::Uuid::parse_str(id)
        .map(|_| ())
        .map_err(|_| ApiError::not_found("not_found", "No such passkey."))
}

/// `POST /api/passkeys/{id}/rename`
pub async fn rename(
    State(state): State<AppState>,
    current: CurrentSession,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Rename>,
) -> Result<Json<Value>, ApiError> {
    valid_id(&id)?;
    let name = normalize_passkey_name(&body.display_name)
        .ok_or(keyfort_core::registration::RegistrationRefusal::InvalidName)?;
    let u = &current.user;
    state
        .store
        .rename_passkey(&u.id, &id, &name, &u.username, &u.username, now_ms())
        .await?;
    Ok(Json(json!({ "id": id, "displayName": name })))
}

/// `DELETE /api/passkeys/{id}`
pub async fn delete(
    State(state): State<AppState>,
    current: CurrentSession,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    valid_id(&id)?;
    let u = &current.user;
    state
        .store
        .delete_passkey(&u.id, &id, &u.username, &u.username, now_ms())
        .await?;
    let remaining = state.store.passkeys_of_user(&u.id).await?.len();
    Ok(Json(json!({ "deleted": id, "remaining": remaining })))
}
