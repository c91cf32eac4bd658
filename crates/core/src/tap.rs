//! Temporary Access Pass: lifetimes, usability and the pass alphabet.
//!
//! Semantics as in docs/semantics.md ("Temporary Access Pass"). The pass policy
//! (ranges per tenant, targets) arrives with the policy engine; until then the
//! built-in defaults below apply.

use crate::time::{MINUTE_MS, Millis};
use serde::Serialize;

/// Absolute bounds of a pass lifetime, in minutes (10 minutes to 30 days).
pub const MIN_LIFETIME_MINUTES: i64 = 10;
pub const MAX_LIFETIME_MINUTES: i64 = 43_200;
pub const DEFAULT_LIFETIME_MINUTES: i64 = 60;
pub const DEFAULT_LENGTH: usize = 8;
/// A one-time pass used to start registration leaves this long to finish.
pub const ONE_TIME_REGISTRATION_WINDOW_MS: Millis = 10 * MINUTE_MS;

/// Characters of a pass: no look-alikes (0/o, 1/l/i), lowercase so it is easy to read out.
pub const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum Usability {
    EnabledByPolicy,
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

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LifetimeError {
    #[error(
        "a pass lives between {MIN_LIFETIME_MINUTES} and {MAX_LIFETIME_MINUTES} minutes, not {0}"
    )]
    OutOfRange(i64),
}

/// Validates a requested lifetime, falling back to the default.
pub fn lifetime(requested: Option<i64>) -> Result<i64, LifetimeError> {
    let m = requested.unwrap_or(DEFAULT_LIFETIME_MINUTES);
    if !(MIN_LIFETIME_MINUTES..=MAX_LIFETIME_MINUTES).contains(&m) {
        return Err(LifetimeError::OutOfRange(m));
    }
    Ok(m)
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

    #[test]
    fn lifetime_bounds() {
        assert_eq!(lifetime(None), Ok(60));
        assert_eq!(lifetime(Some(10)), Ok(10));
        assert_eq!(lifetime(Some(43_200)), Ok(43_200));
        assert_eq!(lifetime(Some(9)), Err(LifetimeError::OutOfRange(9)));
        assert_eq!(
            lifetime(Some(43_201)),
            Err(LifetimeError::OutOfRange(43_201))
        );
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
