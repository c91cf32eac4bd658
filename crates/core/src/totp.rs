//! Authenticator-app codes (TOTP, RFC 6238): which time steps a typed code may match,
//! what a matched step means, and who may enrol an app.
//!
//! Codes are 6 digits over HMAC-SHA-1 with a 30-second step — what every authenticator
//! app reads from an `otpauth://` QR code. A code is accepted for the current step and
//! one step either side (RFC 6238 §5.2 recommends at most one step of network delay),
//! and once only: a step at or before the last one accepted is refused, so neither a
//! replayed code nor an older one ever signs in again.

use crate::policy::{MethodId, MethodsPolicy, Subject, method_applies};
use crate::session::{SessionFacts, SignInMethod, may_register_passkey};
use crate::time::Millis;

pub const DIGITS: usize = 6;
pub const STEP_SECONDS: u64 = 30;
/// Steps accepted either side of the current one.
pub const DRIFT_STEPS: i64 = 1;
/// Bytes of a new secret (160 bits, RFC 4226 §4's recommendation).
pub const SECRET_BYTES: usize = 20;

/// The time step `now` falls in.
pub fn step_at(now: Millis) -> i64 {
    let step_ms = i64::try_from(STEP_SECONDS)
        .unwrap_or(30)
        .saturating_mul(1000);
    now.max(0).div_euclid(step_ms)
}

/// The steps a code typed at `now` may match, oldest first.
pub fn candidate_steps(now: Millis) -> Vec<i64> {
    let current = step_at(now);
    (-DRIFT_STEPS..=DRIFT_STEPS)
        .map(|d| current.saturating_add(d))
        .filter(|s| *s >= 0)
        .collect()
}

/// The code as typed, without spaces or dashes; `None` unless it is six digits.
pub fn normalize_code(typed: &str) -> Option<String> {
    let digits: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    (digits.len() == DIGITS && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// Why a code is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodeRefusal {
    #[error("a code is six digits")]
    Malformed,
    #[error("the code does not match")]
    Incorrect,
    #[error("the code was used already")]
    Used,
}

impl CodeRefusal {
    pub fn code(self) -> &'static str {
        match self {
            CodeRefusal::Malformed => "invalid_code_format",
            CodeRefusal::Incorrect => "invalid_code",
            CodeRefusal::Used => "code_used",
        }
    }
}

/// Decides a typed code: `matched`, the newest candidate step whose code it is (`None`
/// when none is); `last_step`, the last step accepted for this app. The step to record.
pub fn assess_code(matched: Option<i64>, last_step: Option<i64>) -> Result<i64, CodeRefusal> {
    let step = matched.ok_or(CodeRefusal::Incorrect)?;
    match last_step {
        Some(last) if step <= last => Err(CodeRefusal::Used),
        _ => Ok(step),
    }
}

/// Why an authenticator app may not be enrolled now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EnrolRefusal {
    #[error("the authentication-methods policy does not allow authenticator apps")]
    MethodDisabled,
    #[error("sign in again to add an authenticator app")]
    ReauthenticationRequired,
    #[error("an authenticator app is set up already: remove it first")]
    AlreadyEnrolled,
}

impl EnrolRefusal {
    pub fn code(self) -> &'static str {
        match self {
            EnrolRefusal::MethodDisabled => "method_disabled",
            EnrolRefusal::ReauthenticationRequired => "reauthentication_required",
            EnrolRefusal::AlreadyEnrolled => "totp_exists",
        }
    }
}

/// What deciding an enrolment knows.
#[derive(Debug, Clone, Copy)]
pub struct EnrolFacts<'a> {
    pub session: &'a SessionFacts,
    pub policy: &'a MethodsPolicy,
    pub subject: Subject<'a>,
    /// Whether the person has an app already (one per person).
    pub enrolled: bool,
    /// Whether they hold a second factor (a passkey) beside a password.
    pub holds_second_factor: bool,
}

