//! Self-service passkey management on "My security": rename and delete, through
//! `app::passkeys`.

use crate::app::passkeys;
use crate::error::ApiError;
use crate::extract::{ApiJson, CurrentSession};
use crate::state::{AppState, now_ms};
use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rename {
    display_name: String,
}

/// `POST /api/passkeys/{id}/rename`
pub async fn rename(
    State(state): State<AppState>,
    current: CurrentSession,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Rename>,
) -> Result<Json<passkeys::RenamedPasskeyDto>, ApiError> {
    let renamed = passkeys::rename(
        &state.store,
        &current.user,
        &id,
        &body.display_name,
        now_ms(),
    )
    .await?;
    Ok(Json(renamed))
}

/// `DELETE /api/passkeys/{id}`
pub async fn delete(
    State(state): State<AppState>,
    current: CurrentSession,
    Path(id): Path<String>,
) -> Result<Json<passkeys::DeletedPasskeyDto>, ApiError> {
    let deleted = passkeys::delete(&state.store, &current.user, &id, now_ms()).await?;
    Ok(Json(deleted))
}
