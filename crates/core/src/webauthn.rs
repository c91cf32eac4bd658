//! Why a WebAuthn ceremony (registration or sign-in) is refused, as a value.
//!
//! The verifier's errors are mapped onto these once, in the server; the sign-in log, the
//! user's message and the HTTP answer all read the same value. Step numbers are those of
//! WebAuthn Level 3, §7.1 (registration) and §7.2 (authentication).

use crate::time::Millis;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebAuthnRefusal {
    /// The ceremony was finished before, or never started here.
    ChallengeInvalid,
    /// The ceremony is older than its five minutes.
    ChallengeExpired,
    /// §7.1 step 9 / §7.2 step 13: made for another origin.
    OriginMismatch,
    /// §7.1 step 13 / §7.2 step 15: signed for another relying party.
    RpIdMismatch,
    /// §7.1 step 8 / §7.2 step 12: answers another challenge.
    ChallengeMismatch,
    /// §7.1 step 7 / §7.2 step 11: client data of the wrong type.
    InvalidClientData,
    /// §7.1 step 14 / §7.2 step 16.
    UserPresenceRequired,
    /// §7.1 step 15 / §7.2 step 17: Keyfort requires user verification.
    UserVerificationRequired,
    /// §7.2 step 22: the signature counter did not move forward (a possible clone).
    SignCountRegression,
    /// §7.2 step 21.
    InvalidSignature,
    /// The backup-eligible and backup-state flags contradict each other or the credential.
    InconsistentBackupFlags,
    /// A public-key algorithm Keyfort did not offer.
    UnsupportedAlgorithm,
    /// The attestation statement could not be verified.
    AttestationUnsupported,
    /// Any other malformed or unverifiable response.
    InvalidResponse,
    /// A binary field is larger than any real authenticator sends (refused unread).
    FieldTooLarge { field: &'static str, max: usize },
    /// The credential type is not `public-key`.
    CredentialTypeInvalid,
    /// `id` is not the base64url of `rawId`, or `rawId` is not the attested credential id
    /// (WebAuthn L3 §5.1).
    CredentialIdMismatch,
}

impl WebAuthnRefusal {
    /// Every refusal, for tables and tests that must cover them all.
    pub const ALL: [WebAuthnRefusal; 17] = {
        use WebAuthnRefusal::*;
        [
            ChallengeInvalid,
            ChallengeExpired,
            OriginMismatch,
            RpIdMismatch,
            ChallengeMismatch,
            InvalidClientData,
            UserPresenceRequired,
            UserVerificationRequired,
            SignCountRegression,
            InvalidSignature,
            InconsistentBackupFlags,
            UnsupportedAlgorithm,
            AttestationUnsupported,
            InvalidResponse,
            FieldTooLarge {
                field: "signature",
                max: 1024,
            },
            CredentialTypeInvalid,
            CredentialIdMismatch,
        ]
    };

    /// The stable code: the sign-in log's reason and the API's `error`.
    pub fn code(self) -> &'static str {
        use WebAuthnRefusal::*;
        match self {
            ChallengeInvalid => "challenge_invalid",
            ChallengeExpired => "challenge_expired",
            OriginMismatch => "origin_mismatch",
            RpIdMismatch => "rp_id_mismatch",
            ChallengeMismatch => "challenge_mismatch",
            InvalidClientData => "invalid_client_data",
            UserPresenceRequired => "user_presence_required",
            UserVerificationRequired => "user_verification_required",
            SignCountRegression => "sign_count_regression",
            InvalidSignature => "invalid_signature",
            InconsistentBackupFlags => "inconsistent_backup_flags",
            UnsupportedAlgorithm => "unsupported_algorithm",
            AttestationUnsupported => "attestation_unsupported",
            InvalidResponse => "invalid_webauthn_response",
            FieldTooLarge { .. } => "webauthn_field_too_large",
            CredentialTypeInvalid => "credential_type_invalid",
            CredentialIdMismatch => "credential_id_mismatch",
        }
    }
}

/// A ceremony is live until its expiry (exclusive).
pub fn ceremony_live(expires_at: Millis, now: Millis) -> Result<(), WebAuthnRefusal> {
    if now >= expires_at {
        Err(WebAuthnRefusal::ChallengeExpired)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ceremony_expires_at_its_instant() {
        assert_eq!(ceremony_live(1_000, 999), Ok(()));
        assert_eq!(
            ceremony_live(1_000, 1_000),
            Err(WebAuthnRefusal::ChallengeExpired)
        );
    }

    #[test]
    fn codes_are_distinct() {
        let codes: std::collections::BTreeSet<_> =
            WebAuthnRefusal::ALL.iter().map(|r| r.code()).collect();
        assert_eq!(codes.len(), WebAuthnRefusal::ALL.len());
    }
}
