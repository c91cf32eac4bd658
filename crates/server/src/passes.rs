//! Temporary Access Passes: issuing one, and signing in with one.

use crate::crypto::{dummy_code_hash, hash_code, random_bytes};
use crate::error::ApiError;
use crate::extract::{ApiJson, ClientInfo};
use crate::signin;
use crate::state::{AppState, now_ms};
use crate::throttle::{self, Action, PASS_BACKOFF, PASS_USE_BACKOFF};
use axum::Json;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::response::{AppendHeaders, IntoResponse};
use keyfort_core::onboarding::NextStep;
use keyfort_core::policy::Subject;
use keyfort_core::session::{SessionFacts, SignInMethod, session_expiry};
use keyfort_core::signin::{PassFacts, SignInRefusal, assess_pass};
use keyfort_core::tap::{self, PassTerms};
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
    Store(#[from] StoreError),
    #[error(transparent)]
    Hash(#[from] crate::crypto::HashError),
}

/// Issues a pass of `terms` (decided by `keyfort_core::tap::terms`) for `user`, replacing
/// any previous one. Stored as an Argon2id hash.
pub async fn issue(
    store: &Store,
    user: &User,
    terms: PassTerms,
    actor: &str,
    now: i64,
) -> Result<IssuedPass, IssueError> {
    let code = loop {
        if let Some(c) = tap::code_from_random(random_bytes(64), terms.length) {
            break c;
        }
    };
    let record = PassRecord {
        id: uuid::Uuid::new_v4().to_string(),
        user_id: user.id.clone(),
        code_hash: hash_code(&code)?,
        created_at: now,
        start_at: now,
        lifetime_minutes: terms.lifetime_minutes,
        one_time: terms.one_time,
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
    let key = throttle::typed_name_key("tap", &body.username);
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
    // Exactly one Argon2 verification on every path, known user or not, so timing does
    // not reveal which usernames exist.
    let hash = pass
        .as_ref()
        .map_or(dummy_code_hash(), |p| p.code_hash.as_str());
    let code_matches = crate::crypto::verify_off_thread(&typed, hash).await;
    let pass_state = pass.as_ref().map(PassRecord::state);
    let policy = state.policy();
    let allowed = match &user {
        Some(u) if pass.is_some() => {
            let groups = policy.groups_of(&state.store, &u.id).await?;
            tap::allowed(&policy.policy, Subject { groups: &groups })
        }
        _ => false,
    };
    let facts = PassFacts {
        pass: pass_state
            .as_ref()
            .zip(user.as_ref())
            .map(|(p, u)| (p, u.enabled)),
        code_matches,
        allowed,
    };
    let verdict = assess_pass(facts, now);
    if verdict.forgive_attempts {
        state.store.clear_attempts(&key).await?;
    }
    let (accepted, user, pass) = match (verdict.outcome, user, pass) {
        (Ok(accepted), Some(user), Some(pass)) => (accepted, user, pass),
        (Err(refusal), user, pass) => {
            let e = ApiError::from(refusal);
            // The log row names the user when known, else the name typed.
            let typed = Some(body.username.as_str());
            let event = signin::refusal_event(&client, METHOD, user.as_ref(), typed, now, &e);
            // A wrong code counts against the pass in the commit of its log row.
            let written = match (&pass, verdict.count_failure) {
                (Some(p), true) => state.store.log_pass_failure(&event, &p.id).await,
                _ => state.store.log_signin(&event, None).await,
            };
            return Err(signin::logged(written, e));
        }
        (Ok(_), _, _) => return Err(ApiError::internal()),
    };
    // A multi-use pass is for setting up a few devices, not for minting sessions.
    if accepted.multi_use {
        let uses = format!("tap-use:{}", pass.id);
        let reservation = state
            .store
            .reserve_attempt(&uses, PASS_USE_BACKOFF, now)
            .await?;
        if let Err(e) = throttle::refused(reservation) {
            return Err(signin::refused(&state, &client, METHOD, Some(&user), None, now, e).await);
        }
    }
    // A person who may set up a passkey is led to, and goes on to the waiting request
    // (answered then, from this session) afterwards.
    let next =
        signin::after_signin(&state, &user.id, &session_facts(&state, &pass, now), now).await?;
    let answering = match next {
        NextStep::SetUpPasskey(_) => None,
        NextStep::Continue(_) => body.request.as_deref(),
    };
    // The pass is spent in the sign-in's own commit: a crash cannot burn it without a
    // session, and of racing sign-ins with a one-time pass exactly one gets through.
    let established = signin::establish(
        &state,
        &client,
        &user,
        signin::Proof::TemporaryAccessPass(&pass),
        (answering, None),
        now,
    )
    .await?;
    let (cookie, redirect) = match established {
        signin::Established::SignedIn { redirect, cookie } => match next {
            NextStep::SetUpPasskey(_) => (cookie, signin::setup_page(body.request.as_deref())),
            NextStep::Continue(_) => (cookie, redirect),
        },
        signin::Established::PassSpent => {
            let e = SignInRefusal::PassUsed.into();
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

/// The session a pass sign-in is about to create, as decisions see it.
fn session_facts(state: &AppState, pass: &PassRecord, now: i64) -> SessionFacts {
    let pass_expires_at = pass.state().expires_at();
    SessionFacts {
        method: SignInMethod::TemporaryAccessPass,
        auth_time: now,
        expires_at: session_expiry(state.session, now, Some(pass_expires_at)),
        last_seen_at: now,
        pass_one_time: pass.one_time,
        pass_expires_at: Some(pass_expires_at),
    }
}
