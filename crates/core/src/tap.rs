//! Temporary Access Pass: lifetimes, usability and the pass alphabet.
//!
//! Semantics as in docs/semantics.md ("Temporary Access Pass"). What a new pass may be
//! — whether the user may have one at all, its lifetime, length and one-time use — is
//! the `temporaryAccessPass` method of the authentication-methods policy ([`terms`]);
//! whether a pass can be used now also asks that method ([`PassState::usability_in`]).

use crate::policy::{MethodId, MethodsPolicy, Scope, Subject, method_scope};
use crate::time::{MINUTE_MS, Millis};
use serde::Serialize;
/// A one-time pass used to start registration leaves this long to finish.
pub const ONE_TIME_REGISTRATION_WINDOW_MS: Millis = 10 * MINUTE_MS;

/// Characters of a pass: no look-alikes (0/o, 1/l/i), lowercase so it is easy to read out.
pub const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum Usability {
    EnabledByPolicy,
    /// The policy does not (or no longer) allow the user a pass.
    DisabledByPolicy,
    Expired,
    NotYetValid,
    OneTimeUsed,
}

impl Usability {
    pub fn is_usable(self) -> bool {
        self == Usability::EnabledByPolicy
    }

    /// The `methodUsabilityReason` of the Temporary Access Pass method. Wrong codes never
    /// lock a pass (anyone could lock anyone's): they are throttled with a growing delay
    /// (`throttle`).
    pub fn as_str(self) -> &'static str {
        match self {
            Usability::EnabledByPolicy => "enabledByPolicy",
            Usability::DisabledByPolicy => "disabledByPolicy",
            Usability::Expired => "expired",
            Usability::NotYetValid => "notYetValid",
            Usability::OneTimeUsed => "oneTimeUsed",
        }
    }
}

/// What the store keeps about a pass (never the code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassState {
    pub start_at: Millis,
    pub lifetime_minutes: i64,
    pub one_time: bool,
    pub used_at: Option<Millis>,
    pub failed_attempts: i64,
}

impl PassState {
    pub fn expires_at(&self) -> Millis {
        self.start_at + self.lifetime_minutes * MINUTE_MS
    }

    /// Usability when the policy allows the user a pass (`allowed`) or not; a pass the
    /// policy no longer allows cannot be used, whatever else holds.
    pub fn usability_in(&self, allowed: bool, now: Millis) -> Usability {
        if allowed {
            self.usability(now)
        } else {
            Usability::DisabledByPolicy
        }
    }

    /// Usability by the pass's own terms alone.
    pub fn usability(&self, now: Millis) -> Usability {
        if self.one_time && self.used_at.is_some() {
            Usability::OneTimeUsed
        } else if now < self.start_at {
            Usability::NotYetValid
        } else if now >= self.expires_at() {
            Usability::Expired
        } else {
            Usability::EnabledByPolicy
        }
    }
}

/// Why a pass cannot be issued.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PassIssueRefusal {
    #[error("the policy lets a pass live between {min} and {max} minutes, not {requested}")]
    LifetimeOutOfRange { requested: i64, min: i64, max: i64 },
    #[error("the Temporary Access Pass method is disabled in the authentication-methods policy")]
    MethodDisabled,
    #[error(
        "the authentication-methods policy excludes this user from the Temporary Access Pass method (group {group})"
    )]
    UserExcluded { group: String },
    #[error(
        "no include target of the Temporary Access Pass method in the authentication-methods policy names this user"
    )]
    UserNotIncluded,
}

impl PassIssueRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            PassIssueRefusal::LifetimeOutOfRange { .. } => "invalid_lifetime",
            PassIssueRefusal::MethodDisabled => "method_disabled",
            PassIssueRefusal::UserExcluded { .. } | PassIssueRefusal::UserNotIncluded => {
                "method_not_allowed_for_user"
            }
        }
    }
}

/// What a new pass is: its lifetime, whether it is one-time, and its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PassTerms {
    pub lifetime_minutes: i64,
    pub one_time: bool,
    pub length: usize,
}

/// Whether the policy allows `subject` a pass.
pub fn allowed(policy: &MethodsPolicy, subject: Subject<'_>) -> bool {
    matches!(
        method_scope(policy, MethodId::TemporaryAccessPass, subject),
        Scope::Included { .. }
    )
}

/// The terms of a pass for `subject` under `policy`: refused when the method does not
/// apply to them; the lifetime asked for (the policy's default when none) within the
/// policy's minimum and maximum; one-time when asked or when the policy makes every pass
/// one-time (`isUsableOnce`); the policy's length.
pub fn terms(
    policy: &MethodsPolicy,
    subject: Subject<'_>,
    requested_lifetime: Option<i64>,
    one_time: bool,
) -> Result<PassTerms, PassIssueRefusal> {
    match method_scope(policy, MethodId::TemporaryAccessPass, subject) {
        Scope::Included { .. } => {}
        Scope::Disabled => return Err(PassIssueRefusal::MethodDisabled),
        Scope::Excluded { group } => {
            return Err(PassIssueRefusal::UserExcluded {
                group: group.to_string(),
            });
        }
        Scope::NotIncluded => return Err(PassIssueRefusal::UserNotIncluded),
    }
    let m = &policy.temporary_access_pass;
    let lifetime = requested_lifetime.unwrap_or(m.default_lifetime_in_minutes);
    let (min, max) = (m.minimum_lifetime_in_minutes, m.maximum_lifetime_in_minutes);
    if !(min..=max).contains(&lifetime) {
        return Err(PassIssueRefusal::LifetimeOutOfRange {
            requested: lifetime,
            min,
            max,
        });
    }
    Ok(PassTerms {
        lifetime_minutes: lifetime,
        one_time: one_time || m.is_usable_once,
        // Validated to 8–48 before the policy was stored.
        length: usize::try_from(m.default_length).unwrap_or(8),
    })
}

