//! Throttling, designed once for every guessable secret and every costly unauthenticated
//! action:
//! - per source address, in memory on each node (`governor`'s keyed GCRA limiters): pass
//!   sign-in attempts, passkey sign-in finishes;
//! - per browser session, in memory: registration ceremonies begun;
//! - per account or client, in the store so every node sees it
//!   (`keyfort_core::throttle`, a growing delay, never a lock): pass codes per username,
//!   sign-ins per multi-use pass, client authentication per client and address.
//!
//! Every refusal is a 429 with `Retry-After` and the stable code `too_many_attempts`.

use crate::error::ApiError;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;
use keyfort_core::throttle::{Backoff, Reservation};
use keyfort_core::time::SECOND_MS;
use std::net::IpAddr;
use std::num::NonZeroU32;

/// The limits, as configured (0 turns a limit off).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Temporary Access Pass and password sign-in attempts per address per minute (each
    /// costs an Argon2 check; one limit for both).
    pub pass_per_ip_per_minute: u32,
    /// Passkey sign-in finishes per address per minute.
    pub signin_per_ip_per_minute: u32,
    /// Registration ceremonies one browser session may begin per hour.
    pub registrations_per_session_per_hour: u32,
    /// Proxies whose `X-Forwarded-For` is believed, nearest hop first.
    pub trusted_proxies: Vec<IpNet>,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            pass_per_ip_per_minute: 30,
            signin_per_ip_per_minute: 600,
            registrations_per_session_per_hour: 30,
            trusted_proxies: Vec::new(),
        }
    }
}

/// Attempts at a pass code, per username (known or not, so the answer never says which).
pub const PASS_BACKOFF: Backoff = Backoff::TYPED_SECRET;

/// Attempts at a password, per username (known or not, so the answer never says which).
pub const PASSWORD_BACKOFF: Backoff = Backoff::TYPED_SECRET;

/// Attempts at an authenticator-app code, per user (after a right password, or while
/// enrolling): a million codes, and six tries before any delay.
pub const TOTP_BACKOFF: Backoff = Backoff::TYPED_SECRET;

/// Sign-ins with one multi-use pass: ten back to back, then a growing delay (a minute,
/// doubling to 15 minutes) until an hour passes without one.
pub const PASS_USE_BACKOFF: Backoff = Backoff {
    free_failures: 10,
    first_delay_ms: 60 * SECOND_MS,
    max_delay_ms: 15 * 60 * SECOND_MS,
    forget_after_ms: 60 * 60 * SECOND_MS,
};

/// Failed client authentications, per client and address. Client secrets are 256-bit
/// and cannot be guessed; the delay bounds the work an address can make Keyfort do, and
/// is keyed by address too, so nobody elsewhere can delay a client's own requests.
pub const CLIENT_BACKOFF: Backoff = Backoff {
    free_failures: 10,
    first_delay_ms: SECOND_MS,
    max_delay_ms: 60 * SECOND_MS,
    forget_after_ms: 10 * 60 * SECOND_MS,
};

/// The store's throttle key for attempts at a secret of `kind` typed with a username:
/// the name as sign-in normalises it (known or not, so a delay says nothing about which
/// names exist, and case or spacing cannot open a fresh count), bounded.
pub fn typed_name_key(kind: &str, username: &str) -> String {
    let normalized = keyfort_core::username::normalize(username);
    let name: String = normalized
        .as_deref()
        .unwrap_or(username)
        .chars()
        .take(128)
        .flat_map(char::to_lowercase)
        .collect();
    format!("{kind}:{name}")
}

/// What a limit is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    PassSignIn,
    PasswordSignIn,
    PasskeySignIn,
}

pub struct Throttles {
    pass: Option<DefaultKeyedRateLimiter<IpAddr>>,
    signin: Option<DefaultKeyedRateLimiter<IpAddr>>,
    registrations: Option<DefaultKeyedRateLimiter<String>>,
    pub trusted_proxies: Vec<IpNet>,
}

fn per_minute(n: u32) -> Option<DefaultKeyedRateLimiter<IpAddr>> {
    NonZeroU32::new(n).map(|n| RateLimiter::keyed(Quota::per_minute(n)))
}

impl Throttles {
    pub fn new(c: &ThrottleConfig) -> Throttles {
        Throttles {
            pass: per_minute(c.pass_per_ip_per_minute),
            signin: per_minute(c.signin_per_ip_per_minute),
            registrations: NonZeroU32::new(c.registrations_per_session_per_hour)
                .map(|n| RateLimiter::keyed(Quota::per_hour(n))),
            trusted_proxies: c.trusted_proxies.clone(),
        }
    }

    /// One `action` from `ip` (unknown: not throttled by address; the store's limits still apply).
    pub fn check_ip(&self, action: Action, ip: Option<IpAddr>) -> Result<(), ApiError> {
        let limiter = match action {
            Action::PassSignIn | Action::PasswordSignIn => &self.pass,
            Action::PasskeySignIn => &self.signin,
        };
        match (limiter, ip) {
            (Some(limiter), Some(ip)) => limiter.check_key(&ip).map_err(refusal),
            _ => Ok(()),
        }
    }

