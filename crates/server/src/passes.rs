//! Temporary Access Passes: issuing one, and signing in with one.

use crate::crypto::{dummy_code_hash, hash_code, random_bytes, verify_code};
use crate::error::ApiError;
use crate::extract::{ApiJson, ClientInfo};
use crate::signin;
use crate::state::{AppState, now_ms};
use crate::throttle::{self, Action, PASS_BACKOFF, PASS_USE_BACKOFF};
use axum::Json;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::response::{AppendHeaders, IntoResponse};
use keyfort_core::tap::{self, DEFAULT_LENGTH};
use keyfort_store::{PassRecord, Store, StoreError, User};
use serde::Deserialize;
use serde_json::json;

/// A freshly issued pass: the code exists only here, to be shown once.
#[derive(Debug, Clone)]
pub struct IssuedPass {
    pub code: String,
    pub record: PassRecord,
    pub replaced_previous: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error(transparent)]
    Lifetime(#[from] tap::LifetimeError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Hash(#[from] crate::crypto::HashError),
}

/// Issues a pass for `user`, replacing any previous one. Stored as an Argon2id hash.
pub async fn issue(
    store: &Store,
    user: &User,
    lifetime_minutes: Option<i64>,
    one_time: bool,
    actor: &str,
    now: i64,
) -> Result<IssuedPass, IssueError> {
    let lifetime = tap::lifetime(lifetime_minutes)?;
    let code = loop {
        if let Some(c) = tap::code_from_random(random_bytes(64), DEFAULT_LENGTH) {
            break c;
        }
    };
    let record = PassRecord {
        id: uuid::Uuid::new_v4().to_string(),
        user_id: user.id.clone(),
        code_hash: hash_code(&code)?,
        created_at: now,
        start_at: now,
        lifetime_minutes: lifetime,
        one_time: i64::from(one_time),
        used_at: None,
        failed_attempts: 0,
        created_by: actor.to_string(),
    };
    let replaced_previous = store.put_pass(&record, &user.username, actor).await?;
    Ok(IssuedPass {
        code,
        record,
        replaced_previous,
    })
}

#[derive(Deserialize)]
pub struct PassSignIn {
    username: String,
    code: String,
    /// A waiting authorization request to return to.
    request: Option<String>,
}

const METHOD: &str = "temporary_access_pass";

/// The throttle key of pass attempts for a username.
fn attempt_key(username: &str) -> String {
    let name: String = username
        .chars()
        .take(128)
        .flat_map(char::to_lowercase)
        .collect();
    format!("tap:{name}")
}

/// Argon2 takes tens of milliseconds of CPU: run it off the async workers so a burst of
/// pass sign-ins cannot stall every other request.
async fn code_matches(typed: &str, hash: &str) -> bool {
    let (typed, hash) = (typed.to_string(), hash.to_string());
    tokio::task::spawn_blocking(move || verify_code(&typed, &hash))
        .await
        .unwrap_or(false)
}

fn invalid() -> ApiError {
    ApiError::unauthorized(
        "invalid_credentials",
        "That username and pass do not match a usable Temporary Access Pass.",
    )
}