/// Maps uniformly random bytes onto the pass alphabet (rejection sampling, no modulo bias).
pub fn code_from_random(random: impl IntoIterator<Item = u8>, length: usize) -> Option<String> {
    let n = ALPHABET.len() as u8;
    let limit = 256 - (256 % n as u16);
    let code: String = random
        .into_iter()
        .filter(|b| (*b as u16) < limit)
        .take(length)
        .map(|b| ALPHABET[(b % n) as usize] as char)
        .collect();
    (code.len() == length).then_some(code)
}

/// Normalises what a person typed: spaces and dashes ignored, case folded.
pub fn normalize_typed_code(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(one_time: bool) -> PassState {
        PassState {
            start_at: 1_000_000,
            lifetime_minutes: 60,
            one_time,
            used_at: None,
            failed_attempts: 0,
        }
    }

    #[test]
    fn usability_over_time() {
        let p = pass(true);
        assert_eq!(p.usability(999_999), Usability::NotYetValid);
        assert_eq!(p.usability(1_000_000), Usability::EnabledByPolicy);
        assert_eq!(p.usability(p.expires_at() - 1), Usability::EnabledByPolicy);
        assert_eq!(p.usability(p.expires_at()), Usability::Expired);
    }

    #[test]
    fn one_time_pass_is_used_once_multi_use_is_not() {
        let mut p = pass(true);
        p.used_at = Some(1_000_001);
        assert_eq!(p.usability(1_000_002), Usability::OneTimeUsed);
        let mut m = pass(false);
        m.used_at = Some(1_000_001);
        assert!(m.usability(1_000_002).is_usable());
    }

    #[test]
    fn wrong_codes_never_lock_a_pass() {
        let mut p = pass(false);
        p.failed_attempts = 1_000;
        assert!(p.usability(1_000_001).is_usable());
    }

    fn policy() -> MethodsPolicy {
        let mut p = MethodsPolicy::default();
        p.temporary_access_pass.include_targets[0].id = "staff".into();
        p.temporary_access_pass.exclude_targets = vec![crate::policy::ExcludeTarget {
            id: "contractors".into(),
        }];
        p
    }

    fn groups(g: &[&str]) -> Vec<String> {
        g.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn terms_follow_the_policy() {
        let p = policy();
        let staff = groups(&["staff"]);
        let s = Subject { groups: &staff };
        let t = terms(&p, s, None, false).unwrap();
        assert_eq!(
            t,
            PassTerms {
                lifetime_minutes: 60,
                one_time: false,
                length: 8
            }
        );
        // Within the policy's range, its bounds included; outside it, refused.
        assert_eq!(terms(&p, s, Some(480), true).unwrap().lifetime_minutes, 480);
        assert_eq!(
            terms(&p, s, Some(59), false),
            Err(PassIssueRefusal::LifetimeOutOfRange {
                requested: 59,
                min: 60,
                max: 480
            })
        );
        assert_eq!(
            terms(&p, s, Some(481), false).unwrap_err().code(),
            "invalid_lifetime"
        );
        // isUsableOnce makes every pass one-time; the length is the policy's.
        let mut once = p.clone();
        once.temporary_access_pass.is_usable_once = true;
        once.temporary_access_pass.default_length = 12;
        once.temporary_access_pass.minimum_lifetime_in_minutes = 10;
        let t = terms(&once, s, Some(10), false).unwrap();
        assert_eq!((t.one_time, t.length, t.lifetime_minutes), (true, 12, 10));
    }

    #[test]
    fn terms_refuse_who_the_method_does_not_apply_to() {
        let p = policy();
        let both = groups(&["staff", "contractors"]);
        assert_eq!(
            terms(&p, Subject { groups: &both }, None, false),
            Err(PassIssueRefusal::UserExcluded {
                group: "contractors".into()
            })
        );
        assert_eq!(
            terms(&p, Subject { groups: &[] }, None, false),
            Err(PassIssueRefusal::UserNotIncluded)
        );
        assert!(!allowed(&p, Subject { groups: &[] }));
        let staff = groups(&["staff"]);
        assert!(allowed(&p, Subject { groups: &staff }));
        let mut off = p.clone();
        off.temporary_access_pass.state = crate::policy::MethodState::Disabled;
        let refusal = terms(&off, Subject { groups: &staff }, None, false).unwrap_err();
        assert_eq!(refusal, PassIssueRefusal::MethodDisabled);
        assert_eq!(refusal.code(), "method_disabled");
        // A pass the policy no longer allows cannot be used.
        let pass = pass(false);
        assert_eq!(
            pass.usability_in(false, 1_000_001),
            Usability::DisabledByPolicy
        );
        assert!(pass.usability_in(true, 1_000_001).is_usable());
    }

    #[test]
    fn codes_use_the_alphabet_without_bias() {
        let bytes: Vec<u8> = (0..=255u8).collect();
        let code = code_from_random(bytes.iter().copied(), 8).unwrap();
        assert_eq!(code.len(), 8);
        assert!(code.bytes().all(|b| ALPHABET.contains(&b)));
        // Bytes at or above the rejection limit are skipped, never folded.
        assert_eq!(code_from_random([255u8; 20], 8), None);
        assert_eq!(normalize_typed_code(" ABCD-efgh "), "abcdefgh");
    }
}
