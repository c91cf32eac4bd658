//! Self-service passkey management on "My security": rename and delete, through
//! `app::passkeys`; the signals that keep the person's passkey manager in step; and the
//! related origins of the RP ID.

use crate::app::passkeys;
use crate::app::policy::Snapshot;
use crate::error::ApiError;
use crate::extract::{ApiJson, CurrentSession};
use crate::metadata::Derived;
use crate::state::{AppState, now_ms};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::header::CACHE_CONTROL;
use axum::response::{IntoResponse, Response};
use keyfort_core::policy::{PasskeyCandidate, Stage, Subject, evaluate_passkey};
use keyfort_store::PasskeyRecord;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

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

/// `DELETE /api/passkeys/{id}`: refused with `last_method` for the last passkey that can
/// sign the person in.
pub async fn delete(
    State(state): State<AppState>,
    current: CurrentSession,
    Path(id): Path<String>,
) -> Result<Json<passkeys::DeletedPasskeyDto>, ApiError> {
    let now = now_ms();
    let judge = Standing::load(&state, &current.user.id, now).await?;
    let signs_in = |p: &PasskeyRecord| judge.signs_in(p);
    let password = judge.password_signs_in(&state, &current.user.id).await?;
    let deleted =
        passkeys::delete(&state.store, &current.user, &id, &signs_in, password, now).await?;
    Ok(Json(deleted))
}

/// Whether each of a user's passkeys can sign them in today, and if not why: the
/// methods policy in force for their groups, FIDO's reports on the model, and the clone
/// block. My security shows it; self-service deletion keeps the last one that can.
pub struct Standing {
    policy: Arc<Snapshot>,
    groups: Vec<String>,
    derived: Arc<Derived>,
    now: i64,
}

impl Standing {
    pub async fn load(state: &AppState, user_id: &str, now: i64) -> Result<Standing, ApiError> {
        let policy = state.policy();
        let groups = policy.groups_of(&state.store, user_id).await?;
        Ok(Standing {
            policy,
            groups,
            derived: state.derived(),
            now,
        })
    }

    /// Why the policy or FIDO's reports refuse `p` at sign-in: (code, message).
    pub fn refusal(&self, p: &PasskeyRecord) -> Option<(&'static str, &'static str)> {
        let model = self.derived.standing(&p.aaguid, self.now);
        if model.is_bad() {
            return Some((model.code(), crate::refusals::REPORTED_MODEL_MESSAGE));
        }
        let candidate = PasskeyCandidate {
            aaguid: &p.aaguid,
            passkey_type: p.passkey_type,
            attested: p.attested,
        };
        let subject = Subject {
            groups: &self.groups,
        };
        evaluate_passkey(&self.policy.policy, subject, candidate, Stage::SignIn)
            .outcome
            .err()
            .map(|r| (r.code(), crate::refusals::passkey_policy_message(r, false)))
    }

    /// Whether `p` can sign the person in now.
    pub fn signs_in(&self, p: &PasskeyRecord) -> bool {
        !p.possibly_cloned && self.refusal(p).is_none()
    }

    /// Whether the person's password can sign them in now (they hold one and the policy
    /// enables passwords for them): another way in beside their passkeys.
    pub async fn password_signs_in(
        &self,
        state: &AppState,
        user_id: &str,
    ) -> Result<bool, ApiError> {
        let subject = Subject {
            groups: &self.groups,
        };
        if !keyfort_core::policy::method_applies(
            &self.policy.policy,
            keyfort_core::policy::MethodId::Password,
            subject,
        ) {
            return Ok(false);
        }
        Ok(state.store.password_of_user(user_id).await?.is_some())
    }
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
