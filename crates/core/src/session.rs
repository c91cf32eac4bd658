//! Browser sessions: how a session was established and what it may do.

use crate::decision::Decision;
use crate::tap::ONE_TIME_REGISTRATION_WINDOW_MS;
use crate::time::{HOUR_MS, MINUTE_MS, Millis};
use serde::{Deserialize, Serialize};

/// Passkey registration needs a strong sign-in at most this long ago.
pub const FRESH_SIGNIN_FOR_REGISTRATION_MS: Millis = 5 * MINUTE_MS;
pub const DEFAULT_SESSION_LIFETIME_MS: Millis = 8 * HOUR_MS;
pub const DEFAULT_SESSION_IDLE_MS: Millis = HOUR_MS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignInMethod {
    Passkey,
    TemporaryAccessPass,
    /// A password alone: only for someone who holds no second factor
    /// (`password_signin::assess_password`).
    Password,
    /// A password and an authenticator-app code: multi-factor.
    PasswordTotp,
}

impl SignInMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            SignInMethod::Passkey => "passkey",
            SignInMethod::TemporaryAccessPass => "temporary_access_pass",
            SignInMethod::Password => "password",
            SignInMethod::PasswordTotp => "password_totp",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "passkey" => Some(SignInMethod::Passkey),
            "temporary_access_pass" => Some(SignInMethod::TemporaryAccessPass),
            "password" => Some(SignInMethod::Password),
            "password_totp" => Some(SignInMethod::PasswordTotp),
            _ => None,
        }
    }
}

/// What a session carries that decisions depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionFacts {
    pub method: SignInMethod,
    pub auth_time: Millis,
    pub expires_at: Millis,
    pub last_seen_at: Millis,
    /// For pass sessions: whether the pass was one-time, and when it expires.
    pub pass_one_time: bool,
    pub pass_expires_at: Option<Millis>,
}

/// Session lifetimes from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    pub lifetime_ms: Millis,
    pub idle_ms: Millis,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits {
            lifetime_ms: DEFAULT_SESSION_LIFETIME_MS,
            idle_ms: DEFAULT_SESSION_IDLE_MS,
        }
    }
}

/// When a new session ends: its lifetime, but never after the pass it came from.
pub fn session_expiry(
    limits: SessionLimits,
    now: Millis,
    pass_expires_at: Option<Millis>,
) -> Millis {
    let natural = now + limits.lifetime_ms;
    match pass_expires_at {
        Some(p) => natural.min(p),
        None => natural,
    }
}

/// Whether a session is still alive at `now`.
pub fn session_alive(s: &SessionFacts, limits: SessionLimits, now: Millis) -> Decision {
    if now >= s.expires_at {
        Decision::deny("session_expired")
    } else if now >= s.last_seen_at + limits.idle_ms {
        Decision::deny("session_idle")
    } else {
        Decision::allow("session_alive")
    }
}

/// May this session register a passkey now? A passkey sign-in within 5 minutes,
/// or a pass: a one-time pass leaves a 10-minute window, a multi-use pass its lifetime.
/// A password sign-in within 5 minutes too — but only for a first passkey, which
/// `registration::assess_begin` checks: a password session exists only for someone who
/// holds nothing stronger.
pub fn may_register_passkey(s: &SessionFacts, now: Millis) -> Decision {
    let fresh = now.saturating_sub(s.auth_time) <= FRESH_SIGNIN_FOR_REGISTRATION_MS;
    match s.method {
        SignInMethod::Passkey if fresh => Decision::allow("fresh_passkey_signin"),
        SignInMethod::PasswordTotp if fresh => Decision::allow("fresh_multifactor_signin"),
        SignInMethod::Password if fresh => Decision::allow("fresh_password_signin"),
        SignInMethod::Passkey | SignInMethod::Password | SignInMethod::PasswordTotp => {
            Decision::deny("reauthentication_required")
        }
        SignInMethod::TemporaryAccessPass => {
            let window_end = if s.pass_one_time {
                s.auth_time + ONE_TIME_REGISTRATION_WINDOW_MS
            } else {
                s.pass_expires_at.unwrap_or(s.auth_time)
            };
            let window_end = window_end.min(s.pass_expires_at.unwrap_or(window_end));
            if now < window_end {
                Decision::allow("temporary_access_pass")
            } else {
                Decision::deny("reauthentication_required")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(method: SignInMethod) -> SessionFacts {
        SessionFacts {
            method,
            auth_time: 0,
            expires_at: 8 * HOUR_MS,
            last_seen_at: 0,
            pass_one_time: true,
            pass_expires_at: Some(60 * MINUTE_MS),
        }
    }

    #[test]
    fn passkey_sessions_register_only_within_five_minutes() {
        let s = facts(SignInMethod::Passkey);
        assert!(may_register_passkey(&s, 5 * MINUTE_MS).is_allowed());
        let d = may_register_passkey(&s, 5 * MINUTE_MS + 1);
        assert_eq!(d.reason(), "reauthentication_required");
    }

    #[test]
    fn one_time_pass_leaves_ten_minutes() {
        let s = facts(SignInMethod::TemporaryAccessPass);
        assert!(may_register_passkey(&s, 10 * MINUTE_MS - 1).is_allowed());
        assert!(!may_register_passkey(&s, 10 * MINUTE_MS).is_allowed());
    }

    #[test]
    fn multi_use_pass_lasts_its_lifetime_but_not_beyond() {
        let mut s = facts(SignInMethod::TemporaryAccessPass);
        s.pass_one_time = false;
        assert!(may_register_passkey(&s, 59 * MINUTE_MS).is_allowed());
        assert!(!may_register_passkey(&s, 60 * MINUTE_MS).is_allowed());
        // A one-time pass expiring before the window closes ends it early.
        s.pass_one_time = true;
        s.pass_expires_at = Some(3 * MINUTE_MS);
        assert!(!may_register_passkey(&s, 4 * MINUTE_MS).is_allowed());
    }

    #[test]
    fn sessions_never_outlive_their_pass() {
        let limits = SessionLimits::default();
        assert_eq!(session_expiry(limits, 0, Some(MINUTE_MS)), MINUTE_MS);
        assert_eq!(session_expiry(limits, 0, None), DEFAULT_SESSION_LIFETIME_MS);
    }

    #[test]
    fn sessions_expire_and_idle_out() {
        let limits = SessionLimits {
            lifetime_ms: 100,
            idle_ms: 10,
        };
        let mut s = facts(SignInMethod::Passkey);
        s.expires_at = 100;
        assert!(session_alive(&s, limits, 9).is_allowed());
        assert_eq!(session_alive(&s, limits, 10).reason(), "session_idle");
        s.last_seen_at = 95;
        assert_eq!(session_alive(&s, limits, 100).reason(), "session_expired");
    }
}
