//! Passkey registration: discoverable credential, user verification required,
//! from a session that may register (a pass, or a passkey sign-in ≤ 5 minutes ago).

use super::anchors::TrustAnchors;
use super::{start_ceremony, webauthn_error};
use crate::error::ApiError;
use crate::extract::{ApiJson, CurrentSession};
use crate::state::{AppState, now_ms};
use axum::Json;
use axum::extract::State;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use keyfort_core::attestation::AttestationLevel;
use keyfort_core::passkey::{AuthenticatorDataSummary, PasskeyType, format_aaguid};
use keyfort_core::policy::{Hint, PasskeyCandidate, Subject};
use keyfort_core::registration::{self, FinishFacts, PolicyFacts, RegistrationRefusal};
use keyfort_core::webauthn::WebAuthnRefusal;
use keyfort_store::User;
use keyfort_store::{AttestationRecord, PasskeyRecord, StoreError, Taken};
use serde::Deserialize;
use serde_json::{Value, json};
use webauthn_rs_core::WebauthnCore;
use webauthn_rs_core::proto::{
    AttestationConveyancePreference, AttestationFormat, AuthenticatorTransport, COSEAlgorithm,
    CreationChallengeResponse, Credential, CredentialID, PublicKeyCredentialHints,
    RegisterPublicKeyCredential, RegistrationState, UserVerificationPolicy,
};

pub const KIND: &str = "registration";

