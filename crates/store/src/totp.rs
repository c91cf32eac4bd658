//! Authenticator apps (TOTP): one per user, the secret sealed by the server before it
//! gets here. A code is accepted once: the step it matched is recorded by a conditional
//! update, so of racing sign-ins with one code exactly one moves it.

use crate::audit::{self, AuditEvent};
use crate::exec::{Arg, Cols, Exec, Kind, Record, fetch_record};
use crate::group_commit::Body;
use crate::{Result, Store, StoreError};

/// A user's authenticator app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpRecord {
    pub user_id: String,
    /// Sealed by the server (`aead::Purpose::TotpSecrets`), base64.
    pub secret_sealed: String,
    pub created_at: i64,
    /// The last step a code was accepted for.
    pub last_step: Option<i64>,
    pub last_used_at: Option<i64>,
}

impl Record for TotpRecord {
    const KINDS: &'static [Kind] = &[
        Kind::Text,
        Kind::Text,
        Kind::Int,
        Kind::OptInt,
        Kind::OptInt,
    ];

    fn from_cols(c: &mut Cols) -> Result<TotpRecord> {
        Ok(TotpRecord {
            user_id: c.text()?,
            secret_sealed: c.text()?,
            created_at: c.int()?,
            last_step: c.opt_int()?,
            last_used_at: c.opt_int()?,
        })
    }
}

const TOTP_OF: &str = "SELECT user_id, secret_sealed, created_at, last_step, last_used_at \
                       FROM totp_credentials WHERE user_id = $1";

impl Store {
    pub async fn totp_of_user(&self, user_id: &str) -> Result<Option<TotpRecord>> {
        self.read(TotpOf(user_id.to_string())).await
    }

    /// Saves a newly enrolled app, audited as `totp.registered` in the same commit.
    /// `Conflict("authenticator app")` when the user has one already.
    pub async fn add_totp(&self, record: &TotpRecord, username: &str, actor: &str) -> Result<()> {
        self.transact(AddTotp {
            record: record.clone(),
            username: username.to_string(),
            actor: actor.to_string(),
        })
        .await
    }

    /// Records that a code for `step` was accepted, unless a code for this step or a
    /// later one was accepted first: whether this caller won.
    pub async fn use_totp_step(&self, user_id: &str, step: i64, now: i64) -> Result<bool> {
        self.transact(UseStep {
            user_id: user_id.to_string(),
            step,
            now,
        })
        .await
    }

    /// Removes the user's app, audited as `totp.removed` (by `actor`) in the same commit.
    /// Whether there was one.
    pub async fn remove_totp(
        &self,
        user_id: &str,
        username: &str,
        actor: &str,
        now: i64,
    ) -> Result<bool> {
        self.transact(audit::DeleteAudited {
            sql: "DELETE FROM totp_credentials WHERE user_id = $1",
            action: "totp.removed",
            user_id: user_id.to_string(),
            username: username.to_string(),
            actor: actor.to_string(),
            now,
        })
        .await
    }
}

struct TotpOf(String);

impl Body for TotpOf {
    type Out = Option<TotpRecord>;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<Self::Out> {
        fetch_record(e, TOTP_OF, &[Arg::Text(&self.0)]).await
    }
}

struct AddTotp {
    record: TotpRecord,
    username: String,
    actor: String,
}

impl Body for AddTotp {
    type Out = ();

    async fn run<E: Exec>(&self, e: &mut E) -> Result<()> {
        let r = &self.record;
        let existing: Option<TotpRecord> =
            fetch_record(e, TOTP_OF, &[Arg::Text(&r.user_id)]).await?;
        if existing.is_some() {
            return Err(StoreError::Conflict("authenticator app"));
        }
        e.exec(
            "INSERT INTO totp_credentials (user_id, secret_sealed, created_at, last_step, last_used_at) \
             VALUES ($1, $2, $3, $4, NULL)",
            &[
                Arg::Text(&r.user_id),
                Arg::Text(&r.secret_sealed),
                Arg::Int(r.created_at),
                Arg::OptInt(r.last_step),
            ],
        )
        .await
        .map_err(|e| e.named_conflict("authenticator app"))?;
        let ev = AuditEvent::new(r.created_at, &self.actor, "totp.registered", &self.username);
        audit::write_with(e, &ev).await?;
        Ok(())
    }
}

struct UseStep {
    user_id: String,
    step: i64,
    now: i64,
}

impl Body for UseStep {
    type Out = bool;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<bool> {
        let moved = e
            .exec(
                "UPDATE totp_credentials SET last_step = $1, last_used_at = $2 \
                 WHERE user_id = $3 AND (last_step IS NULL OR last_step < $1)",
                &[
                    Arg::Int(self.step),
                    Arg::Int(self.now),
                    Arg::Text(&self.user_id),
                ],
            )
            .await?;
        Ok(moved == 1)
    }
}
