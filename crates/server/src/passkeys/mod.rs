//! Passkeys: the WebAuthn ceremonies (registration, sign-in) and self-service management.
//!
//! Every ceremony is single-use, expires after five minutes, and can be finished on
//! any node: registration state lives in the store, keyed by a random ceremony id
//! (`Store::take_ceremony`); sign-in state is sealed and carried by the browser, its id
//! spent in the store when finished (`sealed`), so an unauthenticated `begin` writes nothing.

pub mod assertion;
pub mod authentication;
pub mod manage;
pub mod registration;
pub mod shape;

use crate::error::ApiError;
use crate::state::{AppState, CEREMONY_TTL_MS};
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

/// Maps a verifier refusal onto a stable code (WebAuthn L3 §7.1 / §7.2 step numbers in the messages' spirit).
pub fn webauthn_refusal(e: &WebauthnError) -> ApiError {
    use WebauthnError::*;
    match e {
        // §7.1 step 9 / §7.2 step 13: origin.
        InvalidRPOrigin | CredentialCrossOrigin => ApiError::bad_request(
            "origin_mismatch",
            "The response was made for another website (origin mismatch).",
        ),
        // §7.1 step 13 / §7.2 step 15: RP ID hash.
        InvalidRPIDHash => ApiError::bad_request(
            "rp_id_mismatch",
            "The authenticator signed for another relying party.",
        ),
        // §7.1 step 8 / §7.2 step 12: challenge.
        MismatchedChallenge => ApiError::bad_request(
            "challenge_mismatch",
            "The response does not answer this challenge.",
        ),
        InvalidClientDataType => ApiError::bad_request(
            "invalid_client_data",
            "The client data is of the wrong type.",
        ),
        UserNotPresent => ApiError::bad_request(
            "user_presence_required",
            "The authenticator did not confirm user presence.",
        ),
        // §7.1 step 15 / §7.2 step 17: user verification is required.
        UserNotVerified => ApiError::bad_request(
            "user_verification_required",
            "The authenticator did not verify the user (PIN or biometric); Keyfort requires it.",
        ),
        CredentialPossibleCompromise => ApiError::unauthorized(
            "sign_count_regression",
            "This passkey's signature counter went backwards, which suggests it was cloned. It is blocked; contact your administrator.",
        ),
        AuthenticationFailure => {
            ApiError::unauthorized("invalid_signature", "The passkey's signature is not valid.")
        }
        CredentialBackupEligibilityInconsistent | CredentialMayNotBeHardwareBound => {
            ApiError::bad_request(
                "inconsistent_backup_flags",
                "The authenticator reported inconsistent backup flags.",
            )
        }
        CredentialAlteredAlgFromRequest | COSEKeyInvalidType | COSEKeyInvalidAlgorithm => {
            ApiError::bad_request(
                "unsupported_algorithm",
                "The passkey uses an algorithm Keyfort did not offer.",
            )
        }
        AttestationNotSupported | AttestationNotVerifiable => ApiError::bad_request(
            "attestation_unsupported",
            "The attestation statement could not be verified.",
        ),
        other => {
            tracing::debug!(error = ?other, "webauthn refusal");
            ApiError::bad_request(
                "invalid_webauthn_response",
                "The authenticator response could not be verified.",
            )
        }
    }
}

/// Ceremony errors that are not the verifier's.
pub fn ceremony_unknown() -> ApiError {
    ApiError::bad_request(
        "challenge_invalid",
        "This request was already used or never existed. Start again.",
    )
}

pub fn ceremony_expired() -> ApiError {
    ApiError::bad_request(
        "challenge_expired",
        "This request expired (after 5 minutes). Start again.",
    )
}
