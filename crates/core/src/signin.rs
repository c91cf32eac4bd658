//! Sign-in decisions: whether the facts the server loaded let a person in, and if not,
//! why — one value the sign-in log, the user's message and the HTTP answer all read.
//!
//! The handlers parse, load the facts (the user, the pass or passkey, whether the code
//! matched), call one function here, then commit and render what it decided.

use crate::policy::PasskeyPolicyRefusal;
use crate::tap::{PassState, Usability};
use crate::time::Millis;
use crate::webauthn::WebAuthnRefusal;

/// Why a sign-in is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInRefusal {
    /// The ceremony itself, or the passkey's response, was refused.
    WebAuthn(WebAuthnRefusal),
    /// No passkey with this id is registered for the account named (or for anyone).
    UnknownCredential,
    /// The passkey is blocked as possibly cloned.
    CredentialSuspended,
    /// The account is disabled.
    UserDisabled,
    /// The username and pass do not match a usable pass (the generic answer).
    InvalidCredentials,
    /// The right code of an expired pass.
    PassExpired,
    /// The right code of a one-time pass that was used.
    PassUsed,
    /// The right code of a pass whose start is still to come.
    PassNotYetValid,
    /// The right code of a pass the authentication-methods policy does not allow the user.
    PassDisabledByPolicy,
    /// The authentication-methods policy no longer accepts this passkey for this user.
    Policy(PasskeyPolicyRefusal),
    /// FIDO metadata reports the passkey's model revoked or compromised.
    ModelReported(crate::metadata::Standing),
    /// The username and password do not match (the generic answer).
    PasswordIncorrect,
    /// The right password, but the methods policy does not enable passwords for the user.
    PasswordDisabledByPolicy,
}

impl SignInRefusal {
    /// The stable code: the sign-in log's reason and the API's `error`.
    pub fn code(self) -> &'static str {
        match self {
            SignInRefusal::WebAuthn(r) => r.code(),
            SignInRefusal::UnknownCredential => "unknown_credential",
            SignInRefusal::CredentialSuspended => "credential_suspended",
            SignInRefusal::UserDisabled => "user_disabled",
            SignInRefusal::InvalidCredentials => "invalid_credentials",
            SignInRefusal::PassExpired => "pass_expired",
            SignInRefusal::PassUsed => "pass_used",
            SignInRefusal::PassNotYetValid => "pass_not_yet_valid",
            SignInRefusal::PassDisabledByPolicy => "pass_disabled_by_policy",
            SignInRefusal::Policy(r) => r.code(),
            SignInRefusal::ModelReported(s) => s.code(),
            SignInRefusal::PasswordIncorrect => "invalid_credentials",
            SignInRefusal::PasswordDisabledByPolicy => "password_disabled_by_policy",
        }
    }
}

impl From<WebAuthnRefusal> for SignInRefusal {
    fn from(r: WebAuthnRefusal) -> Self {
        SignInRefusal::WebAuthn(r)
    }
}

/// What a pass sign-in knows before it decides. The code is verified on every path
/// (one Argon2 verification, known user or not) before this is built, so timing says
/// nothing about which usernames exist.
#[derive(Debug, Clone, Copy)]
pub struct PassFacts<'a> {
    /// The named user's pass and whether the user is enabled; `None` when the username is
    /// unknown or the user has no pass.
    pub pass: Option<(&'a PassState, bool)>,
    /// Whether the typed code is the pass's.
    pub code_matches: bool,
    /// Whether the authentication-methods policy allows the user a pass now.
    pub allowed: bool,
}

/// What to do with a pass sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PassVerdict {
    /// Sign in, or the refusal.
    pub outcome: Result<PassAccepted, SignInRefusal>,
    /// Count the wrong code against the pass (in the commit of the refusal's log row).
    pub count_failure: bool,
    /// Forgive the earlier wrong attempts on this username: the right code was typed.
    pub forgive_attempts: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PassAccepted {
    /// A multi-use pass sets up a few devices; each use is throttled so it cannot mint
    /// sessions. (A one-time pass is spent by the sign-in's commit.)
    pub multi_use: bool,
}

