use crate::{Result, Store};
use sqlx::FromRow;

/// Server-side state of a WebAuthn ceremony in progress, kept in the store so
/// any node can finish what another began.
#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct CeremonyRecord {
    pub id: String,
    pub kind: String,
    pub user_id: Option<String>,
    pub session_id: Option<String>,
    pub state: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// The result of taking a ceremony: it is gone from the store in every case.
#[derive(Debug, Clone, PartialEq)]
pub enum Taken {
    Live(CeremonyRecord),
    Expired,
    /// Never existed, already taken, or of another kind.
    Unknown,
}

impl Store {
    pub async fn put_ceremony(&self, c: &CeremonyRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO ceremonies (id, kind, user_id, session_id, state, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&c.id)
        .bind(&c.kind)
        .bind(c.user_id.as_deref())
        .bind(c.session_id.as_deref())
        .bind(&c.state)
        .bind(c.created_at)
        .bind(c.expires_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Takes a ceremony out of the store: one atomic `DELETE … RETURNING`, so a
    /// challenge is handed out at most once however many requests race for it.
    pub async fn take_ceremony(&self, id: &str, kind: &str, now: i64) -> Result<Taken> {
        let row: Option<CeremonyRecord> = sqlx::query_as(
            "DELETE FROM ceremonies WHERE id = $1 RETURNING id, kind, user_id, session_id, state, created_at, expires_at",
        )
        .bind(id)
        .fetch_optional(&self.writer)
        .await?;
        Ok(match row {
            None => Taken::Unknown,
            Some(c) if c.kind != kind => Taken::Unknown,
            Some(c) if now >= c.expires_at => Taken::Expired,
            Some(c) => Taken::Live(c),
        })
    }

    /// Reads a live ceremony without taking it (an authorization request waiting for sign-in).
    pub async fn peek_ceremony(
        &self,
        id: &str,
        kind: &str,
        now: i64,
    ) -> Result<Option<CeremonyRecord>> {
        Ok(sqlx::query_as(
            "SELECT id, kind, user_id, session_id, state, created_at, expires_at FROM ceremonies \
             WHERE id = $1 AND kind = $2 AND expires_at > $3",
        )
        .bind(id)
        .bind(kind)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Removes expired ceremonies, sessions and tokens; returns how many rows went.
    pub async fn purge_expired(&self, now: i64) -> Result<u64> {
        let a = sqlx::query("DELETE FROM ceremonies WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.writer)
            .await?;
        let b = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.writer)
            .await?;
        let c = self.purge_expired_tokens(now).await?;
        Ok(a.rows_affected() + b.rows_affected() + c)
    }
}