/// `POST /api/passkeys/register/begin`
pub async fn begin(
    State(state): State<AppState>,
    current: CurrentSession,
) -> Result<Json<Value>, ApiError> {
    let now = now_ms();
    let session = current.session.facts();
    // Each begin stores a ceremony: a session may not create them without bound.
    state.throttles.check_registration(&current.session.id)?;
    let existing = state.store.passkeys_of_user(&current.user.id).await?;
    let policy = state.policy();
    let groups = policy.groups_of(&state.store, &current.user.id).await?;
    let facts = PolicyFacts {
        policy: &policy.policy,
        subject: Subject { groups: &groups },
    };
    registration::assess_begin(&session, existing.len(), facts, now)?;
    let attestation = keyfort_core::attestation::wanted(
        facts.policy,
        facts.subject,
        !state.derived().anchors.is_empty(),
    );
    let exclude = existing
        .iter()
        .map(|p| B64.decode(&p.credential_id))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| ApiError::internal())?;
    let hints = keyfort_core::policy::registration_hints(facts.policy, facts.subject);
    let (options, reg_state) =
        options(&state.webauthn, &current.user, exclude, attestation, &hints)?;
    Ok(Json(
        start_ceremony(
            &state,
            KIND,
            Some(&current.session.id),
            &reg_state,
            &options.public_key,
            now,
        )
        .await?,
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FinishRegistration {
    ceremony_id: String,
    credential: RegisterPublicKeyCredential,
    display_name: Option<String>,
}

fn format_name(f: AttestationFormat) -> &'static str {
    match f {
        AttestationFormat::Packed => "packed",
        AttestationFormat::Tpm => "tpm",
        AttestationFormat::AndroidKey => "android-key",
        AttestationFormat::AndroidSafetyNet => "android-safetynet",
        AttestationFormat::FIDOU2F => "fido-u2f",
        AttestationFormat::AppleAnonymous => "apple",
        AttestationFormat::None => "none",
    }
}

/// Reads the authenticator data out of the attestation object (CBOR, WebAuthn L3 §6.5.4):
/// the AAGUID is there even when the attestation statement is `none`.
pub fn authenticator_data(attestation_object: &[u8]) -> Option<AuthenticatorDataSummary> {
    let v: ciborium::Value = ciborium::from_reader(attestation_object).ok()?;
    let auth = v
        .as_map()?
        .iter()
        .find(|(k, _)| k.as_text() == Some("authData"))?
        .1
        .as_bytes()?;
    AuthenticatorDataSummary::parse(auth).ok()
}

/// Registration options for `user`: a discoverable credential, user verification
/// required, excluding the credentials the user already has; attestation asked for
/// (`direct`) only when `attestation`, with the policy's `hints` (none: the browser's order).
pub fn options(
    webauthn: &WebauthnCore,
    user: &User,
    exclude: Vec<CredentialID>,
    attestation: bool,
    hints: &[Hint],
) -> Result<(CreationChallengeResponse, RegistrationState), ApiError> {
    let handle = uuid::Uuid::parse_str(&user.id).map_err(|_| ApiError::internal())?;
    let builder = webauthn
        .new_challenge_register_builder(handle.as_bytes(), &user.username, &user.display_name)
        .map_err(|e| webauthn_error(&e))?
        .attestation(if attestation {
            AttestationConveyancePreference::Direct
        } else {
            AttestationConveyancePreference::None
        })
        .user_verification_policy(UserVerificationPolicy::Required)
        .require_resident_key(true)
        .credential_algorithms(vec![
            COSEAlgorithm::ES256,
            COSEAlgorithm::EDDSA,
            COSEAlgorithm::RS256,
        ])
        .exclude_credentials(Some(exclude))
        .hints((!hints.is_empty()).then(|| hints.iter().map(|h| hint(*h)).collect()));
    webauthn
        .generate_challenge_register(builder)
        .map_err(|e| webauthn_error(&e))
}

fn hint(h: Hint) -> PublicKeyCredentialHints {
    match h {
        Hint::SecurityKey => PublicKeyCredentialHints::SecurityKey,
        Hint::ClientDevice => PublicKeyCredentialHints::ClientDevice,
        Hint::Hybrid => PublicKeyCredentialHints::Hybrid,
    }
}

/// A verified new passkey and what its attestation showed.
pub struct NewPasskey {
    pub record: PasskeyRecord,
    pub attestation: AttestationRecord,
}

/// Verifies a registration response (WebAuthn L3 §7.1) — the attestation statement's
/// signature included, whatever its format — and describes the new passkey: attested
/// when the statement's chain ends at one of `anchors` that vouches for its model.
pub fn verify(
    webauthn: &WebauthnCore,
    anchors: &TrustAnchors,
    response: &RegisterPublicKeyCredential,
    reg_state: &RegistrationState,
    user_id: &str,
    display_name: String,
    now: i64,
) -> Result<NewPasskey, ApiError> {
    super::shape::check_registration(response)?;
    let cred: Credential = webauthn
        .register_credential(response, reg_state, None)
        .map_err(|e| webauthn_error(&e))?;
    super::shape::check_attested_id(response, cred.cred_id.as_slice())?;
    let summary = authenticator_data(&response.response.attestation_object)
        .ok_or(WebAuthnRefusal::InvalidResponse)?;
    let aaguid_bytes = summary.aaguid.unwrap_or([0; 16]);
    let aaguid = format_aaguid(&aaguid_bytes);
    let passkey_type = PasskeyType::from_backup_eligible(cred.backup_eligible);
    let chain = anchors.check(
        &cred.attestation.data,
        &aaguid_bytes,
        keyfort_core::time::system_time(now),
    );
    let level = keyfort_core::attestation::assess(chain);
    let attestation = AttestationRecord {
        level: level.as_str().into(),
        not_attested_reason: match level {
            AttestationLevel::Attested => None,
            AttestationLevel::NotAttested(why) => Some(why.code().into()),
        },
        // Named by the caller, which knows the names in use.
        model_name: None,
        chain: super::anchors::chain_der(&cred.attestation.data)
            .iter()
            .map(|der| base64::engine::general_purpose::STANDARD.encode(der))
            .collect(),
    };
    let record = PasskeyRecord {
        id: crate::crypto::ordered_id(),
        user_id: user_id.to_string(),
        credential_id: B64.encode(cred.cred_id.as_slice()),
        credential: serde_json::to_string(&cred).map_err(|_| ApiError::internal())?,
        aaguid,
        sign_count: i64::from(cred.counter),
        backup_eligible: cred.backup_eligible,
        backup_state: cred.backup_state,
        passkey_type,
        attestation_format: format_name(cred.attestation_format).into(),
        attested: level.is_attested(),
        transports: serde_json::to_string(&reported_transports(response))
            .map_err(|_| ApiError::internal())?,
        display_name,
        created_at: now,
        last_used_at: None,
        possibly_cloned: false,
    };
    Ok(NewPasskey {
        record,
        attestation,
    })
}

/// Transports are a hint reported by the client, kept to show and to guide later ceremonies.
fn reported_transports(c: &RegisterPublicKeyCredential) -> Vec<AuthenticatorTransport> {
    let mut t: Vec<_> = c.response.transports.clone().unwrap_or_default();
    t.retain(|x| *x != AuthenticatorTransport::Unknown);
    t.truncate(8);
    t
}

/// `POST /api/passkeys/register/finish`
pub async fn finish(
    State(state): State<AppState>,
    current: CurrentSession,
    ApiJson(body): ApiJson<FinishRegistration>,
) -> Result<Json<Value>, ApiError> {
    let now = now_ms();
    let ceremony = match state
        .store
        .take_ceremony(&body.ceremony_id, KIND, now)
        .await?
    {
        Taken::Live(c) => c,
        Taken::Expired => return Err(WebAuthnRefusal::ChallengeExpired.into()),
        Taken::Unknown => return Err(WebAuthnRefusal::ChallengeInvalid.into()),
    };
    let session = current.session.facts();
    let existing = state.store.passkeys_of_user(&current.user.id).await?.len();
    let policy = state.policy();
    let groups = policy.groups_of(&state.store, &current.user.id).await?;
    let policy_facts = PolicyFacts {
        policy: &policy.policy,
        subject: Subject { groups: &groups },
    };
    let facts = FinishFacts {
        session: &session,
        begun_by_session: ceremony.session_id.as_deref() == Some(current.session.id.as_str()),
        passkeys: existing,
        name: body.display_name.as_deref(),
        policy: policy_facts,
    };
    let display_name = registration::assess_finish(facts, now)?;
    let reg_state: RegistrationState =
        serde_json::from_str(&ceremony.state).map_err(|_| ApiError::internal())?;
    let derived = state.derived();
    let NewPasskey {
        record,
        mut attestation,
    } = verify(
        &state.webauthn,
        &derived.anchors,
        &body.credential,
        &reg_state,
        &current.user.id,
        display_name,
        now,
    )?;
    registration::assess_model(derived.standing(&record.aaguid, now))?;
    attestation.model_name = derived.providers.name(&record.aaguid).map(str::to_string);
    registration::assess_new_passkey(
        policy_facts,
        PasskeyCandidate {
            aaguid: &record.aaguid,
            passkey_type: record.passkey_type,
            attested: record.attested,
        },
    )?;
    match state
        .store
        .insert_passkey(
            &record,
            Some(&attestation),
            &current.user.username,
            &current.user.username,
            now,
        )
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => return Err(RegistrationRefusal::CredentialExists.into()),
        Err(e) => return Err(e.into()),
    }
    Ok(Json(json!({
        "id": record.id, "displayName": record.display_name, "passkeyType": record.passkey_type.as_str(), "aaGuid": record.aaguid,
    })))
}

