//! Identifier-first sign-in: the ways a name may sign in (`keyfort_core::ranking`), and
//! signing in with a password (`keyfort_core::password_signin`).

use crate::crypto::{dummy_code_hash, hash_code};
use crate::error::ApiError;
use crate::extract::{ApiJson, ClientInfo};
use crate::signin;
use crate::state::{AppState, now_ms};
use crate::throttle::{self, Action, PASSWORD_BACKOFF};
use axum::Json;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::response::{AppendHeaders, IntoResponse, Response};
use keyfort_core::password_signin::{
    PasswordAccepted, PasswordFacts, SecondFactor, StoredPassword, assess_password, second_factors,
};
use keyfort_core::policy::{MethodId, Subject, method_applies};
use keyfort_core::ranking::{ChoiceFacts, Choices, Held, SignInChoice, rank_with};
use keyfort_store::{PasswordRecord, User};
use serde::{Deserialize, Serialize};
use serde_json::json;

const METHOD: &str = "password";

#[derive(Deserialize)]
pub struct ChoicesRequest {
    username: String,
}

/// The ways offered for a name, strongest first.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChoicesDto {
    /// What the page starts at once; absent when nothing is usable (a passkey prompt is
    /// still offered, and a pass the way in).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred: Option<SignInChoice>,
    /// "Other ways to sign in", strongest first.
    pub others: Vec<SignInChoice>,
}

impl From<Choices> for ChoicesDto {
    fn from(c: Choices) -> Self {
        ChoicesDto {
            preferred: c.preferred,
            others: c.others,
        }
    }
}

/// What a name holds, loaded by the same reads whether or not it exists (an unknown name
/// reads as the id `""`, which matches nothing), so timing says nothing either.
struct Holdings {
    user: Option<User>,
    password: Option<PasswordRecord>,
    facts: ChoiceFacts,
}

async fn holdings(state: &AppState, typed: &str, now: i64) -> Result<Holdings, ApiError> {
    let user = match keyfort_core::username::normalize(typed) {
        Ok(u) => state.store.user_by_username(&u).await?,
        Err(_) => None,
    };
    let id = user.as_ref().map_or("", |u| u.id.as_str());
    let passkeys = state.store.passkeys_of_user(id).await?;
    let password = state.store.password_of_user(id).await?;
    let pass = state.store.pass_of_user(id).await?;
    let totp = state.store.totp_of_user(id).await?.is_some();
    let policy = state.policy();
    let groups = policy.groups_of(&state.store, id).await?;
    let subject = Subject { groups: &groups };
    let applies = |m| method_applies(&policy.policy, m, subject);
    let facts = match &user {
        None => ChoiceFacts::for_unknown_name(
            applies(MethodId::Passkey),
            applies(MethodId::SoftwareOath),
            applies(MethodId::Password),
        ),
        Some(_) => ChoiceFacts {
            pass: Held {
                registered: pass
                    .as_ref()
                    .is_some_and(|p| p.state().usability(now).is_usable()),
                allowed: applies(MethodId::TemporaryAccessPass),
            },
            passkey: Held {
                registered: passkeys.iter().any(|p| !p.possibly_cloned),
                allowed: applies(MethodId::Passkey),
            },
            software_oath: Held {
                registered: totp,
                allowed: applies(MethodId::SoftwareOath),
            },
            password: Held {
                registered: password.is_some(),
                allowed: applies(MethodId::Password),
            },
        },
    };
    Ok(Holdings {
        user,
        password,
        facts,
    })
}

/// `POST /api/signin/choices`: the ways the name may sign in, strongest first. A name
/// Keyfort does not know is answered as a fully enrolled one.
pub async fn choices(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<ChoicesRequest>,
) -> Result<Json<ChoicesDto>, ApiError> {
    state
        .throttles
        .check_ip(Action::PasskeySignIn, client.addr)?;
    if body.username.len() > keyfort_core::username::MAX_USERNAME_LEN * 4 {
        return Err(ApiError::bad_request(
            "invalid_username",
            "That username is too long.",
        ));
    }
    let held = holdings(&state, &body.username, now_ms()).await?;
    let setting = state.policy().policy.preferred_method_ranking;
    Ok(Json(rank_with(held.facts, setting).into()))
}

#[derive(Deserialize)]
pub struct PasswordSignIn {
    username: String,
    password: String,
    /// A waiting authorization request to return to.
    request: Option<String>,
}

