//! The registration campaign's one endpoint: "Remind me later" (`keyfort_core::campaign`
//! decides whether the person may).

use crate::error::ApiError;
use crate::extract::CurrentSession;
use crate::state::{AppState, now_ms};
use axum::Json;
use axum::extract::State;
use keyfort_core::campaign::{SnoozeRefusal, may_snooze};
use serde_json::{Value, json};

/// `POST /api/campaign/snooze`: counts one snooze, audited, while the campaign asks.
pub async fn snooze(
    State(state): State<AppState>,
    current: CurrentSession,
) -> Result<Json<Value>, ApiError> {
    let now = now_ms();
    let user = &current.user;
    let holds_passkey = !state.store.passkeys_of_user(&user.id).await?.is_empty();
    let policy = state.policy();
    let groups = policy.groups_of(&state.store, &user.id).await?;
    let step = crate::signin::campaign_step(
        &state,
        &user.id,
        holds_passkey,
        &policy.policy,
        &groups,
        now,
    )
    .await?;
    may_snooze(step)?;
    let seen = state.store.campaign_snoozes(&user.id).await?.snoozes;
    // Counted only from the count decided on: racing snoozes cannot pass the limit.
    if !state
        .store
        .snooze_campaign(&user.id, &user.username, seen, now)
        .await?
    {
        return Err(SnoozeRefusal::NotAsked.into());
    }
    Ok(Json(json!({ "snoozes": seen.saturating_add(1) })))
}