#[cfg(test)]
mod tests {
    //! Attestation through the real verifier: packed statements from a software
    //! authenticator whose attestation certificate a test CA issued.
    use super::*;
    use crate::passkeys::testing::{BASE, alice as user, rp};
    use keyfort_softauthn::{Authenticator, TestCa};

    const MODEL: [u8; 16] = [7; 16];

    fn register(authn: &mut Authenticator, anchors: &TrustAnchors) -> Result<NewPasskey, ApiError> {
        let webauthn = rp();
        let (options, state) = options(&webauthn, &user(), vec![], true, &[]).unwrap();
        assert_eq!(
            serde_json::to_value(&options.public_key).unwrap()["attestation"],
            "direct"
        );
        let response = authn
            .create(&serde_json::to_value(&options.public_key).unwrap(), BASE)
            .unwrap();
        let response: RegisterPublicKeyCredential = serde_json::from_value(response).unwrap();
        verify(
            &webauthn,
            anchors,
            &response,
            &state,
            &user().id,
            "k".into(),
            crate::state::now_ms(),
        )
    }

    fn reason(n: &NewPasskey) -> Option<&str> {
        n.attestation.not_attested_reason.as_deref()
    }

    #[test]
    fn a_chain_to_a_configured_anchor_attests() {
        let ca = TestCa::new("Keyfort test root").unwrap();
        let anchors = TrustAnchors::from_pem(ca.pem().as_bytes()).unwrap();
        let mut authn = Authenticator::new(MODEL).attested_by(ca.attestation(MODEL).unwrap());
        let n = register(&mut authn, &anchors).unwrap();
        assert!(n.record.attested);
        assert_eq!(n.record.attestation_format, "packed");
        assert_eq!(
            (n.attestation.level.as_str(), reason(&n)),
            ("attested", None)
        );
        assert_eq!(n.attestation.chain.len(), 1);
        use base64::Engine;
        let leaf = base64::engine::general_purpose::STANDARD
            .decode(&n.attestation.chain[0])
            .unwrap();
        assert!(super::super::anchors::parses(&leaf));
    }

