//! Self-service passkey management on "My security": rename and delete, through
//! `app::passkeys`; the signals that keep the person's passkey manager in step; and the
//! related origins of the RP ID.

use crate::app::passkeys;
use crate::error::ApiError;
use crate::extract::{ApiJson, CurrentSession};
use crate::state::{AppState, now_ms};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::header::CACHE_CONTROL;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

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

/// `GET /api/passkeys/signals`: what the pages tell the browser's passkey manager
/// (WebAuthn L3 §5.1.10: which credentials still exist, and the account's names).
pub async fn signals(
    State(state): State<AppState>,
    current: CurrentSession,
) -> Result<Json<passkeys::SignalsDto>, ApiError> {
    Ok(Json(
        passkeys::signals(&state.store, &current.user, &state.rp.id).await?,
    ))
}

/// `GET /.well-known/webauthn`: the origins allowed to use Keyfort's RP ID (WebAuthn L3
/// §5.11.1); "no such endpoint" while none is configured.
pub async fn related_origins(State(state): State<AppState>) -> Result<Response, ApiError> {
    if state.rp.related_origins.is_empty() {
        return Err(crate::refusals::RequestRefusal::NoSuchEndpoint.into());
    }
    Ok((
        [(CACHE_CONTROL, "public, max-age=3600")],
        Json(json!({ "origins": state.rp.related_origins })),
    )
        .into_response())
}