/// Decides a pass sign-in. Only the holder of the right code learns why a pass cannot be
/// used (expired, used, not yet valid) or that the account is disabled; everyone else
/// gets the generic refusal.
pub fn assess_pass(f: PassFacts<'_>, now: Millis) -> PassVerdict {
    let refuse = |refusal, count_failure, forgive_attempts| PassVerdict {
        outcome: Err(refusal),
        count_failure,
        forgive_attempts,
    };
    let Some((pass, enabled)) = f.pass else {
        return refuse(SignInRefusal::InvalidCredentials, false, false);
    };
    let unusable = match pass.usability_in(f.allowed, now) {
        Usability::EnabledByPolicy => None,
        Usability::DisabledByPolicy => Some(SignInRefusal::PassDisabledByPolicy),
        Usability::Expired => Some(SignInRefusal::PassExpired),
        Usability::OneTimeUsed => Some(SignInRefusal::PassUsed),
        Usability::NotYetValid => Some(SignInRefusal::PassNotYetValid),
    };
    if let Some(why) = unusable {
        let shown = if f.code_matches {
            why
        } else {
            SignInRefusal::InvalidCredentials
        };
        return refuse(shown, false, false);
    }
    if !f.code_matches {
        return refuse(SignInRefusal::InvalidCredentials, true, false);
    }
    if !enabled {
        return refuse(SignInRefusal::UserDisabled, false, true);
    }
    PassVerdict {
        outcome: Ok(PassAccepted {
            multi_use: !pass.one_time,
        }),
        count_failure: false,
        forgive_attempts: true,
    }
}

/// What a passkey sign-in knows before it decides.
#[derive(Debug, Clone, Copy)]
pub struct PasskeyFacts<'a> {
    /// Username first: the id of the user the passkey must belong to (`""` when the name
    /// typed is unknown, so no passkey matches). `None` for the discoverable flows.
    pub expected_user: Option<&'a str>,
    /// The user handle the authenticator returned, if any.
    pub presented_handle: Option<&'a [u8]>,
    /// The registered passkey with this credential id; `None` when there is none.
    pub credential: Option<CredentialFacts<'a>>,
}

#[derive(Debug, Clone, Copy)]
pub struct CredentialFacts<'a> {
    /// The owner's user id and its user handle (the id's 16 bytes).
    pub owner_id: &'a str,
    pub owner_handle: &'a [u8],
    /// Blocked as possibly cloned.
    pub suspended: bool,
    pub owner_enabled: bool,
    /// What FIDO metadata reports of the passkey's model (its recorded AAGUID) now, and
    /// whether a reported model is refused (the setting; otherwise only flagged).
    pub model: crate::metadata::Standing,
    pub refuse_reported: bool,
}

/// What to do with a passkey sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasskeyVerdict<T> {
    /// Sign in with what the verification returned.
    Accept(T),
    Refuse {
        refusal: SignInRefusal,
        /// Whether the refusal is about the credential's owner (the log row names them):
        /// not when the passkey is unknown or belongs to someone other than was named.
        identified: bool,
        /// The counter went backwards: block the passkey as possibly cloned.
        suspend: bool,
    },
}

