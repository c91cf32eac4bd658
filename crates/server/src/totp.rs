//! Authenticator apps (TOTP, RFC 6238): enrolment on My security (a QR code rendered here,
//! one code verified before anything is saved), a code as the second factor after a
//! password, and removal. The rules are `keyfort_core::totp`'s.

use crate::aead::Cipher;
use crate::error::ApiError;
use crate::extract::{ApiJson, ClientInfo, CurrentSession};
use crate::sealed::Envelope;
use crate::signin;
use crate::state::{AppState, now_ms};
use crate::throttle::{self, Action};
use axum::Json;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::response::{AppendHeaders, IntoResponse};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use keyfort_core::policy::{MethodId, Subject, method_applies};
use keyfort_core::signin::SignInRefusal;
use keyfort_core::time::MINUTE_MS;
use keyfort_core::totp::{
    self as rules, CodeRefusal, DIGITS, EnrolFacts, SECRET_BYTES, STEP_SECONDS,
};
use keyfort_core::webauthn::ceremony_live;
use keyfort_store::{SpentCeremony, TotpRecord, User};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use totp_rs::{Algorithm, TOTP};

const ENROL_KIND: &str = "totp-enrolment";
const ENROL_TTL_MS: i64 = 10 * MINUTE_MS;
/// A right password waiting for its second factor.
pub const PENDING_KIND: &str = "password-verified";
pub const PENDING_TTL_MS: i64 = 5 * MINUTE_MS;
const METHOD: &str = "password_totp";

/// Codes for `secret`, labelled for the person's app.
fn generator(secret: Vec<u8>, issuer: &str, account: &str) -> Result<TOTP, ApiError> {
    // The label's separator may appear in neither part.
    let clean = |s: &str| s.replace(':', " ");
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        0,
        STEP_SECONDS,
        secret,
        Some(clean(issuer)),
        clean(account),
    )
    .map_err(|_| ApiError::internal())
}

/// The newest step among the candidates for `now` whose code `code` is.
fn matched_step(totp: &TOTP, code: &str, now: i64) -> Option<i64> {
    rules::candidate_steps(now).into_iter().rev().find(|step| {
        u64::try_from(*step)
            .ok()
            .and_then(|s| s.checked_mul(STEP_SECONDS))
            .is_some_and(|t| totp.check(code, t))
    })
}

fn secrets(state: &AppState) -> Result<Cipher, ApiError> {
    state
        .master_key
        .cipher(crate::aead::Purpose::TotpSecrets)
        .map_err(|_| ApiError::internal())
}

fn seal_secret(state: &AppState, user_id: &str, secret: &[u8]) -> Result<String, ApiError> {
    let sealed = secrets(state)?
        .seal(user_id.as_bytes(), secret)
        .map_err(|_| ApiError::internal())?;
    Ok(STANDARD.encode(sealed))
}

fn open_secret(state: &AppState, record: &TotpRecord) -> Result<Vec<u8>, ApiError> {
    let raw = STANDARD
        .decode(&record.secret_sealed)
        .map_err(|_| ApiError::internal())?;
    secrets(state)?
        .open(record.user_id.as_bytes(), &raw)
        .ok_or_else(ApiError::internal)
}

