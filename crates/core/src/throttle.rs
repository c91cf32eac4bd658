//! Attempts against a guessable secret (a pass code, a client secret, later a password or
//! a one-time code) are throttled per account by a growing delay, never a permanent lock:
//! a lock an attacker can trigger for someone else would be a denial of service.
//!
//! An attempt is *reserved* before the secret is checked (the store applies [`reserve`]
//! with a compare-and-swap), and the reservation counts as a failure until the check
//! succeeds and clears it. However many attempts race, no more than `free_failures`
//! are checked before the delay starts, and after that one per delay.

use crate::time::{Millis, SECOND_MS};
use serde::Serialize;

/// How attempts against one account's secret are spaced out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Failures allowed back to back before any delay.
    pub free_failures: i64,
    /// The delay after the first failure past the free ones; it doubles with each one after.
    pub first_delay_ms: Millis,
    /// The delay never grows past this.
    pub max_delay_ms: Millis,
    /// A quiet spell this long (no attempt at all) forgets earlier failures.
    pub forget_after_ms: Millis,
}

impl Backoff {
    /// Secrets a person types: five tries, then 1 s, 2 s, 4 s … up to 15 minutes; an hour
    /// of quiet forgets. At the cap that is four guesses an hour.
    pub const TYPED_SECRET: Backoff = Backoff {
        free_failures: 5,
        first_delay_ms: SECOND_MS,
        max_delay_ms: 15 * 60 * SECOND_MS,
        forget_after_ms: 60 * 60 * SECOND_MS,
    };

    /// The delay after `failures` failures in a row (0 while they are free).
    pub fn delay_after(&self, failures: i64) -> Millis {
        let past_free = failures.saturating_sub(self.free_failures);
        if past_free <= 0 {
            return 0;
        }
        // Doubling from first_delay: 2^(past_free-1), saturating well before overflow.
        let shift = u32::try_from(past_free.saturating_sub(1))
            .unwrap_or(u32::MAX)
            .min(40);
        self.first_delay_ms
            .saturating_mul(1i64 << shift)
            .min(self.max_delay_ms)
    }
}

/// What the store keeps per throttled key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttemptState {
    /// Failures (and attempts still being checked) in a row.
    pub failures: i64,
    /// No attempt is checked before this time.
    pub blocked_until: Millis,
    /// The last attempt.
    pub updated_at: Millis,
}

/// The answer to "may one more attempt be checked now?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// Check the attempt; store `next` first (the attempt counts as a failure until cleared).
    Granted { next: AttemptState },
    /// Too many failures: try again after this many milliseconds.
    Refused { retry_after_ms: Millis },
}

/// How long until an attempt may be checked again, if the key is in its delay now.
pub fn blocked_for(state: Option<AttemptState>, now: Millis) -> Option<Millis> {
    let until = state?.blocked_until;
    (now < until).then(|| until.saturating_sub(now))
}

/// Decides whether an attempt may be checked now, from the stored state (none: no
/// attempt yet).
pub fn reserve(policy: &Backoff, state: Option<AttemptState>, now: Millis) -> Reservation {
    if let Some(retry_after_ms) = blocked_for(state, now) {
        return Reservation::Refused { retry_after_ms };
    }
    let state = state.unwrap_or_default();
    let forgotten = now.saturating_sub(state.updated_at) >= policy.forget_after_ms;
    let previous = if forgotten { 0 } else { state.failures.max(0) };
    let failures = previous.saturating_add(1);
    Reservation::Granted {
        next: AttemptState {
            failures,
            blocked_until: now.saturating_add(policy.delay_after(failures)),
            updated_at: now,
        },
    }
}

