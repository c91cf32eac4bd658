use crate::audit::{self, AuditEvent};
use crate::exec::{Arg, Cols, Exec, Kind, Record};
use crate::group_commit::Body;
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
        self.transact(ResealKeys {
            keys: keys.to_vec(),
            actor: actor.to_string(),
            now,
        })
        .await
    }

    /// Adds a signing key; the newest key of an algorithm signs, older ones are retired
    /// but still published. Audited in the same commit.
    pub async fn add_signing_key(&self, k: &SigningKeyRecord, actor: &str) -> Result<()> {
        self.transact(AddKey {
            key: k.clone(),
            actor: actor.to_string(),
        })
        .await
    }

    /// Keys still worth publishing: active ones, and retired ones retired after `published_since`.
    pub async fn signing_keys(&self, published_since: i64) -> Result<Vec<SigningKeyRecord>> {
        const SQL: &str = "SELECT kid, alg, private_key, public_jwk, created_at, retired_at \
             FROM signing_keys WHERE retired_at IS NULL OR retired_at > $1 \
             ORDER BY created_at DESC, kid";
        self.records(SQL, &[Arg::Int(published_since)]).await
    }
}

struct ResealKeys {
    keys: Vec<Reseal>,
    actor: String,
    now: i64,
}

impl Body for ResealKeys {
    type Out = usize;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<usize> {
        let mut done = 0usize;
        for k in &self.keys {
            let changed = e
                .exec(
                    "UPDATE signing_keys SET private_key = $1 WHERE kid = $2 AND private_key = $3",
                    &[Arg::Text(&k.new), Arg::Text(&k.kid), Arg::Text(&k.old)],
                )
                .await?;
            if changed == 1 {
                done = done.saturating_add(1);
                let ev = AuditEvent::new(self.now, &self.actor, "signing_key.resealed", &k.kid)
                    .after(serde_json::json!({ "sealedUnder": "signing-keys-at-rest subkey" }));
                audit::write_with(e, &ev).await?;
            }
        }
        Ok(done)
    }
}

struct AddKey {
    key: SigningKeyRecord,
    actor: String,
}

impl Body for AddKey {
    type Out = ();

    async fn run<E: Exec>(&self, e: &mut E) -> Result<()> {
        let k = &self.key;
        e.exec(
            "UPDATE signing_keys SET retired_at = $1 WHERE alg = $2 AND retired_at IS NULL",
            &[Arg::Int(k.created_at), Arg::Text(&k.alg)],
        )
        .await?;
        e.exec(
            "INSERT INTO signing_keys (kid, alg, private_key, public_jwk, created_at, retired_at) \
             VALUES ($1, $2, $3, $4, $5, NULL)",
            &[
                Arg::Text(&k.kid),
                Arg::Text(&k.alg),
                Arg::Text(&k.private_key),
                Arg::Text(&k.public_jwk),
                Arg::Int(k.created_at),
            ],
        )
        .await?;
        let ev = AuditEvent::new(k.created_at, &self.actor, "signing_key.added", &k.kid)
            .after(serde_json::json!({ "alg": k.alg }));
        audit::write_with(e, &ev).await
    }
}