/// The QR code of `uri`, as SVG markup made here (no outside service sees the secret).
fn qr_svg(uri: &str) -> Result<String, ApiError> {
    let code = qrcode::QrCode::new(uri.as_bytes()).map_err(|_| ApiError::internal())?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

#[derive(Serialize, Deserialize)]
struct Enrolment {
    user_id: String,
    session_id: String,
    secret: Vec<u8>,
}

async fn enrol_facts_check(
    state: &AppState,
    current: &CurrentSession,
    now: i64,
) -> Result<(), ApiError> {
    let policy = state.policy();
    let groups = policy.groups_of(&state.store, &current.user.id).await?;
    let enrolled = state.store.totp_of_user(&current.user.id).await?.is_some();
    let passkeys = state.store.passkeys_of_user(&current.user.id).await?;
    let session = current.session.facts();
    rules::may_enrol(
        EnrolFacts {
            session: &session,
            policy: &policy.policy,
            subject: Subject { groups: &groups },
            enrolled,
            holds_second_factor: !passkeys.is_empty(),
        },
        now,
    )?;
    Ok(())
}

/// `POST /api/totp/enrol/begin`: a new secret, as a QR code and as text, sealed into the
/// enrolment the browser hands back with the first code. Nothing is stored yet.
pub async fn enrol_begin(
    State(state): State<AppState>,
    current: CurrentSession,
) -> Result<Json<Value>, ApiError> {
    let now = now_ms();
    state.throttles.check_registration(&current.session.id)?;
    enrol_facts_check(&state, &current, now).await?;
    let secret = crate::crypto::random_bytes(SECRET_BYTES);
    let totp = generator(secret.clone(), &state.issuer_name(), &current.user.username)?;
    let uri = totp.get_url();
    let enrolment = Envelope {
        id: crate::crypto::ordered_id(),
        exp: now.saturating_add(ENROL_TTL_MS),
        body: Enrolment {
            user_id: current.user.id.clone(),
            session_id: current.session.id.clone(),
            secret,
        },
    };
    Ok(Json(json!({
        "enrolment": state.ceremonies.seal(ENROL_KIND, &enrolment).map_err(|_| ApiError::internal())?,
        "otpauthUri": uri,
        "secret": totp.get_secret_base32(),
        "qrSvg": qr_svg(&uri)?,
        "digits": DIGITS,
        "periodSeconds": STEP_SECONDS,
    })))
}

#[derive(Deserialize)]
pub struct EnrolFinish {
    enrolment: String,
    code: String,
}

/// `POST /api/totp/enrol/finish`: saved once one code from the app matches, audited.
pub async fn enrol_finish(
    State(state): State<AppState>,
    current: CurrentSession,
    ApiJson(body): ApiJson<EnrolFinish>,
) -> Result<Json<Value>, ApiError> {
    let now = now_ms();
    let opened = state
        .ceremonies
        .open::<Enrolment>(ENROL_KIND, &body.enrolment)
        .filter(|e| e.body.user_id == current.user.id && e.body.session_id == current.session.id)
        .ok_or_else(|| {
            ApiError::bad_request(
                "enrolment_invalid",
                "This set-up was not started here. Start adding the app again.",
            )
        })?;
    if ceremony_live(opened.exp, now).is_err() {
        return Err(ApiError::bad_request(
            "enrolment_expired",
            "This set-up took too long. Start adding the app again.",
        ));
    }
    // Guessing the first code is throttled like every typed secret.
    let key = format!("totp-enrol:{}", current.session.id);
    throttle::refused(
        state
            .store
            .reserve_attempt(&key, throttle::TOTP_BACKOFF, now)
            .await?,
    )?;
    enrol_facts_check(&state, &current, now).await?;
    let code = rules::normalize_code(&body.code).ok_or(CodeRefusal::Malformed)?;
    let secret = opened.body.secret;
    let totp = generator(secret.clone(), &state.issuer_name(), &current.user.username)?;
    let step = rules::assess_code(matched_step(&totp, &code, now), None)?;
    state.store.clear_attempts(&key).await?;
    let record = TotpRecord {
        user_id: current.user.id.clone(),
        secret_sealed: seal_secret(&state, &current.user.id, &secret)?,
        created_at: now,
        // The code just typed never signs in.
        last_step: Some(step),
        last_used_at: None,
    };
    state
        .store
        .add_totp(&record, &current.user.username, &current.user.username)
        .await
        .map_err(|e| match e {
            keyfort_store::StoreError::Conflict(_) => rules::EnrolRefusal::AlreadyEnrolled.into(),
            e => ApiError::from(e),
        })?;
    Ok(Json(json!({ "enrolled": true })))
}

/// `DELETE /api/totp`: the person removes their own app, audited.
pub async fn remove(
    State(state): State<AppState>,
    current: CurrentSession,
) -> Result<Json<Value>, ApiError> {
    let removed = state
        .store
        .remove_totp(
            &current.user.id,
            &current.user.username,
            &current.user.username,
            now_ms(),
        )
        .await?;
    if !removed {
        return Err(ApiError::not_found(
            "totp_not_found",
            "You have no authenticator app set up.",
        ));
    }
    Ok(Json(json!({ "removed": true })))
}

/// A right password, waiting for a code: sealed for the browser, spent with the sign-in.
#[derive(Serialize, Deserialize)]
pub struct Pending {
    pub user_id: String,
}

/// Seals the pending second step for `user`.
pub fn pending_for(state: &AppState, user: &User, now: i64) -> Result<String, ApiError> {
    let envelope = Envelope {
        id: crate::crypto::ordered_id(),
        exp: now.saturating_add(PENDING_TTL_MS),
        body: Pending {
            user_id: user.id.clone(),
        },
    };
    state
        .ceremonies
        .seal(PENDING_KIND, &envelope)
        .map_err(|_| ApiError::internal())
}

#[derive(Deserialize)]
pub struct CodeSignIn {
    pending: String,
    code: String,
    /// A waiting authorization request to return to.
    request: Option<String>,
}

/// `POST /api/signin/totp`: the code after a right password; the session when it matches
/// a step not used before.
pub async fn sign_in(
    State(state): State<AppState>,
    client: ClientInfo,
    body: Result<ApiJson<CodeSignIn>, ApiError>,
) -> Result<impl IntoResponse, ApiError> {
    let now = now_ms();
    let refuse = |user: Option<&User>, e: ApiError| {
        let event = signin::refusal_event(&client, METHOD, user, None, now, &e);
        let state = state.clone();
        async move { signin::logged(state.store.log_signin(&event, None).await, e) }
    };
    if let Err(e) = state
        .throttles
        .check_ip(Action::PasswordSignIn, client.addr)
    {
        return Err(refuse(None, e).await);
    }
    let body = match body {
        Ok(ApiJson(b)) => b,
        Err(e) => return Err(refuse(None, e).await),
    };
    let Some(opened) = state
        .ceremonies
        .open::<Pending>(PENDING_KIND, &body.pending)
    else {
        let e = ApiError::bad_request("signin_step_invalid", "Sign in with your password again.");
        return Err(refuse(None, e).await);
    };
    let user = state.store.user_by_id(&opened.body.user_id).await?;
    let Some(user) = user.filter(|u| u.enabled) else {
        return Err(refuse(None, SignInRefusal::UserDisabled.into()).await);
    };
    if ceremony_live(opened.exp, now).is_err() {
        let e = ApiError::unauthorized(
            "signin_step_expired",
            "That took too long. Sign in with your password again.",
        );
        return Err(refuse(Some(&user), e).await);
    }
    let key = format!("totp:{}", user.id);
    let reservation = state
        .store
        .reserve_attempt(&key, throttle::TOTP_BACKOFF, now)
        .await?;
    if let Err(e) = throttle::refused(reservation) {
        return Err(refuse(Some(&user), e).await);
    }
    let Some(code) = rules::normalize_code(&body.code) else {
        return Err(refuse(Some(&user), CodeRefusal::Malformed.into()).await);
    };
    let policy = state.policy();
    let groups = policy.groups_of(&state.store, &user.id).await?;
    let subject = Subject { groups: &groups };
    let record = state.store.totp_of_user(&user.id).await?;
    let Some(record) = record.filter(|_| {
        method_applies(&policy.policy, MethodId::SoftwareOath, subject)
            && method_applies(&policy.policy, MethodId::Password, subject)
    }) else {
        return Err(refuse(Some(&user), CodeRefusal::Incorrect.into()).await);
    };
    let totp = generator(
        open_secret(&state, &record)?,
        &state.issuer_name(),
        &user.username,
    )?;
    let step = match rules::assess_code(matched_step(&totp, &code, now), record.last_step) {
        Ok(step) => step,
        Err(r) => return Err(refuse(Some(&user), r.into()).await),
    };
    // Of racing sign-ins with one code, exactly one moves the step.
    if !state.store.use_totp_step(&user.id, step, now).await? {
        return Err(refuse(Some(&user), CodeRefusal::Used.into()).await);
    }
    state.store.clear_attempts(&key).await?;
    let spent = SpentCeremony {
        id: opened.id,
        expires_at: opened.exp,
    };
    let (answering, setup) = signin::route_after(
        &state,
        &user.id,
        keyfort_core::session::SignInMethod::PasswordTotp,
        body.request.as_deref(),
        now,
    )
    .await?;
    let established = signin::establish(
        &state,
        &client,
        &user,
        signin::Proof::PasswordTotp { pending: &spent },
        (answering, None),
        now,
    )
    .await?;
    match established {
        signin::Established::SignedIn { redirect, cookie } => Ok((
            AppendHeaders([(SET_COOKIE, cookie)]),
            Json(json!({ "redirect": setup.unwrap_or(redirect) })),
        )),
        signin::Established::Replayed => {
            let e =
                ApiError::bad_request("signin_step_invalid", "Sign in with your password again.");
            Err(refuse(Some(&user), e).await)
        }
        _ => Err(ApiError::internal()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1: the secret "12345678901234567890"; the test vectors are
    /// eight digits, whose last six are the six-digit codes.
    #[test]
    fn codes_match_the_rfc_vectors_within_one_step() {
        let totp = generator(b"12345678901234567890".to_vec(), "Keyfort", "alice").unwrap();
        // T = 59 s → 94287082; 1111111109 s → 07081804.
        assert_eq!(matched_step(&totp, "287082", 59_000), Some(1));
        assert_eq!(
            matched_step(&totp, "081804", 1_111_111_109_000),
            Some(37_037_036)
        );
        // One step late or early still matches; two do not.
        assert_eq!(matched_step(&totp, "287082", 89_000), Some(1));
        assert_eq!(matched_step(&totp, "287082", 119_000), None);
        assert_eq!(matched_step(&totp, "000000", 59_000), None);
    }

    #[test]
    fn the_uri_and_qr_carry_the_secret_and_labels() {
        let totp = generator(vec![7; SECRET_BYTES], "Acme: Keyfort", "pat@acme").unwrap();
        let uri = totp.get_url();
        assert!(
            uri.starts_with("otpauth://totp/Acme%20%20Keyfort:pat%40acme?secret="),
            "{uri}"
        );
        assert!(uri.contains("issuer=Acme%20%20Keyfort"), "{uri}");
        let svg = qr_svg(&uri).unwrap();
        assert!(svg.contains("<svg") && !svg.contains("<script"), "{svg}");
    }
}