/// `POST /api/signin/password`: the session (when the person holds no second factor),
/// or `{"secondFactor": "passkey"}` to go on with.
pub async fn sign_in(
    State(state): State<AppState>,
    client: ClientInfo,
    body: Result<ApiJson<PasswordSignIn>, ApiError>,
) -> Result<Response, ApiError> {
    let now = now_ms();
    if let Err(e) = state
        .throttles
        .check_ip(Action::PasswordSignIn, client.addr)
    {
        return Err(signin::refused(&state, &client, METHOD, None, None, now, e).await);
    }
    let ApiJson(body) = match body {
        Ok(b) => b,
        Err(e) => return Err(signin::refused(&state, &client, METHOD, None, None, now, e).await),
    };
    if body.password.len() > keyfort_core::password::MAX_CHARS * 4 {
        let e = ApiError::bad_request("password_too_long", "That password is too long.");
        return Err(signin::refused(&state, &client, METHOD, None, None, now, e).await);
    }
    // Reserved before anything is checked, keyed by the name typed, known or not.
    let key = throttle::typed_name_key("password", &body.username);
    let reservation = state
        .store
        .reserve_attempt(&key, PASSWORD_BACKOFF, now)
        .await?;
    if let Err(e) = throttle::refused(reservation) {
        return Err(
            signin::refused(&state, &client, METHOD, None, Some(&body.username), now, e).await,
        );
    }
    let held = holdings(&state, &body.username, now).await?;
    // Exactly one verification on every path, known user or not.
    let hash = held
        .password
        .as_ref()
        .map_or(dummy_code_hash(), |p| p.hash.as_str());
    let matches = crate::crypto::verify_off_thread(&body.password, hash).await;
    let needs_rehash = held.password.as_ref().is_some_and(|p| {
        crate::app::passwords::accept_hash(&p.hash).map_or(true, |a| a.needs_rehash)
    });
    let usable = |h: Held| h.registered && h.allowed;
    let seconds = second_factors(usable(held.facts.passkey), usable(held.facts.software_oath));
    let second_factor = seconds.first().copied();
    let verdict = assess_password(PasswordFacts {
        stored: match (&held.user, &held.password) {
            (Some(u), Some(_)) => Some(StoredPassword {
                user_enabled: u.enabled,
                needs_rehash,
            }),
            _ => None,
        },
        matches,
        allowed: held.facts.password.allowed,
        second_factor,
    });
    if verdict.forgive_attempts {
        state.store.clear_attempts(&key).await?;
    }
    let (accepted, user) = match (verdict.outcome, held.user) {
        (Ok(accepted), Some(user)) => (accepted, user),
        (Err(refusal), user) => {
            let e = ApiError::from(refusal);
            let typed = Some(body.username.as_str());
            return Err(
                signin::refused(&state, &client, METHOD, user.as_ref(), typed, now, e).await,
            );
        }
        (Ok(_), None) => return Err(ApiError::internal()),
    };
    if verdict.rehash
        && let Some(old) = &held.password
    {
        rehash(&state, &user, old, body.password.clone(), now).await;
    }
    match accepted {
        PasswordAccepted::ThenSecondFactor(second) => {
            // With the ranking off for second factors, the person picks from all of them.
            let mut answer = if state
                .policy()
                .policy
                .preferred_method_ranking
                .second_factor()
            {
                json!({ "secondFactor": second, "otherSecondFactors": &seconds[1..] })
            } else {
                json!({ "otherSecondFactors": &seconds })
            };
            // A code is checked against this right password, sealed for the browser.
            if seconds.contains(&SecondFactor::SoftwareOath) {
                answer["pending"] = json!(crate::totp::pending_for(&state, &user, now)?);
            }
            Ok(Json(answer).into_response())
        }
        PasswordAccepted::SignIn => {
            let (answering, setup) = signin::route_after(
                &state,
                &user.id,
                keyfort_core::session::SignInMethod::Password,
                body.request.as_deref(),
                now,
            )
            .await?;
            let established = signin::establish(
                &state,
                &client,
                &user,
                signin::Proof::Password,
                (answering, None),
                now,
            )
            .await?;
            match established {
                signin::Established::SignedIn { redirect, cookie } => Ok((
                    AppendHeaders([(SET_COOKIE, cookie)]),
                    Json(json!({ "redirect": setup.unwrap_or(redirect) })),
                )
                    .into_response()),
                _ => Err(ApiError::internal()),
            }
        }
    }
}

/// Replaces a weak stored hash by Argon2id now that its password is known. A failure is
/// logged, never the sign-in's: the old hash still verifies and is tried again next time.
async fn rehash(state: &AppState, user: &User, old: &PasswordRecord, password: String, now: i64) {
    let made = tokio::task::spawn_blocking(move || hash_code(&password)).await;
    let Ok(Ok(new_hash)) = made else {
        tracing::error!(user = %user.username, "could not hash a password to replace a weak hash");
        return;
    };
    if let Err(e) = state
        .store
        .rehash_password(&user.id, &user.username, &old.hash, &new_hash, now)
        .await
    {
        tracing::error!(user = %user.username, error = %e, "could not replace a weak password hash");
    }
}
