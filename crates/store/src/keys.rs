use crate::audit::{self, AuditEvent};
use crate::{Result, Store};
use sqlx::FromRow;

/// A token signing key; `private_key` is encrypted by the caller before it gets here.
#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub alg: String,
    pub private_key: String,
    pub public_jwk: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

impl Store {
    pub async fn add_signing_key(&self, k: &SigningKeyRecord, actor: &str) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        // The newest key of an algorithm signs; older ones are retired but still published.
        sqlx::query(
            "UPDATE signing_keys SET retired_at = $1 WHERE alg = $2 AND retired_at IS NULL",
        )
        .bind(k.created_at)
        .bind(&k.alg)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, private_key, public_jwk, created_at, retired_at) VALUES ($1, $2, $3, $4, $5, NULL)",
        )
        .bind(&k.kid)
        .bind(&k.alg)
        .bind(&k.private_key)
        .bind(&k.public_jwk)
        .bind(k.created_at)
        .execute(&mut *tx)
        .await?;
        let ev = AuditEvent::new(k.created_at, actor, "signing_key.added", &k.kid)
            .after(serde_json::json!({ "alg": k.alg }));
        audit::write(&mut tx, &ev).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Keys still worth publishing: active ones, and retired ones retired after `published_since`.
    pub async fn signing_keys(&self, published_since: i64) -> Result<Vec<SigningKeyRecord>> {
        Ok(sqlx::query_as(
            "SELECT kid, alg, private_key, public_jwk, created_at, retired_at FROM signing_keys \
             WHERE retired_at IS NULL OR retired_at > $1 ORDER BY created_at DESC, kid",
        )
        .bind(published_since)
        .fetch_all(&self.pool)
        .await?)
    }
}
