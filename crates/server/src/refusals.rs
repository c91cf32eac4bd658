//! The one table from `core`'s typed refusals to HTTP: for each, the status and the
//! message a person reads; the code is the refusal's own (`code()`), the same string the
//! sign-in log records.

use crate::error::ApiError;
use axum::http::StatusCode;
use keyfort_core::signin::SignInRefusal;
use keyfort_core::webauthn::WebAuthnRefusal;

impl From<WebAuthnRefusal> for ApiError {
    fn from(r: WebAuthnRefusal) -> Self {
        use WebAuthnRefusal::*;
        let (status, message) = match r {
            ChallengeInvalid => (
                StatusCode::BAD_REQUEST,
                "This request was already used or never existed. Start again.",
            ),
            ChallengeExpired => (
                StatusCode::BAD_REQUEST,
                "This request expired (after 5 minutes). Start again.",
            ),
            OriginMismatch => (
                StatusCode::BAD_REQUEST,
                "The response was made for another website (origin mismatch).",
            ),
            RpIdMismatch => (
                StatusCode::BAD_REQUEST,
                "The authenticator signed for another relying party.",
            ),
            ChallengeMismatch => (
                StatusCode::BAD_REQUEST,
                "The response does not answer this challenge.",
            ),
            InvalidClientData => (
                StatusCode::BAD_REQUEST,
                "The client data is of the wrong type.",
            ),
            UserPresenceRequired => (
                StatusCode::BAD_REQUEST,
                "The authenticator did not confirm user presence.",
            ),
            UserVerificationRequired => (
                StatusCode::BAD_REQUEST,
                "The authenticator did not verify the user (PIN or biometric); Keyfort requires it.",
            ),
            SignCountRegression => (
                StatusCode::UNAUTHORIZED,
                "This passkey's signature counter went backwards, which suggests it was cloned. It is blocked; contact your administrator.",
            ),
            InvalidSignature => (
                StatusCode::UNAUTHORIZED,
                "The passkey's signature is not valid.",
            ),
            InconsistentBackupFlags => (
                StatusCode::BAD_REQUEST,
                "The authenticator reported inconsistent backup flags.",
            ),
            UnsupportedAlgorithm => (
                StatusCode::BAD_REQUEST,
                "The passkey uses an algorithm Keyfort did not offer.",
            ),
            AttestationUnsupported => (
                StatusCode::BAD_REQUEST,
                "The attestation statement could not be verified.",
            ),
            InvalidResponse => (
                StatusCode::BAD_REQUEST,
                "The authenticator response could not be verified.",
            ),
        };
        ApiError::new(status, r.code(), message)
    }
}

impl From<SignInRefusal> for ApiError {
    fn from(r: SignInRefusal) -> Self {
        use SignInRefusal::*;
        let (status, message) = match r {
            WebAuthn(w) => return w.into(),
            UnknownCredential => (
                StatusCode::UNAUTHORIZED,
                "This passkey is not registered with Keyfort for that account.",
            ),
            CredentialSuspended => (
                StatusCode::FORBIDDEN,
                "This passkey is blocked because it may have been cloned. Contact your administrator.",
            ),
            UserDisabled => (
                StatusCode::FORBIDDEN,
                "This account is disabled. Contact your administrator.",
            ),
            InvalidCredentials => (
                StatusCode::UNAUTHORIZED,
                "That username and pass do not match a usable Temporary Access Pass.",
            ),
            PassExpired => (
                StatusCode::UNAUTHORIZED,
                "This Temporary Access Pass has expired.",
            ),
            PassUsed => (
                StatusCode::UNAUTHORIZED,
                "This Temporary Access Pass was for one use and has been used.",
            ),
            PassNotYetValid => (StatusCode::UNAUTHORIZED, "This pass is not valid yet."),
        };
        ApiError::new(status, r.code(), message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_carries_the_refusals_own_code() {
        let refusals = [
            SignInRefusal::UnknownCredential,
            SignInRefusal::CredentialSuspended,
            SignInRefusal::UserDisabled,
            SignInRefusal::InvalidCredentials,
            SignInRefusal::PassExpired,
            SignInRefusal::PassUsed,
            SignInRefusal::PassNotYetValid,
            SignInRefusal::WebAuthn(WebAuthnRefusal::SignCountRegression),
            SignInRefusal::WebAuthn(WebAuthnRefusal::ChallengeExpired),
        ];
        for r in refusals {
            let e = ApiError::from(r);
            assert_eq!(e.code, r.code());
            assert!(e.status.is_client_error(), "{r:?}");
            assert!(!e.message.is_empty());
        }
    }
}
