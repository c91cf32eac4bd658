use crate::{Result, Store};
use serde::Serialize;
use sqlx::FromRow;

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

#[derive(Debug, Clone, Serialize, FromRow, PartialEq)]
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
}

#[derive(Debug, Clone, Serialize, FromRow, PartialEq)]
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

impl Store {
    pub async fn log_signin(&self, e: &SignInEvent) -> Result<()> {
        let e = std::sync::Arc::new(e.clone());
        self.transact(move |conn| {
            let e = e.clone();
            Box::pin(async move { insert_signin(conn, &e).await })
        })
        .await
    }

    /// The newest `limit` sign-in rows, newest first.
    pub async fn signin_log(&self, limit: i64) -> Result<Vec<SignInRow>> {
        Ok(sqlx::query_as(
            "SELECT id, at, user_id, username, method, outcome, reason, ip, user_agent FROM signin_log ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The newest `limit` audit rows, newest first.
    pub async fn audit_log(&self, limit: i64) -> Result<Vec<AuditRow>> {
        Ok(sqlx::query_as("SELECT id, at, actor, action, target, before, after FROM audit_log ORDER BY id DESC LIMIT $1")
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }
}

pub(crate) async fn insert_signin(conn: &mut sqlx::AnyConnection, e: &SignInEvent) -> Result<()> {
    sqlx::query(
        "INSERT INTO signin_log (at, user_id, username, method, outcome, reason, ip, user_agent) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(e.at)
    .bind(e.user_id.as_deref())
    .bind(e.username.as_deref())
    .bind(e.method)
    .bind(e.outcome)
    .bind(e.reason)
    .bind(e.ip.as_deref())
    .bind(e.user_agent.as_deref())
    .execute(conn)
    .await?;
    Ok(())
}
