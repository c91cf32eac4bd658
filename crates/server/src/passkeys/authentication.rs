//! Passkey sign-in: conditional UI (autofill), a discoverable "Sign in with a
//! passkey" button, and username first. Every finish writes a sign-in log row.

use super::assertion::{Asserted, Expect, verify_es256};
use super::{webauthn_error, webauthn_refusal};
use crate::error::ApiError;
use crate::extract::{ApiJson, ClientInfo};
use crate::sealed::Envelope;
use crate::signin;
use crate::state::{AppState, CEREMONY_TTL_MS, now_ms};
use axum::Json;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::response::{AppendHeaders, IntoResponse};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use keyfort_core::metadata::Standing;
use keyfort_core::passkey::PasskeyType;
use keyfort_core::policy::{PasskeyCandidate, Stage, Subject, evaluate_passkey};
use keyfort_core::signin::{
    CredentialFacts, PasskeyFacts, PasskeyVerdict, SignInRefusal, assess_passkey,
};
use keyfort_core::webauthn::{WebAuthnRefusal, ceremony_live};
use keyfort_store::{PasskeyUse, SpentCeremony};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use webauthn_rs_core::proto::{
    AuthenticationState, Credential, PublicKeyCredential, UserVerificationPolicy,
};

pub const KIND: &str = "authentication";
const METHOD: &str = "passkey";

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BeginSignIn {
    /// Username first; absent for the discoverable button and for conditional UI.
    username: Option<String>,
}

/// What a sealed sign-in ceremony holds.
#[derive(Serialize, Deserialize)]
struct SignInCeremony {
    state: AuthenticationState,
    /// The challenge, for the ES256 fast path (`assertion::verify_es256`).
    challenge: Vec<u8>,
    /// For username-first: the user the passkey must belong to ("" when the username is unknown).
    expected_user: Option<String>,
    username: Option<String>,
}