/// `POST /api/signin/tap`
pub async fn sign_in(
    State(state): State<AppState>,
    client: ClientInfo,
    body: Result<ApiJson<PassSignIn>, ApiError>,
) -> Result<impl IntoResponse, ApiError> {
    let now = now_ms();
    // Malformed attempts count against the address too.
    if let Err(e) = state.throttles.check_ip(Action::PassSignIn, client.addr) {
        return Err(signin::refused(&state, &client, METHOD, None, None, now, e).await);
    }
    let ApiJson(body) = match body {
        Ok(b) => b,
        Err(e) => return Err(signin::refused(&state, &client, METHOD, None, None, now, e).await),
    };
    let typed = tap::normalize_typed_code(&body.code);
    let username = keyfort_core::username::normalize(&body.username).ok();
    // Reserve the attempt before checking anything: however many race, the count cannot
    // pass the limit. Keyed by the name typed, known or not, so a delay says nothing
    // about which usernames exist.
    let key = attempt_key(username.as_deref().unwrap_or(&body.username));
    let reservation = state.store.reserve_attempt(&key, PASS_BACKOFF, now).await?;
    if let Err(e) = throttle::refused(reservation) {
        return Err(
            signin::refused(&state, &client, METHOD, None, Some(&body.username), now, e).await,
        );
    }
    let user = match &username {
        Some(u) => state.store.user_by_username(u).await?,
        None => None,
    };
    let pass = match &user {
        Some(u) => state.store.pass_of_user(&u.id).await?,
        None => None,
    };
    let (user, pass) = match (user, pass) {
        (Some(u), Some(p)) => (u, p),
        (user, _) => {
            // Same work as a real check, so timing does not reveal which usernames exist.
            let _ = code_matches(&typed, dummy_code_hash()).await;
            return Err(signin::refused(
                &state,
                &client,
                METHOD,
                user.as_ref(),
                Some(&body.username),
                now,
                invalid(),
            )
            .await);
        }
    };
    let usability = pass.state().usability(now);
    // Exactly one Argon2 verification on every path.
    let right_code = code_matches(&typed, &pass.code_hash).await;
    if !usability.is_usable() {
        let e = match usability {
            tap::Usability::Expired => {
                ApiError::unauthorized("pass_expired", "This Temporary Access Pass has expired.")
            }
            tap::Usability::OneTimeUsed => ApiError::unauthorized(
                "pass_used",
                "This Temporary Access Pass was for one use and has been used.",
            ),
            tap::Usability::NotYetValid => {
                ApiError::unauthorized("pass_not_yet_valid", "This pass is not valid yet.")
            }
            tap::Usability::EnabledByPolicy => ApiError::internal(),
        };
        // Only the holder of the right code learns why; everyone else sees the generic refusal.
        let e = if right_code { e } else { invalid() };
        return Err(signin::refused(&state, &client, METHOD, Some(&user), None, now, e).await);
    }
    if !right_code {
        // The wrong code counts against the pass in the commit of its log row.
        let e = invalid();
        let event = signin::refusal_event(&client, METHOD, Some(&user), None, now, &e);
        return Err(signin::logged(
            state.store.log_pass_failure(&event, &pass.id).await,
            e,
        ));
    }
    // The right code: earlier wrong ones are forgiven.
    state.store.clear_attempts(&key).await?;
    if !user.enabled {
        let e = ApiError::forbidden(
            "user_disabled",
            "This account is disabled. Contact your administrator.",
        );
        return Err(signin::refused(&state, &client, METHOD, Some(&user), None, now, e).await);
    }
    // A multi-use pass is for setting up a few devices, not for minting sessions.
    if pass.one_time == 0 {
        let uses = format!("tap-use:{}", pass.id);
        let reservation = state
            .store
            .reserve_attempt(&uses, PASS_USE_BACKOFF, now)
            .await?;
        if let Err(e) = throttle::refused(reservation) {
            return Err(signin::refused(&state, &client, METHOD, Some(&user), None, now, e).await);
        }
    }
    // The pass is spent in the sign-in's own commit: a crash cannot burn it without a
    // session, and of racing sign-ins with a one-time pass exactly one gets through.
    let established = signin::establish(
        &state,
        &client,
        &user,
        signin::Proof::TemporaryAccessPass(&pass),
        (body.request.as_deref(), None),
        now,
    )
    .await?;
    let (cookie, redirect) = match established {
        signin::Established::SignedIn { cookie, redirect } => (cookie, redirect),
        signin::Established::PassSpent => {
            let e = ApiError::unauthorized(
                "pass_used",
                "This Temporary Access Pass was for one use and has been used.",
            );
            return Err(signin::refused(&state, &client, METHOD, Some(&user), None, now, e).await);
        }
        // Only passkey sign-ins spend a ceremony or move a counter.
        signin::Established::Replayed | signin::Established::CounterRaced => {
            return Err(ApiError::internal());
        }
    };
    Ok((
        AppendHeaders([(SET_COOKIE, cookie)]),
        Json(json!({ "redirect": redirect })),
    ))
}
