//! Passkeys: the WebAuthn ceremonies (registration, sign-in) and self-service management.
//!
//! Every ceremony is single-use, expires after five minutes, and can be finished on
//! any node: registration state lives in the store, keyed by a random ceremony id
//! (`Store::take_ceremony`); sign-in state is sealed and carried by the browser, its id
//! spent in the store when finished (`sealed`), so an unauthenticated `begin` writes nothing.

pub mod anchors;
pub mod assertion;
pub mod authentication;
pub mod manage;
pub mod registration;
pub mod shape;
#[cfg(test)]
mod testing;

use crate::error::ApiError;
use crate::state::{AppState, CEREMONY_TTL_MS};
use keyfort_core::webauthn::WebAuthnRefusal;
use keyfort_store::CeremonyRecord;
use serde::Serialize;
use serde_json::{Value, json};
use webauthn_rs_core::error::WebauthnError;

/// Stores a new ceremony (single-use, expiring after five minutes) and returns
/// what the browser needs: the ceremony id and the WebAuthn options.
pub async fn start_ceremony(
    state: &AppState,
    kind: &str,
    session_id: Option<&str>,
    ceremony: &impl Serialize,
    options: &impl Serialize,
    now: i64,
) -> Result<Value, ApiError> {
    let id = crate::crypto::random_token();
    let record = CeremonyRecord {
        id: id.clone(),
        kind: kind.into(),
        user_id: None,
        session_id: session_id.map(str::to_string),
        state: serde_json::to_string(ceremony).map_err(|_| ApiError::internal())?,
        created_at: now,
        expires_at: now + CEREMONY_TTL_MS,
    };
    state.store.put_ceremony(&record).await?;
    Ok(json!({ "ceremonyId": id, "publicKey": options }))
}

/// The verifier's error as Keyfort's refusal (`refusals` turns it into HTTP).
pub fn webauthn_refusal(e: &WebauthnError) -> WebAuthnRefusal {
    use WebauthnError::*;
    match e {
        InvalidRPOrigin | CredentialCrossOrigin => WebAuthnRefusal::OriginMismatch,
        InvalidRPIDHash => WebAuthnRefusal::RpIdMismatch,
        MismatchedChallenge => WebAuthnRefusal::ChallengeMismatch,
        InvalidClientDataType => WebAuthnRefusal::InvalidClientData,
        UserNotPresent => WebAuthnRefusal::UserPresenceRequired,
        UserNotVerified => WebAuthnRefusal::UserVerificationRequired,
        CredentialPossibleCompromise => WebAuthnRefusal::SignCountRegression,
        AuthenticationFailure => WebAuthnRefusal::InvalidSignature,
        CredentialBackupEligibilityInconsistent | CredentialMayNotBeHardwareBound => {
            WebAuthnRefusal::InconsistentBackupFlags
        }
        CredentialAlteredAlgFromRequest | COSEKeyInvalidType | COSEKeyInvalidAlgorithm => {
            WebAuthnRefusal::UnsupportedAlgorithm
        }
        AttestationNotSupported | AttestationNotVerifiable => {
            WebAuthnRefusal::AttestationUnsupported
        }
        other => {
            tracing::debug!(error = ?other, "webauthn refusal");
            WebAuthnRefusal::InvalidResponse
        }
    }
}

/// The verifier's error as the HTTP answer.
pub fn webauthn_error(e: &WebauthnError) -> ApiError {
    webauthn_refusal(e).into()
}
