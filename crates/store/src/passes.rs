use crate::audit::{self, AuditEvent};
use crate::exec::{Arg, Cols, Exec, Kind, Record, fetch_record};
use crate::group_commit::Body;
use crate::{Result, Store, flag};
use keyfort_core::tap::PassState;
use serde::Serialize;

/// A Temporary Access Pass as stored: the code only as a hash.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PassRecord {
    pub id: String,
    pub user_id: String,
    #[serde(skip)]
    pub code_hash: String,
    pub created_at: i64,
    pub start_at: i64,
    pub lifetime_minutes: i64,
    pub one_time: bool,
    pub used_at: Option<i64>,
    pub failed_attempts: i64,
    pub created_by: String,
}

impl PassRecord {
    pub fn state(&self) -> PassState {
        PassState {
            start_at: self.start_at,
            lifetime_minutes: self.lifetime_minutes,
            one_time: self.one_time,
            used_at: self.used_at,
            failed_attempts: self.failed_attempts,
        }
    }
}

macro_rules! pass_columns {
    () => {
        "id, user_id, code_hash, created_at, start_at, lifetime_minutes, one_time, used_at, failed_attempts, created_by"
    };
}

impl Store {
    /// Stores a new pass for the user, replacing any previous one (one pass per user);
    /// audited in the same commit. Whether it replaced one.
    pub async fn put_pass(&self, pass: &PassRecord, username: &str, actor: &str) -> Result<bool> {
        self.transact(PutPass {
            pass: pass.clone(),
            username: username.to_string(),
            actor: actor.to_string(),
        })
        .await
    }

    pub async fn pass_of_user(&self, user_id: &str) -> Result<Option<PassRecord>> {
        self.read(PassOfUser(user_id.to_string())).await
    }

    /// Revokes the user's pass, if they have one: the pass, every session signed in with
    /// a pass and the grants of those sessions go in one commit with the audit row
    /// (`tap.revoked`), so nothing the pass let in outlives it.
    pub async fn revoke_pass(
        &self,
        user_id: &str,
        username: &str,
        actor: &str,
        now: i64,
    ) -> Result<Option<RevokedPass>> {
        self.transact(RevokePass {
            user_id: user_id.to_string(),
            username: username.to_string(),
            actor: actor.to_string(),
            now,
        })
        .await
    }
}

/// A revoked pass and what it had let in.
#[derive(Debug, Clone, PartialEq)]
pub struct RevokedPass {
    pub pass: PassRecord,
    pub sessions_ended: u64,
    pub grants_revoked: u64,
}

struct RevokePass {
    user_id: String,
    username: String,
    actor: String,
    now: i64,
}

impl Body for RevokePass {
    type Out = Option<RevokedPass>;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<Option<RevokedPass>> {
        let Some(pass) = PassOfUser(self.user_id.clone()).run(e).await? else {
            return Ok(None);
        };
        let user = Arg::Text(&self.user_id);
        let grants_revoked = e
            .exec(
                "UPDATE grants SET revoked_at = $2 WHERE revoked_at IS NULL AND session_id IN \
                 (SELECT id FROM sessions WHERE user_id = $1 AND method = 'temporary_access_pass')",
                &[user, Arg::Int(self.now)],
            )
            .await?;
        let sessions_ended = e
            .exec(
                "DELETE FROM sessions WHERE user_id = $1 AND method = 'temporary_access_pass'",
                &[user],
            )
            .await?;
        e.exec(
            "DELETE FROM temporary_access_passes WHERE id = $1",
            &[Arg::Text(&pass.id)],
        )
        .await?;
        let ev = AuditEvent::new(self.now, &self.actor, "tap.revoked", &self.username)
            .before(serde_json::json!({
                "passId": pass.id, "lifetimeInMinutes": pass.lifetime_minutes,
                "isUsableOnce": pass.one_time, "startDateTime": pass.start_at,
            }))
            .after(serde_json::json!({
                "sessionsEnded": sessions_ended, "grantsRevoked": grants_revoked,
            }));
        audit::write_with(e, &ev).await?;
        Ok(Some(RevokedPass {
            pass,
            sessions_ended,
            grants_revoked,
        }))
    }
}

/// A pass as [`pass_columns`] lists its columns, in that order.
impl Record for PassRecord {
    const KINDS: &'static [Kind] = {
        use Kind::{Int, OptInt, Text};
        &[Text, Text, Text, Int, Int, Int, Int, OptInt, Int, Text]
    };

    fn from_cols(c: &mut Cols) -> Result<PassRecord> {
        Ok(PassRecord {
            id: c.text()?,
            user_id: c.text()?,
            code_hash: c.text()?,
            created_at: c.int()?,
            start_at: c.int()?,
            lifetime_minutes: c.int()?,
            one_time: c.flag()?,
            used_at: c.opt_int()?,
            failed_attempts: c.int()?,
            created_by: c.text()?,
        })
    }
}

struct PassOfUser(String);

impl Body for PassOfUser {
    type Out = Option<PassRecord>;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<Self::Out> {
        const SQL: &str = concat!(
            "SELECT ",
            pass_columns!(),
            " FROM temporary_access_passes WHERE user_id = $1"
        );
        fetch_record(e, SQL, &[Arg::Text(&self.0)]).await
    }
}

/// Marks a pass used, in the sign-in's own commit. For a one-time pass only the first
/// caller wins (`false` for every later one), so a pass cannot be spent twice by racing
/// requests.
pub(crate) async fn spend<E: Exec>(e: &mut E, pass_id: &str, now: i64) -> Result<bool> {
    let n = e
        .exec(
            "UPDATE temporary_access_passes SET used_at = $1 WHERE id = $2 AND (one_time = 0 OR used_at IS NULL)",
            &[Arg::Int(now), Arg::Text(pass_id)],
        )
        .await?;
    Ok(n == 1)
}

/// Counts a wrong code against the pass, in the commit of the refusal's log row.
pub(crate) async fn count_failure<E: Exec>(e: &mut E, pass_id: &str) -> Result<()> {
    e.exec(
        "UPDATE temporary_access_passes SET failed_attempts = failed_attempts + 1 WHERE id = $1",
        &[Arg::Text(pass_id)],
    )
    .await?;
    Ok(())
}

struct PutPass {
    pass: PassRecord,
    username: String,
    actor: String,
}

impl Body for PutPass {
    type Out = bool;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<bool> {
        let p = &self.pass;
        let replaced = e
            .exec(
                "DELETE FROM temporary_access_passes WHERE user_id = $1",
                &[Arg::Text(&p.user_id)],
            )
            .await?
            > 0;
        e.exec(
            "INSERT INTO temporary_access_passes (id, user_id, code_hash, created_at, start_at, \
             lifetime_minutes, one_time, used_at, failed_attempts, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, 0, $8)",
            &[
                Arg::Text(&p.id),
                Arg::Text(&p.user_id),
                Arg::Text(&p.code_hash),
                Arg::Int(p.created_at),
                Arg::Int(p.start_at),
                Arg::Int(p.lifetime_minutes),
                Arg::Int(flag(p.one_time)),
                Arg::Text(&p.created_by),
            ],
        )
        .await?;
        let ev = AuditEvent::new(p.created_at, &self.actor, "tap.issued", &self.username).after(
            serde_json::json!({
                "passId": p.id, "lifetimeInMinutes": p.lifetime_minutes, "isUsableOnce": p.one_time,
                "startDateTime": p.start_at, "replacedPrevious": replaced,
            }),
        );
        audit::write_with(e, &ev).await?;
        Ok(replaced)
    }
}
