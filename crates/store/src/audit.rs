use crate::Result;
use crate::exec::{Arg, Exec};

/// One row of the audit log: who changed what, with a before/after summary.
#[derive(Debug, Clone, Default)]
pub struct AuditEvent {
    pub at: i64,
    pub actor: String,
    pub action: &'static str,
    pub target: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

impl AuditEvent {
    pub fn new(at: i64, actor: &str, action: &'static str, target: impl Into<String>) -> Self {
        AuditEvent {
            at,
            actor: actor.to_string(),
            action,
            target: Some(target.into()),
            before: None,
            after: None,
        }
    }

    pub fn before(mut self, v: serde_json::Value) -> Self {
        self.before = Some(v);
        self
    }

    pub fn after(mut self, v: serde_json::Value) -> Self {
        self.after = Some(v);
        self
    }
}

const INSERT: &str = "INSERT INTO audit_log (at, actor, action, target, before, after) VALUES ($1, $2, $3, $4, $5, $6)";

/// The audit row, written on the connection of the change it records (inside its
/// transaction): a body's, or a bulk import's.
pub(crate) async fn write_with<E: Exec>(e: &mut E, ev: &AuditEvent) -> Result<()> {
    let before = ev.before.as_ref().map(|v| v.to_string());
    let after = ev.after.as_ref().map(|v| v.to_string());
    e.exec(
        INSERT,
        &[
            Arg::Int(ev.at),
            Arg::Text(&ev.actor),
            Arg::Text(ev.action),
            Arg::OptText(ev.target.as_deref()),
            Arg::OptText(before.as_deref()),
            Arg::OptText(after.as_deref()),
        ],
    )
    .await?;
    Ok(())
}

/// An audit row that records an observation rather than a change (a passkey of a
/// reported model presented at sign-in): written in a commit of its own.
struct Observed(AuditEvent);

impl crate::group_commit::Body for Observed {
    type Out = ();

    async fn run<E: Exec>(&self, e: &mut E) -> Result<()> {
        write_with(e, &self.0).await
    }
}

impl crate::Store {
    pub async fn record_observation(&self, ev: AuditEvent) -> Result<()> {
        self.transact(Observed(ev)).await
    }
}

/// Deletes a user's one row of a method (`sql` takes the user id as `$1`) and, when
/// there was one, writes `action` for it: the removal and its audit row in one commit.
pub(crate) struct DeleteAudited {
    pub sql: &'static str,
    pub action: &'static str,
    pub user_id: String,
    pub username: String,
    pub actor: String,
    pub now: i64,
}

impl crate::group_commit::Body for DeleteAudited {
    /// Whether there was one.
    type Out = bool;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<bool> {
        if e.exec(self.sql, &[Arg::Text(&self.user_id)]).await? == 0 {
            return Ok(false);
        }
        let ev = AuditEvent::new(self.now, &self.actor, self.action, &self.username);
        write_with(e, &ev).await?;
        Ok(true)
    }
}