/// Whole seconds to put in `Retry-After` (RFC 9110 §10.2.3), at least one.
pub fn retry_after_secs(retry_after_ms: Millis) -> i64 {
    retry_after_ms
        .saturating_add(SECOND_MS - 1)
        .div_euclid(SECOND_MS)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: Backoff = Backoff::TYPED_SECRET;

    fn granted(r: Reservation) -> AttemptState {
        match r {
            Reservation::Granted { next } => next,
            Reservation::Refused { retry_after_ms } => panic!("refused for {retry_after_ms} ms"),
        }
    }

    #[test]
    fn free_failures_then_a_doubling_delay_up_to_the_cap() {
        assert_eq!(P.delay_after(0), 0);
        assert_eq!(P.delay_after(5), 0);
        assert_eq!(P.delay_after(6), 1_000);
        assert_eq!(P.delay_after(7), 2_000);
        assert_eq!(P.delay_after(10), 16_000);
        assert_eq!(P.delay_after(16), 900_000);
        assert_eq!(P.delay_after(i64::MAX), 900_000);
    }

    #[test]
    fn racing_attempts_are_refused_once_the_delay_starts() {
        // However many arrive at the same instant, only the free ones and one more are checked.
        let mut state = None;
        let mut checked = 0;
        for _ in 0..100 {
            match reserve(&P, state, 1_000_000) {
                Reservation::Granted { next } => {
                    checked += 1;
                    state = Some(next);
                }
                Reservation::Refused { retry_after_ms } => assert_eq!(retry_after_ms, 1_000),
            }
        }
        assert_eq!(checked, 6);
    }

    #[test]
    fn the_delay_passes_and_a_quiet_hour_forgets() {
        let mut s = None;
        for _ in 0..6 {
            s = Some(granted(reserve(&P, s, 0)));
        }
        assert!(matches!(
            reserve(&P, s, 999),
            Reservation::Refused { retry_after_ms: 1 }
        ));
        let after = granted(reserve(&P, s, 1_000));
        assert_eq!((after.failures, after.blocked_until), (7, 3_000));
        let later = granted(reserve(&P, Some(after), 3_000 + 60 * 60 * 1000));
        assert_eq!((later.failures, later.blocked_until), (1, later.updated_at));
    }

    #[test]
    fn blocked_only_inside_the_delay() {
        let s = AttemptState {
            failures: 6,
            blocked_until: 5_000,
            updated_at: 4_000,
        };
        assert_eq!(blocked_for(None, 0), None);
        assert_eq!(blocked_for(Some(s), 4_000), Some(1_000));
        assert_eq!(blocked_for(Some(s), 5_000), None);
        assert_eq!(blocked_for(Some(s), i64::MIN), Some(i64::MAX));
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(1), 1);
        assert_eq!(retry_after_secs(1_000), 1);
        assert_eq!(retry_after_secs(1_001), 2);
        assert_eq!(retry_after_secs(0), 1);
        assert_eq!(retry_after_secs(i64::MAX), i64::MAX / 1000, "saturates");
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the stored state and the clock say, deciding never panics or
        /// overflows, a refusal always names a positive wait, and a grant never stores
        /// fewer failures than it counted.
        #[test]
        fn reserve_is_total(failures in any::<i64>(), blocked in any::<i64>(),
                            updated in any::<i64>(), now in any::<i64>()) {
            let state = AttemptState { failures, blocked_until: blocked, updated_at: updated };
            match reserve(&Backoff::TYPED_SECRET, Some(state), now) {
                Reservation::Refused { retry_after_ms } => prop_assert!(retry_after_ms > 0),
                Reservation::Granted { next } => {
                    prop_assert!(next.failures >= 1);
                    prop_assert!(next.blocked_until >= now);
                    prop_assert_eq!(next.updated_at, now);
                }
            }
        }

        /// However many attempts arrive within one instant, at most the free ones and one
        /// more are granted; the delay never shrinks as failures grow.
        #[test]
        fn bursts_never_pass_the_limit(n in 1usize..500, start in 0i64..1_000_000_000_000) {
            let p = Backoff::TYPED_SECRET;
            let mut state = None;
            let mut granted = 0i64;
            for _ in 0..n {
                if let Reservation::Granted { next } = reserve(&p, state, start) {
                    granted += 1;
                    state = Some(next);
                }
            }
            prop_assert!(granted <= p.free_failures + 1);
            for f in 0..64 {
                prop_assert!(p.delay_after(f) <= p.delay_after(f + 1));
            }
        }
    }
}
