use crate::audit::{self, AuditEvent};
use crate::exec::{Arg, Cols, Kind, Record};
use crate::{Result, Store};

/// A token signing key; `private_key` is encrypted by the caller before it gets here.
#[derive(Debug, Clone, PartialEq)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub alg: String,
    pub private_key: String,
    pub public_jwk: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

/// A key as `kid, alg, private_key, public_jwk, created_at, retired_at`.
impl Record for SigningKeyRecord {
    const KINDS: &'static [Kind] = {
        use Kind::{Int, OptInt, Text};
        &[Text, Text, Text, Text, Int, OptInt]
    };

    fn from_cols(c: &mut Cols) -> Result<SigningKeyRecord> {
        Ok(SigningKeyRecord {
            kid: c.text()?,
            alg: c.text()?,
            private_key: c.text()?,
            public_jwk: c.text()?,
            created_at: c.int()?,
            retired_at: c.opt_int()?,
        })
    }
}

/// A key's id and its sealed private key.
pub struct SealedKey {
    pub kid: String,
    pub sealed: String,
}

impl Record for SealedKey {
    const KINDS: &'static [Kind] = &[Kind::Text, Kind::Text];

    fn from_cols(c: &mut Cols) -> Result<SealedKey> {
        Ok(SealedKey {
            kid: c.text()?,
            sealed: c.text()?,
        })
    }
}

/// One signing key sealed again: `old` is the stored text it replaces.
#[derive(Debug, Clone)]
pub struct Reseal {
    pub kid: String,
    pub old: String,
    pub new: String,
}

impl Store {
    /// Every stored signing key's id and sealed private key, published or not.
    pub async fn sealed_signing_keys(&self) -> Result<Vec<SealedKey>> {
        self.records(
            "SELECT kid, private_key FROM signing_keys ORDER BY kid",
            &[],
        )
        .await
    }

    /// Replaces sealed private keys in one transaction, each with its audit row. A key
    /// another node sealed again first (its text is no longer `old`) is left alone.
    /// Returns how many were replaced.
    pub async fn reseal_signing_keys(
        &self,
        keys: &[Reseal],
        actor: &str,
        now: i64,
    ) -> Result<usize> {
        let mut tx = self.writer.begin().await?;
        let mut done = 0usize;
        for k in keys {
            let changed = sqlx::query(
                "UPDATE signing_keys SET private_key = $1 WHERE kid = $2 AND private_key = $3",
            )
            .bind(&k.new)
            .bind(&k.kid)
            .bind(&k.old)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed == 1 {
                done += 1;
                let ev = AuditEvent::new(now, actor, "signing_key.resealed", &k.kid)
                    .after(serde_json::json!({ "sealedUnder": "signing-keys-at-rest subkey" }));
                audit::write(&mut tx, &ev).await?;
            }
        }
        tx.commit().await?;
        Ok(done)
    }

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
        const SQL: &str = "SELECT kid, alg, private_key, public_jwk, created_at, retired_at \
             FROM signing_keys WHERE retired_at IS NULL OR retired_at > $1 \
             ORDER BY created_at DESC, kid";
        self.records(SQL, &[Arg::Int(published_since)]).await
    }
}