/// Decides a passkey sign-in. The credential must belong to the user named (WebAuthn L3
/// §7.2 step 6) and to the user handle returned, and must not be blocked, before its
/// response is verified (`verify`, run at most once); a disabled account is only revealed
/// to someone whose passkey just verified.
pub fn assess_passkey<T>(
    f: PasskeyFacts<'_>,
    allowed: impl FnOnce(&T) -> Result<(), PasskeyPolicyRefusal>,
    verify: impl FnOnce() -> Result<T, WebAuthnRefusal>,
) -> PasskeyVerdict<T> {
    let refuse = |refusal, identified, suspend| PasskeyVerdict::Refuse {
        refusal,
        identified,
        suspend,
    };
    let Some(c) = f.credential else {
        return refuse(SignInRefusal::UnknownCredential, false, false);
    };
    if f.expected_user
        .is_some_and(|expected| expected != c.owner_id)
    {
        return refuse(SignInRefusal::UnknownCredential, false, false);
    }
    if f.presented_handle.is_some_and(|h| h != c.owner_handle) {
        return refuse(SignInRefusal::UnknownCredential, false, false);
    }
    if c.suspended {
        return refuse(SignInRefusal::CredentialSuspended, true, false);
    }
    match verify() {
        Err(WebAuthnRefusal::SignCountRegression) => refuse(
            SignInRefusal::WebAuthn(WebAuthnRefusal::SignCountRegression),
            true,
            true,
        ),
        Err(r) => refuse(SignInRefusal::WebAuthn(r), true, false),
        Ok(_) if !c.owner_enabled => refuse(SignInRefusal::UserDisabled, true, false),
        Ok(_) if c.model.is_bad() && c.refuse_reported => {
            refuse(SignInRefusal::ModelReported(c.model), true, false)
        }
        Ok(verified) => match allowed(&verified) {
            Ok(()) => PasskeyVerdict::Accept(verified),
            Err(r) => refuse(SignInRefusal::Policy(r), true, false),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::MINUTE_MS;

    fn any_passkey<T>(_: &T) -> Result<(), PasskeyPolicyRefusal> {
        Ok(())
    }

    /// The policy is asked only once the passkey verified, and its refusal is identified
    /// (the log names the owner) without suspending the passkey.
    #[test]
    fn a_verified_passkey_the_policy_refuses_is_refused() {
        let handle = [1u8; 16];
        let f = PasskeyFacts {
            expected_user: None,
            presented_handle: Some(&handle),
            credential: Some(CredentialFacts {
                owner_id: "u",
                owner_handle: &handle,
                suspended: false,
                owner_enabled: true,
                model: crate::metadata::Standing::Good,
                refuse_reported: true,
            }),
        };
        let rule = PasskeyPolicyRefusal::Profile(crate::policy::ProfileRule::PasskeyType);
        assert_eq!(
            assess_passkey(f, |_: &u32| Err(rule), || Ok(7)),
            PasskeyVerdict::Refuse {
                refusal: SignInRefusal::Policy(rule),
                identified: true,
                suspend: false,
            }
        );
        let v = assess_passkey(
            f,
            |_: &u32| -> Result<(), PasskeyPolicyRefusal> { panic!("asked before verifying") },
            || Err(WebAuthnRefusal::InvalidSignature),
        );
        assert!(matches!(v, PasskeyVerdict::Refuse { .. }));
    }

    fn pass(one_time: bool, used_at: Option<Millis>) -> PassState {
        PassState {
            start_at: 0,
            lifetime_minutes: 60,
            one_time,
            used_at,
            failed_attempts: 0,
        }
    }

    fn refusal(v: PassVerdict) -> Option<SignInRefusal> {
        v.outcome.err()
    }

    #[test]
    fn a_pass_the_policy_does_not_allow_is_refused_and_said_only_to_its_holder() {
        let p = pass(false, None);
        let right = PassFacts {
            pass: Some((&p, true)),
            code_matches: true,
            allowed: false,
        };
        let v = assess_pass(right, 1);
        assert_eq!(refusal(v), Some(SignInRefusal::PassDisabledByPolicy));
        assert!(!v.count_failure);
        let wrong = PassFacts {
            code_matches: false,
            ..right
        };
        assert_eq!(
            refusal(assess_pass(wrong, 1)),
            Some(SignInRefusal::InvalidCredentials)
        );
    }

    #[test]
    fn the_right_code_of_a_usable_pass_signs_in_and_forgives() {
        let p = pass(true, None);
        let f = PassFacts {
            pass: Some((&p, true)),
            code_matches: true,
            allowed: true,
        };
        let v = assess_pass(f, MINUTE_MS);
        assert_eq!(v.outcome, Ok(PassAccepted { multi_use: false }));
        assert!(v.forgive_attempts && !v.count_failure);
        let multi = pass(false, Some(1));
        let f = PassFacts {
            pass: Some((&multi, true)),
            code_matches: true,
            allowed: true,
        };
        assert_eq!(
            assess_pass(f, MINUTE_MS).outcome,
            Ok(PassAccepted { multi_use: true })
        );
    }

    #[test]
    fn a_wrong_code_is_counted_and_told_nothing() {
        let p = pass(true, None);
        let f = PassFacts {
            pass: Some((&p, false)),
            code_matches: false,
            allowed: true,
        };
        let v = assess_pass(f, MINUTE_MS);
        assert_eq!(refusal(v), Some(SignInRefusal::InvalidCredentials));
        assert!(
            v.count_failure && !v.forgive_attempts,
            "disabled is not revealed"
        );
        let unknown = PassFacts {
            pass: None,
            code_matches: false,
            allowed: true,
        };
        let v = assess_pass(unknown, MINUTE_MS);
        assert_eq!(refusal(v), Some(SignInRefusal::InvalidCredentials));
        assert!(!v.count_failure, "no pass to count against");
    }

    #[test]
    fn only_the_right_code_learns_why_a_pass_is_unusable() {
        let cases = [
            (pass(true, Some(1)), MINUTE_MS, SignInRefusal::PassUsed),
            (pass(true, None), 60 * MINUTE_MS, SignInRefusal::PassExpired),
            (
                PassState {
                    start_at: 10 * MINUTE_MS,
                    ..pass(true, None)
                },
                MINUTE_MS,
                SignInRefusal::PassNotYetValid,
            ),
        ];
        for (p, now, why) in cases {
            for code_matches in [true, false] {
                let f = PassFacts {
                    pass: Some((&p, true)),
                    code_matches,
                    allowed: true,
                };
                let v = assess_pass(f, now);
                let shown = if code_matches {
                    why
                } else {
                    SignInRefusal::InvalidCredentials
                };
                assert_eq!(refusal(v), Some(shown));
                assert!(!v.count_failure, "an unusable pass counts nothing");
            }
        }
    }

    #[test]
    fn a_disabled_user_with_the_right_code_is_told_and_forgiven() {
        let p = pass(true, None);
        let f = PassFacts {
            pass: Some((&p, false)),
            code_matches: true,
            allowed: true,
        };
        let v = assess_pass(f, MINUTE_MS);
        assert_eq!(refusal(v), Some(SignInRefusal::UserDisabled));
        assert!(v.forgive_attempts);
    }

    const ALICE: &[u8] = &[1; 16];

    fn credential(suspended: bool, owner_enabled: bool) -> CredentialFacts<'static> {
        CredentialFacts {
            owner_id: "alice",
            owner_handle: ALICE,
            suspended,
            owner_enabled,
            model: crate::metadata::Standing::Good,
            refuse_reported: true,
        }
    }

    /// A model FIDO reports revoked or compromised: refused once the passkey verified
    /// (the owner named in the log), or only flagged when the setting is off.
    #[test]
    fn a_reported_model_is_refused_unless_the_setting_is_off() {
        use crate::metadata::Standing;
        let mut c = credential(false, true);
        c.model = Standing::Revoked;
        let f = PasskeyFacts {
            expected_user: None,
            presented_handle: Some(ALICE),
            credential: Some(c),
        };
        assert_eq!(
            assess_passkey(f, |_: &u32| Ok(()), || Ok(7)),
            PasskeyVerdict::Refuse {
                refusal: SignInRefusal::ModelReported(Standing::Revoked),
                identified: true,
                suspend: false,
            }
        );
        assert_eq!(
            SignInRefusal::ModelReported(Standing::Revoked).code(),
            "authenticator_revoked"
        );
        // Not before the passkey verified.
        assert_eq!(
            assess_passkey(
                f,
                |_: &u32| Ok(()),
                || Err(WebAuthnRefusal::InvalidSignature)
            ),
            PasskeyVerdict::Refuse {
                refusal: SignInRefusal::WebAuthn(WebAuthnRefusal::InvalidSignature),
                identified: true,
                suspend: false,
            }
        );
        c.refuse_reported = false;
        let f = PasskeyFacts {
            credential: Some(c),
            ..f
        };
        assert_eq!(
            assess_passkey(f, |_: &u32| Ok(()), || Ok(7)),
            PasskeyVerdict::Accept(7)
        );
    }

    fn facts(
        expected_user: Option<&'static str>,
        presented_handle: Option<&'static [u8]>,
        credential: Option<CredentialFacts<'static>>,
    ) -> PasskeyFacts<'static> {
        PasskeyFacts {
            expected_user,
            presented_handle,
            credential,
        }
    }

    fn refused(refusal: SignInRefusal, identified: bool, suspend: bool) -> PasskeyVerdict<u32> {
        PasskeyVerdict::Refuse {
            refusal,
            identified,
            suspend,
        }
    }

    #[test]
    fn a_verified_passkey_of_the_named_user_signs_in() {
        let f = facts(Some("alice"), Some(ALICE), Some(credential(false, true)));
        assert_eq!(
            assess_passkey(f, any_passkey, || Ok(7)),
            PasskeyVerdict::Accept(7)
        );
        let discoverable = facts(None, None, Some(credential(false, true)));
        assert_eq!(
            assess_passkey(discoverable, any_passkey, || Ok(7)),
            PasskeyVerdict::Accept(7)
        );
    }

    #[test]
    fn someone_elses_or_an_unknown_passkey_is_refused_before_verifying() {
        let cases = [
            facts(None, None, None),
            facts(Some("bob"), None, Some(credential(false, true))),
            facts(Some(""), None, Some(credential(false, true))),
            facts(None, Some(&[2; 16]), Some(credential(false, true))),
        ];
        for f in cases {
            let v = assess_passkey(f, any_passkey, || -> Result<u32, _> {
                panic!("verified a passkey that was refused")
            });
            assert_eq!(v, refused(SignInRefusal::UnknownCredential, false, false));
        }
    }

    #[test]
    fn a_blocked_passkey_is_refused_before_verifying() {
        let f = facts(None, None, Some(credential(true, true)));
        let v = assess_passkey(f, any_passkey, || -> Result<u32, _> { panic!("verified") });
        assert_eq!(v, refused(SignInRefusal::CredentialSuspended, true, false));
    }

    #[test]
    fn a_counter_going_backwards_blocks_the_passkey() {
        let f = facts(None, None, Some(credential(false, true)));
        let v = assess_passkey(f, any_passkey, || -> Result<u32, _> {
            Err(WebAuthnRefusal::SignCountRegression)
        });
        let regression = SignInRefusal::WebAuthn(WebAuthnRefusal::SignCountRegression);
        assert_eq!(v, refused(regression, true, true));
        let v = assess_passkey(f, any_passkey, || -> Result<u32, _> {
            Err(WebAuthnRefusal::InvalidSignature)
        });
        let bad = SignInRefusal::WebAuthn(WebAuthnRefusal::InvalidSignature);
        assert_eq!(v, refused(bad, true, false));
    }

    #[test]
    fn a_disabled_account_is_only_told_after_verifying() {
        let f = facts(None, None, Some(credential(false, false)));
        assert_eq!(
            assess_passkey(f, any_passkey, || Ok(1u32)),
            refused(SignInRefusal::UserDisabled, true, false)
        );
        let v = assess_passkey(f, any_passkey, || -> Result<u32, _> {
            Err(WebAuthnRefusal::InvalidSignature)
        });
        let bad = SignInRefusal::WebAuthn(WebAuthnRefusal::InvalidSignature);
        assert_eq!(
            v,
            refused(bad, true, false),
            "a bad signature learns nothing"
        );
    }
}
