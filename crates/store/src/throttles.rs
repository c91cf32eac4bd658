//! Attempt throttles for guessable secrets, in the store so every node sees the same
//! count. The decision is `keyfort_core::throttle::reserve`; the store applies it with a
//! compare-and-swap on the row it read, so racing attempts can never both take the last
//! free one, on either backend.

use crate::exec::{Arg, Exec, Kind, fetch_map};
use crate::group_commit::Body;
use crate::{Result, Store};
use keyfort_core::throttle::{AttemptState, Backoff, Reservation, reserve};

/// Attempts to apply a reservation before giving up on a key contended that hard.
const CAS_TRIES: usize = 16;

impl Store {
    /// Reserves one attempt against `key` (for example `tap:<user id>`): on `Granted`
    /// the caller checks the secret and calls [`Store::clear_attempts`] if it was right.
    pub async fn reserve_attempt(
        &self,
        key: &str,
        policy: Backoff,
        now: i64,
    ) -> Result<Reservation> {
        for _ in 0..CAS_TRIES {
            let body = Reserve {
                key: key.to_string(),
                policy,
                now,
            };
            if let Some(r) = self.transact(body).await? {
                return Ok(r);
            }
        }
        // Lost the race every time: that many concurrent attempts is itself a reason to wait.
        Ok(Reservation::Refused {
            retry_after_ms: policy.first_delay_ms,
        })
    }

    /// Forgets the failures against `key` (the secret was right).
    pub async fn clear_attempts(&self, key: &str) -> Result<()> {
        self.transact(Clear(key.to_string())).await
    }

    /// The current state of `key`, if any attempt was made.
    pub async fn attempt_state(&self, key: &str) -> Result<Option<AttemptState>> {
        self.read(Read(key.to_string())).await
    }
}

struct Read(String);

impl Body for Read {
    type Out = Option<AttemptState>;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<Option<AttemptState>> {
        read(e, &self.0).await
    }
}

async fn read<E: Exec>(e: &mut E, key: &str) -> Result<Option<AttemptState>> {
    fetch_map(
        e,
        "SELECT failures, blocked_until, updated_at FROM attempt_throttles WHERE key = $1",
        &[Arg::Text(key)],
        &[Kind::Int, Kind::Int, Kind::Int],
        |c| {
            Ok(AttemptState {
                failures: c.int()?,
                blocked_until: c.int()?,
                updated_at: c.int()?,
            })
        },
    )
    .await
}

struct Reserve {
    key: String,
    policy: Backoff,
    now: i64,
}

impl Body for Reserve {
    /// `None`: another attempt changed the row between the read and the write.
    type Out = Option<Reservation>;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<Option<Reservation>> {
        let current = read(e, &self.key).await?;
        let decision = reserve(&self.policy, current, self.now);
        let Reservation::Granted { next } = decision else {
            return Ok(Some(decision));
        };
        let changed = match current {
            None => {
                e.exec(
                    "INSERT INTO attempt_throttles (key, failures, blocked_until, updated_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO NOTHING",
                    &[
                        Arg::Text(&self.key),
                        Arg::Int(next.failures),
                        Arg::Int(next.blocked_until),
                        Arg::Int(next.updated_at),
                    ],
                )
                .await?
            }
            Some(old) => {
                e.exec(
                    "UPDATE attempt_throttles SET failures = $2, blocked_until = $3, updated_at = $4 \
                     WHERE key = $1 AND failures = $5 AND blocked_until = $6 AND updated_at = $7",
                    &[
                        Arg::Text(&self.key),
                        Arg::Int(next.failures),
                        Arg::Int(next.blocked_until),
                        Arg::Int(next.updated_at),
                        Arg::Int(old.failures),
                        Arg::Int(old.blocked_until),
                        Arg::Int(old.updated_at),
                    ],
                )
                .await?
            }
        };
        Ok((changed == 1).then_some(decision))
    }
}

struct Clear(String);

impl Body for Clear {
    type Out = ();

    async fn run<E: Exec>(&self, e: &mut E) -> Result<()> {
        e.exec(
            "DELETE FROM attempt_throttles WHERE key = $1",
            &[Arg::Text(&self.0)],
        )
        .await?;
        Ok(())
    }
}