/// `POST /api/signin/passkey/begin`
pub async fn begin(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<BeginSignIn>,
) -> Result<Json<Value>, ApiError> {
    let now = now_ms();
    let builder = state
        .webauthn
        .new_challenge_authenticate_builder(Vec::new(), Some(UserVerificationPolicy::Required))
        .map_err(|e| webauthn_error(&e))?;
    let (options, auth_state) = state
        .webauthn
        .generate_challenge_authenticate(builder)
        .map_err(|e| webauthn_error(&e))?;
    // Username first names whom the passkey must belong to, and nothing else: every
    // Keyfort passkey is a discoverable credential, so the browser needs no
    // allowCredentials, and an empty list is the same for every name — known or not, with
    // one passkey or twenty (ARCHITECTURE.md, "No response reveals whether a username
    // exists"). The owner is checked at finish.
    let mut expected_user = None;
    let mut username = None;
    if let Some(raw) = body.username.as_deref() {
        let normalized =
            keyfort_core::username::normalize(raw).unwrap_or_else(|_| raw.trim().to_lowercase());
        let user = match keyfort_core::username::normalize(raw) {
            Ok(u) => state.store.user_by_username(&u).await?,
            Err(_) => None,
        };
        expected_user = Some(user.map(|u| u.id).unwrap_or_default());
        username = Some(normalized.chars().take(128).collect());
    }
    let ceremony = Envelope {
        id: crate::crypto::ordered_id(),
        exp: now + CEREMONY_TTL_MS,
        body: SignInCeremony {
            challenge: options.public_key.challenge.to_vec(),
            state: auth_state,
            expected_user,
            username,
        },
    };
    Ok(Json(json!({
        "ceremonyId": state.ceremonies.seal(KIND, &ceremony).map_err(|_| ApiError::internal())?,
        "publicKey": options.public_key,
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FinishSignIn {
    ceremony_id: String,
    credential: PublicKeyCredential,
    /// A waiting authorization request to return to.
    request: Option<String>,
}

/// `POST /api/signin/passkey/finish`
pub async fn finish(
    State(state): State<AppState>,
    client: ClientInfo,
    body: Result<ApiJson<FinishSignIn>, ApiError>,
) -> Result<impl IntoResponse, ApiError> {
    let now = now_ms();
    // Every refusal is logged; once the ceremony is opened, it is spent in the same commit.
    let refuse = |user: Option<keyfort_store::User>,
                  username: Option<String>,
                  spent: Option<&SpentCeremony>,
                  e: ApiError| {
        let event =
            signin::refusal_event(&client, METHOD, user.as_ref(), username.as_deref(), now, &e);
        let state = state.clone();
        let spent = spent.cloned();
        async move { signin::logged(state.store.log_signin(&event, spent.as_ref()).await, e) }
    };
    if let Err(e) = state
        .throttles
        .check_ip(crate::throttle::Action::PasskeySignIn, client.addr)
    {
        return Err(refuse(None, None, None, e).await);
    }
    let body = match body {
        Ok(ApiJson(b)) => b,
        Err(e) => return Err(refuse(None, None, None, e).await),
    };
    let Some(opened) = state
        .ceremonies
        .open::<SignInCeremony>(KIND, &body.ceremony_id)
    else {
        return Err(refuse(None, None, None, WebAuthnRefusal::ChallengeInvalid.into()).await);
    };
    // Malformed shapes are refused before the ceremony is spent: an honest retry with the
    // same ceremony still works, and nothing oversized reaches a parser.
    if let Err(e) = super::shape::check_assertion(&body.credential) {
        return Err(refuse(None, opened.body.username, None, e).await);
    }
    if let Err(r) = ceremony_live(opened.exp, now) {
        return Err(refuse(None, None, None, r.into()).await);
    }
    let spent = SpentCeremony {
        id: opened.id,
        expires_at: opened.exp,
    };
    let ceremony = opened.body;
    let spent_ref = Some(&spent);
    let credential_id = B64.encode(body.credential.raw_id.as_slice());
    // The passkey, its owner and their memberships version in one read; the owner's groups
    // (only those the policy in force names) from this node's cache while that version
    // holds, read otherwise.
    let policy = state.policy();
    let derived = state.derived();
    let found = state.store.passkey_for_signin(&credential_id).await?;
    let groups = match &found {
        Some(f) => {
            state
                .memberships
                .named_groups(&state.store, &policy, &f.user.id, f.memberships_version)
                .await?
        }
        None => state.memberships.none(),
    };
    let found = found.map(|f| (f.passkey, f.user));
    // What FIDO metadata reports of the recorded model, asked once.
    let model = found
        .as_ref()
        .map_or(Standing::Good, |(p, _)| derived.standing(&p.aaguid, now));
    let owner_handle = match &found {
        Some((_, user)) => Some(
            *uuid::Uuid::parse_str(&user.id)
                .map_err(|_| ApiError::internal())?
                .as_bytes(),
        ),
        None => None,
    };
    let facts = PasskeyFacts {
        expected_user: ceremony.expected_user.as_deref(),
        presented_handle: body.credential.response.user_handle.as_deref(),
        credential: found
            .as_ref()
            .zip(owner_handle.as_ref())
            .map(|((passkey, user), handle)| CredentialFacts {
                owner_id: &user.id,
                owner_handle: handle,
                suspended: passkey.possibly_cloned,
                owner_enabled: user.enabled,
                model,
                refuse_reported: state.refuse_reported_models,
            }),
    };
    let cred = found
        .as_ref()
        .map(|(passkey, _)| live_credential(passkey))
        .transpose()?;
    let expect = Expect {
        challenge: &ceremony.challenge,
        origin: &state.rp.origin,
        related: &state.related_origins,
        rp_id_hash: &state.rp_id_hash,
    };
    let allowed = |verified: &Asserted| {
        let Some((passkey, _)) = &found else {
            return Ok(());
        };
        // An assertion carries no AAGUID: what registration recorded, with the type from
        // the flags this assertion carries.
        let candidate = PasskeyCandidate {
            aaguid: &passkey.aaguid,
            passkey_type: PasskeyType::from_backup_eligible(verified.backup_eligible),
            attested: passkey.attested,
        };
        let subject = Subject { groups: &groups };
        evaluate_passkey(&policy.policy, subject, candidate, Stage::SignIn)
            .outcome
            .map(|_| ())
    };
    // Run only once the checks before verification pass, so only for a known credential.
    let verdict = assess_passkey(facts, allowed, || {
        let cred = cred.as_ref().ok_or(WebAuthnRefusal::InvalidResponse)?;
        let verified = match verify_es256(&expect, cred, &body.credential) {
            Some(r) => r,
            None => state
                .webauthn
                .authenticate_single_credential(&body.credential, &ceremony.state, cred)
                .map(|r| Asserted {
                    counter: r.counter(),
                    backup_eligible: r.backup_eligible(),
                    backup_state: r.backup_state(),
                }),
        };
        verified.map_err(|e| webauthn_refusal(&e))
    });
    let (passkey, user, result) = match (verdict, found) {
        (PasskeyVerdict::Accept(result), Some((passkey, user))) => (passkey, user, result),
        (
            PasskeyVerdict::Refuse {
                refusal,
                identified,
                suspend,
            },
            found,
        ) => {
            let (passkey, user) = match found {
                Some((p, u)) if identified => (Some(p), Some(u)),
                _ => (None, None),
            };
            let mut refusal = refusal;
            if let (true, Some(passkey), Some(user)) = (suspend, &passkey, &user) {
                let presented = presented_counter(&body.credential).unwrap_or(0);
                let marked = state
                    .store
                    .mark_passkey_possibly_cloned(passkey, &user.username, presented, &spent, now)
                    .await?;
                if !marked {
                    // Another finish of this ceremony got there first.
                    refusal = SignInRefusal::WebAuthn(WebAuthnRefusal::ChallengeInvalid);
                }
            }
            if let (SignInRefusal::ModelReported(model), Some(p), Some(u)) =
                (refusal, &passkey, &user)
            {
                flag_reported(&state, p, &u.username, model, true, now).await;
            }
            // The log row names the owner when known, else the name typed.
            return Err(refuse(user, ceremony.username, spent_ref, refusal.into()).await);
        }
        (PasskeyVerdict::Accept(_), None) => return Err(ApiError::internal()),
    };
    if model.is_bad() {
        flag_reported(&state, &passkey, &user.username, model, false, now).await;
    }
    let used = PasskeyUse {
        id: &passkey.id,
        sign_count: i64::from(result.counter),
        backup_state: result.backup_state,
        now,
    };
    let proof = signin::Proof::Passkey {
        used,
        ceremony: &spent,
    };
    let answering = (body.request.as_deref(), Some(&passkey));
    let (cookie, redirect) =
        match signin::establish(&state, &client, &user, proof, answering, now).await? {
            signin::Established::SignedIn { cookie, redirect } => (cookie, redirect),
            signin::Established::Replayed => {
                let e = WebAuthnRefusal::ChallengeInvalid.into();
                return Err(refuse(Some(user), None, spent_ref, e).await);
            }
            signin::Established::CounterRaced => {
                // A concurrent sign-in with this passkey already moved the counter past ours.
                let e = WebAuthnRefusal::SignCountRegression.into();
                return Err(refuse(Some(user), None, spent_ref, e).await);
            }
            // Only a pass sign-in spends a pass.
            signin::Established::PassSpent => return Err(ApiError::internal()),
        };
    Ok((
        AppendHeaders([(SET_COOKIE, cookie)]),
        Json(json!({ "redirect": redirect })),
    ))
}

/// Audits a passkey of a model FIDO metadata reports, presented at sign-in. A failure to
/// write it is logged and does not change the answer.
async fn flag_reported(
    state: &AppState,
    passkey: &keyfort_store::PasskeyRecord,
    username: &str,
    model: keyfort_core::metadata::Standing,
    refused: bool,
    now: i64,
) {
    let ev =
        keyfort_store::AuditEvent::new(now, "system", "passkey.flagged", username).after(json!({
            "passkeyId": passkey.id, "aaGuid": passkey.aaguid, "reason": model.code(),
            "refused": refused,
        }));
    if let Err(e) = state.store.record_observation(ev).await {
        tracing::warn!(error = %e, "auditing a passkey of a reported model failed");
    }
}

/// The stored credential as the verifier needs it now. Its JSON is written once, at
/// registration; a sign-in moves only the `sign_count` and `backup_state` columns (a
/// sign-in used to rewrite the whole ~540-byte JSON), so they carry the live values.
fn live_credential(passkey: &keyfort_store::PasskeyRecord) -> Result<Credential, ApiError> {
    let mut cred: Credential =
        serde_json::from_str(&passkey.credential).map_err(|_| ApiError::internal())?;
    let counter = u32::try_from(passkey.sign_count).map_err(|_| ApiError::internal())?;
    cred.counter = cred.counter.max(counter);
    cred.backup_state = passkey.backup_state;
    Ok(cred)
}

/// The counter the authenticator presented (bytes 33..37 of authenticator data), for the audit row.
fn presented_counter(c: &PublicKeyCredential) -> Option<i64> {
    let ad = c.response.authenticator_data.as_slice();
    keyfort_core::passkey::AuthenticatorDataSummary::parse(ad)
        .ok()
        .map(|s| i64::from(s.sign_count))
}