/// May this session enrol an authenticator app? As for a passkey: a fresh strong sign-in
/// or a pass; a fresh password sign-in only for someone holding no second factor (their
/// first), since a password alone must not add factors beside stronger ones.
pub fn may_enrol(f: EnrolFacts<'_>, now: Millis) -> Result<(), EnrolRefusal> {
    if !method_applies(f.policy, MethodId::SoftwareOath, f.subject) {
        return Err(EnrolRefusal::MethodDisabled);
    }
    if !may_register_passkey(f.session, now).is_allowed()
        || (f.session.method == SignInMethod::Password && f.holds_second_factor)
    {
        return Err(EnrolRefusal::ReauthenticationRequired);
    }
    if f.enrolled {
        return Err(EnrolRefusal::AlreadyEnrolled);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{ALL_USERS, IncludeTarget, MethodState, PlainMethod};
    use crate::time::MINUTE_MS;

    #[test]
    fn one_step_of_drift_either_side() {
        // 59 s is in step 1: steps 0, 1 and 2 are candidates.
        assert_eq!(candidate_steps(59_000), [0, 1, 2]);
        assert_eq!(candidate_steps(0), [0, 1], "no step before the epoch");
        assert_eq!(step_at(30_000), 1);
        assert_eq!(step_at(29_999), 0);
    }

    #[test]
    fn codes_are_six_digits() {
        assert_eq!(normalize_code(" 123 456 ").as_deref(), Some("123456"));
        assert_eq!(normalize_code("123-456").as_deref(), Some("123456"));
        for bad in ["12345", "1234567", "12345a", "", "١٢٣٤٥٦"] {
            assert_eq!(normalize_code(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_step_is_accepted_once_and_never_an_older_one() {
        assert_eq!(assess_code(Some(10), None), Ok(10));
        assert_eq!(assess_code(Some(10), Some(9)), Ok(10));
        assert_eq!(assess_code(Some(10), Some(10)), Err(CodeRefusal::Used));
        assert_eq!(assess_code(Some(9), Some(10)), Err(CodeRefusal::Used));
        assert_eq!(assess_code(None, Some(3)), Err(CodeRefusal::Incorrect));
    }

    fn policy(on: bool) -> MethodsPolicy {
        MethodsPolicy {
            software_oath: PlainMethod {
                state: if on {
                    MethodState::Enabled
                } else {
                    MethodState::Disabled
                },
                include_targets: vec![IncludeTarget {
                    id: ALL_USERS.into(),
                    is_registration_required: false,
                    allowed_passkey_profiles: Vec::new(),
                }],
                exclude_targets: Vec::new(),
            },
            ..MethodsPolicy::default()
        }
    }

    fn session(method: SignInMethod) -> SessionFacts {
        SessionFacts {
            method,
            auth_time: 0,
            expires_at: 60 * MINUTE_MS,
            last_seen_at: 0,
            pass_one_time: true,
            pass_expires_at: Some(60 * MINUTE_MS),
        }
    }

    #[test]
    fn who_may_enrol() {
        let on = policy(true);
        let facts = |s, enrolled, second| EnrolFacts {
            session: s,
            policy: &on,
            subject: Subject { groups: &[] },
            enrolled,
            holds_second_factor: second,
        };
        let password = session(SignInMethod::Password);
        let passkey = session(SignInMethod::Passkey);
        assert_eq!(may_enrol(facts(&password, false, false), MINUTE_MS), Ok(()));
        assert_eq!(
            may_enrol(facts(&password, false, true), MINUTE_MS),
            Err(EnrolRefusal::ReauthenticationRequired),
            "a password alone adds nothing beside a passkey"
        );
        assert_eq!(may_enrol(facts(&passkey, false, true), MINUTE_MS), Ok(()));
        assert_eq!(
            may_enrol(facts(&passkey, false, true), 6 * MINUTE_MS),
            Err(EnrolRefusal::ReauthenticationRequired)
        );
        assert_eq!(
            may_enrol(facts(&passkey, true, true), MINUTE_MS),
            Err(EnrolRefusal::AlreadyEnrolled)
        );
        let off = policy(false);
        let refused = may_enrol(
            EnrolFacts {
                policy: &off,
                ..facts(&passkey, false, true)
            },
            MINUTE_MS,
        );
        assert_eq!(refused, Err(EnrolRefusal::MethodDisabled));
    }
}