    /// One registration ceremony begun by the browser session `session_id`.
    pub fn check_registration(&self, session_id: &str) -> Result<(), ApiError> {
        match &self.registrations {
            Some(limiter) => limiter.check_key(&session_id.to_string()).map_err(refusal),
            None => Ok(()),
        }
    }

    /// Forgets addresses and sessions whose limits are full again (bounded memory).
    pub fn forget_idle(&self) {
        for l in [&self.pass, &self.signin].into_iter().flatten() {
            l.retain_recent();
            l.shrink_to_fit();
        }
        if let Some(l) = &self.registrations {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

/// The refusal when an address or session limit is spent.
fn refusal(not_until: governor::NotUntil<governor::clock::QuantaInstant>) -> ApiError {
    let wait = not_until.wait_time_from(DefaultClock::default().now());
    ApiError::too_many_attempts(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX))
}

/// The refusal when the store's throttle for an account refuses an attempt.
pub fn refused(r: Reservation) -> Result<(), ApiError> {
    match r {
        Reservation::Granted { .. } => Ok(()),
        Reservation::Refused { retry_after_ms } => Err(ApiError::too_many_attempts(retry_after_ms)),
    }
}

/// The address a request came from: the peer, or — when the peer is a trusted proxy —
/// the rightmost `X-Forwarded-For` entry that is not itself a trusted proxy (entries to
/// its left were written by the client and prove nothing).
pub fn client_ip(
    peer: Option<IpAddr>,
    forwarded_for: Option<&str>,
    trusted: &[IpNet],
) -> Option<IpAddr> {
    let peer = peer?;
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let Some(header) = forwarded_for else {
        return Some(peer);
    };
    let mut hops = header.rsplit(',').map(str::trim);
    let mut last = peer;
    for hop in hops.by_ref() {
        let Ok(ip) = hop.parse::<IpAddr>() else {
            // An unparsable hop: stop at the last address a trusted proxy vouched for.
            return Some(last);
        };
        if !is_trusted(&ip) {
            return Some(ip);
        }
        last = ip;
    }
    Some(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        s.parse().ok()
    }

    fn nets(s: &[&str]) -> Vec<IpNet> {
        s.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let peer: IpAddr = "10.0.0.5".parse().unwrap();
        let trusted = nets(&["10.0.0.0/8"]);
        // Untrusted peer: its header is ignored.
        assert_eq!(client_ip(Some(peer), Some("1.2.3.4"), &[]), Some(peer));
        // Trusted proxy: the rightmost untrusted hop, not the client-written leftmost one.
        assert_eq!(
            client_ip(Some(peer), Some("6.6.6.6, 1.2.3.4, 10.0.0.9"), &trusted),
            Some("1.2.3.4".parse().unwrap())
        );
        assert_eq!(
            client_ip(Some(peer), Some("garbage, 10.0.0.9"), &trusted),
            Some("10.0.0.9".parse().unwrap())
        );
        assert_eq!(client_ip(Some(peer), None, &trusted), Some(peer));
        assert_eq!(client_ip(None, Some("1.2.3.4"), &trusted), None);
    }

    #[test]
    fn per_address_limits_refuse_with_a_retry_time() {
        let t = Throttles::new(&ThrottleConfig {
            pass_per_ip_per_minute: 3,
            ..ThrottleConfig::default()
        });
        for _ in 0..3 {
            t.check_ip(Action::PassSignIn, ip("192.0.2.1")).unwrap();
        }
        let e = t.check_ip(Action::PassSignIn, ip("192.0.2.1")).unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (429, "too_many_attempts"));
        assert!(e.retry_after_secs.is_some_and(|s| (1..=20).contains(&s)));
        // Another address, and another action, have their own budgets.
        t.check_ip(Action::PassSignIn, ip("192.0.2.2")).unwrap();
        t.check_ip(Action::PasskeySignIn, ip("192.0.2.1")).unwrap();
        // Off when set to 0.
        let off = Throttles::new(&ThrottleConfig {
            pass_per_ip_per_minute: 0,
            ..ThrottleConfig::default()
        });
        for _ in 0..100 {
            off.check_ip(Action::PassSignIn, ip("192.0.2.1")).unwrap();
        }
    }
}

#[cfg(test)]
mod properties {
    use super::client_ip;
    use proptest::prelude::*;

    proptest! {
        /// Any header at all: the answer is the peer or an address from the header, and an
        /// untrusted peer's header never counts.
        #[test]
        fn forwarded_for_parsing_is_total(header in ".{0,200}", trusted_peer in any::<bool>()) {
            let peer: std::net::IpAddr = "10.1.2.3".parse().unwrap();
            let trusted = if trusted_peer { vec!["10.0.0.0/8".parse().unwrap()] } else { vec![] };
            let ip = client_ip(Some(peer), Some(&header), &trusted);
            prop_assert!(ip.is_some());
            if !trusted_peer {
                prop_assert_eq!(ip, Some(peer));
            }
        }
    }
}
