use crate::exec::{Arg, Cols, Exec, Kind, Record};
use crate::group_commit::Body;
use crate::{Result, Store};
use serde::Serialize;

/// One sign-in attempt, successful or not.
#[derive(Debug, Clone, Default)]
pub struct SignInEvent {
    pub at: i64,
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub method: &'static str,
    pub outcome: &'static str,
    pub reason: &'static str,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SignInRow {
    pub id: i64,
    pub at: i64,
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub method: String,
    pub outcome: String,
    pub reason: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Identical refusals from one address within a minute collapse into one row.
    pub attempts: i64,
    /// The last of those attempts (`None` for a row of one).
    pub last_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AuditRow {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// A sign-in row as `id, at, user_id, username, method, outcome, reason, ip, user_agent,
/// attempts, last_at`.
impl Record for SignInRow {
    const KINDS: &'static [Kind] = {
        use Kind::{Int, OptInt, OptText, Text};
        &[
            Int, Int, OptText, OptText, Text, Text, Text, OptText, OptText, Int, OptInt,
        ]
    };

    fn from_cols(c: &mut Cols) -> Result<SignInRow> {
        Ok(SignInRow {
            id: c.int()?,
            at: c.int()?,
            user_id: c.opt_text()?,
            username: c.opt_text()?,
            method: c.text()?,
            outcome: c.text()?,
            reason: c.text()?,
            ip: c.opt_text()?,
            user_agent: c.opt_text()?,
            attempts: c.int()?,
            last_at: c.opt_int()?,
        })
    }
}

/// An audit row as `id, at, actor, action, target, before, after`.
impl Record for AuditRow {
    const KINDS: &'static [Kind] = {
        use Kind::{Int, OptText, Text};
        &[Int, Int, Text, Text, OptText, OptText, OptText]
    };

    fn from_cols(c: &mut Cols) -> Result<AuditRow> {
        Ok(AuditRow {
            id: c.int()?,
            at: c.int()?,
            actor: c.text()?,
            action: c.text()?,
            target: c.opt_text()?,
            before: c.opt_text()?,
            after: c.opt_text()?,
        })
    }
}

impl Store {
    /// A sign-in log row; for a refused finish of a sealed ceremony, the ceremony's id
    /// spent in the same commit.
    pub async fn log_signin(
        &self,
        e: &SignInEvent,
        spent: Option<&crate::SpentCeremony>,
    ) -> Result<()> {
        self.transact(LogSignin {
            event: e.clone(),
            spent: spent.cloned(),
            pass_failure: None,
        })
        .await
    }

    /// A refused pass sign-in's log row and, in the same commit, the wrong code counted
    /// against the pass.
    pub async fn log_pass_failure(&self, e: &SignInEvent, pass_id: &str) -> Result<()> {
        self.transact(LogSignin {
            event: e.clone(),
            spent: None,
            pass_failure: Some(pass_id.to_string()),
        })
        .await
    }

    /// The newest `limit` sign-in rows, newest first.
    pub async fn signin_log(&self, limit: i64) -> Result<Vec<SignInRow>> {
        const SQL: &str = "SELECT id, at, user_id, username, method, outcome, reason, ip, \
             user_agent, attempts, last_at FROM signin_log ORDER BY id DESC LIMIT $1";
        self.records(SQL, &[Arg::Int(limit)]).await
    }

    /// Removes sign-in log rows older than `before` (the retention setting), in chunks.
    pub async fn purge_signin_log(&self, before: i64) -> Result<u64> {
        self.purge_in_chunks(
            "DELETE FROM signin_log WHERE id IN \
             (SELECT id FROM signin_log WHERE at < $1 LIMIT $2)",
            before,
        )
        .await
    }

    /// The newest `limit` audit rows, newest first.
    pub async fn audit_log(&self, limit: i64) -> Result<Vec<AuditRow>> {
        const SQL: &str = "SELECT id, at, actor, action, target, before, after FROM audit_log \
             ORDER BY id DESC LIMIT $1";
        self.records(SQL, &[Arg::Int(limit)]).await
    }
}

/// A sign-in log row, with the sealed ceremony it spent (a refused finish) or the pass
/// a wrong code counts against.
struct LogSignin {
    event: SignInEvent,
    spent: Option<crate::SpentCeremony>,
    pass_failure: Option<String>,
}

impl Body for LogSignin {
    type Out = ();

    async fn run<E: Exec>(&self, e: &mut E) -> Result<()> {
        if let Some(c) = &self.spent {
            crate::ceremonies::spend(e, c).await?;
        }
        if let Some(pass) = &self.pass_failure {
            crate::passes::count_failure(e, pass).await?;
        }
        insert_signin(e, &self.event).await
    }
}

/// A refusal identical in everything but time to the last row from its address, within
/// this window of that row's first attempt, is counted on that row instead of writing one.
pub const COLLAPSE_WINDOW_MS: i64 = 60_000;

pub(crate) async fn insert_signin<E: Exec>(e: &mut E, ev: &SignInEvent) -> Result<()> {
    if ev.outcome == "failure" && ev.ip.is_some() {
        let collapsed = e
            .exec(
                "UPDATE signin_log SET attempts = attempts + 1, last_at = $1 WHERE id = (\
                 SELECT id FROM signin_log WHERE ip = $2 ORDER BY id DESC LIMIT 1) \
                 AND at >= $4 AND outcome = 'failure' AND reason = $3 AND method = $5 \
                 AND user_id IS NOT DISTINCT FROM $6 AND username IS NOT DISTINCT FROM $7 \
                 AND user_agent IS NOT DISTINCT FROM $8",
                &[
                    Arg::Int(ev.at),
                    Arg::OptText(ev.ip.as_deref()),
                    Arg::Text(ev.reason),
                    Arg::Int(ev.at.saturating_sub(COLLAPSE_WINDOW_MS)),
                    Arg::Text(ev.method),
                    Arg::OptText(ev.user_id.as_deref()),
                    Arg::OptText(ev.username.as_deref()),
                    Arg::OptText(ev.user_agent.as_deref()),
                ],
            )
            .await?;
        if collapsed > 0 {
            return Ok(());
        }
    }
    e.exec(
        "INSERT INTO signin_log (at, user_id, username, method, outcome, reason, ip, user_agent) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            Arg::Int(ev.at),
            Arg::OptText(ev.user_id.as_deref()),
            Arg::OptText(ev.username.as_deref()),
            Arg::Text(ev.method),
            Arg::Text(ev.outcome),
            Arg::Text(ev.reason),
            Arg::OptText(ev.ip.as_deref()),
            Arg::OptText(ev.user_agent.as_deref()),
        ],
    )
    .await?;
    Ok(())
}