    #[test]
    fn other_chains_and_no_statement_do_not_attest() {
        let ca = TestCa::new("Keyfort test root").unwrap();
        let stranger = TestCa::new("Someone else").unwrap();
        let anchors = TrustAnchors::from_pem(ca.pem().as_bytes()).unwrap();
        // A chain to a root nobody configured.
        let mut authn = Authenticator::new(MODEL).attested_by(stranger.attestation(MODEL).unwrap());
        let n = register(&mut authn, &anchors).unwrap();
        assert!(!n.record.attested);
        assert_eq!(reason(&n), Some("untrusted_attestation_chain"));
        // A good chain, but no anchors at all.
        let mut authn = Authenticator::new(MODEL).attested_by(ca.attestation(MODEL).unwrap());
        let n = register(&mut authn, &TrustAnchors::none()).unwrap();
        assert_eq!(reason(&n), Some("no_trust_anchors"));
        // No statement.
        let n = register(&mut Authenticator::new(MODEL), &anchors).unwrap();
        assert_eq!(
            (n.record.attestation_format.as_str(), reason(&n)),
            ("none", Some("no_attestation"))
        );
    }

    #[test]
    fn a_forged_statement_is_refused() {
        let ca = TestCa::new("Keyfort test root").unwrap();
        let anchors = TrustAnchors::from_pem(ca.pem().as_bytes()).unwrap();
        let mut authn = Authenticator::new(MODEL).attested_by(ca.attestation(MODEL).unwrap());
        authn.forge_attestation = true;
        assert!(register(&mut authn, &anchors).is_err());
    }

    #[test]
    fn an_anchor_file_must_hold_ca_certificates() {
        let ca = TestCa::new("Keyfort test root").unwrap();
        assert_eq!(
            TrustAnchors::from_pem(ca.pem().as_bytes()).unwrap().len(),
            1
        );
        let two = format!("{}{}", ca.pem(), TestCa::new("Second").unwrap().pem());
        assert_eq!(TrustAnchors::from_pem(two.as_bytes()).unwrap().len(), 2);
        assert!(TrustAnchors::from_pem(b"").is_err());
        assert!(TrustAnchors::from_pem(b"not pem").is_err());
        let truncated = &ca.pem()[..100];
        assert!(TrustAnchors::from_pem(truncated.as_bytes()).is_err());
    }
}
