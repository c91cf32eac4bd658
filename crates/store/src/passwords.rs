//! Passwords, stored only as hashes: set one at a time, or imported in one transaction
//! from an organisation's previous directory. Every change is audited in its commit and
//! no audit row, log line or answer carries a hash.

use crate::audit::{self, AuditEvent};
use crate::exec::{Arg, Cols, Exec, Kind, Record, fetch_record, run_ready};
use crate::group_commit::Body;
use crate::{Result, Store, StoreError};

/// A stored password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordRecord {
    pub user_id: String,
    pub hash: String,
    /// `argon2id`, `argon2i`, `argon2d` or `bcrypt`.
    pub scheme: String,
    /// `set` or `imported`.
    pub source: String,
    pub created_at: i64,
}

impl Record for PasswordRecord {
    const KINDS: &'static [Kind] = &[Kind::Text, Kind::Text, Kind::Text, Kind::Text, Kind::Int];

    fn from_cols(c: &mut Cols) -> Result<PasswordRecord> {
        Ok(PasswordRecord {
            user_id: c.text()?,
            hash: c.text()?,
            scheme: c.text()?,
            source: c.text()?,
            created_at: c.int()?,
        })
    }
}

/// One imported password: the file's line, the username it names and its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordImport {
    pub line: u64,
    pub username: String,
    pub hash: String,
    pub scheme: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportedPasswords {
    /// Users who had no password before.
    pub added: u64,
    /// Users whose previous password was replaced.
    pub replaced: u64,
    /// Lines naming no user, in file order (skipped).
    pub unknown: Vec<PasswordImport>,
}

impl Store {
    pub async fn password_of_user(&self, user_id: &str) -> Result<Option<PasswordRecord>> {
        self.read(PasswordOf(user_id.to_string())).await
    }

    /// Stores `hash` as the user's password, replacing any previous one; audited as
    /// `password.set` in the same commit. Whether it replaced one.
    pub async fn set_password(
        &self,
        user_id: &str,
        username: &str,
        hash: &str,
        scheme: &str,
        actor: &str,
        now: i64,
    ) -> Result<bool> {
        self.transact(SetPassword {
            user_id: user_id.to_string(),
            username: username.to_string(),
            hash: hash.to_string(),
            scheme: scheme.to_string(),
            actor: actor.to_string(),
            now,
        })
        .await
    }

    /// Removes the user's password, audited as `password.removed` by `actor` in the same
    /// commit. Whether there was one.
    pub async fn remove_password(
        &self,
        user_id: &str,
        username: &str,
        actor: &str,
        now: i64,
    ) -> Result<bool> {
        self.transact(audit::DeleteAudited {
            sql: "DELETE FROM passwords WHERE user_id = $1",
            action: "password.removed",
            user_id: user_id.to_string(),
            username: username.to_string(),
            actor: actor.to_string(),
            now,
        })
        .await
    }

    /// Replaces the user's stored hash by `new_hash` (Argon2id), made from the password
    /// just verified against `old_hash` — only if the stored hash is still that one, so a
    /// password set meanwhile is never overwritten. Audited as `password.rehashed` in the
    /// same commit. Whether it replaced it.
    pub async fn rehash_password(
        &self,
        user_id: &str,
        username: &str,
        old_hash: &str,
        new_hash: &str,
        now: i64,
    ) -> Result<bool> {
        self.transact(RehashPassword {
            user_id: user_id.to_string(),
            username: username.to_string(),
            old_hash: old_hash.to_string(),
            new_hash: new_hash.to_string(),
            now,
        })
        .await
    }

    /// Imports passwords in one transaction, each audited as `password.imported`. A line
    /// naming no user is skipped when `skip_unknown`; otherwise it rolls the whole import
    /// back (`NotFound("user")`), so nothing is half-imported.
    pub async fn import_passwords(
        &self,
        rows: Vec<PasswordImport>,
        skip_unknown: bool,
        actor: &str,
        now: i64,
    ) -> Result<ImportedPasswords> {
        let body = ImportPasswords {
            rows,
            skip_unknown,
            actor: actor.to_string(),
            now,
        };
        if let Some(file) = self.sqlite_file.clone() {
            return self
                .bulk_sqlite(file, move |e| run_ready(body.run(e)))
                .await;
        }
        let mut tx = self.writer.begin().await?;
        let out = body.run(&mut *tx).await?;
        tx.commit().await?;
        Ok(out)
    }
}

struct PasswordOf(String);

const PASSWORD_OF: &str =
    "SELECT user_id, hash, scheme, source, created_at FROM passwords WHERE user_id = $1";

impl Body for PasswordOf {
    type Out = Option<PasswordRecord>;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<Self::Out> {
        fetch_record(e, PASSWORD_OF, &[Arg::Text(&self.0)]).await
    }
}

/// Puts the user's password; whether one was replaced.
async fn upsert<E: Exec>(
    e: &mut E,
    user_id: &str,
    hash: &str,
    scheme: &str,
    source: &str,
    now: i64,
) -> Result<bool> {
    let before = e
        .exec(
            "DELETE FROM passwords WHERE user_id = $1",
            &[Arg::Text(user_id)],
        )
        .await?;
    e.exec(
        "INSERT INTO passwords (user_id, hash, scheme, source, created_at) VALUES ($1, $2, $3, $4, $5)",
        &[
            Arg::Text(user_id),
            Arg::Text(hash),
            Arg::Text(scheme),
            Arg::Text(source),
            Arg::Int(now),
        ],
    )
    .await?;
    Ok(before > 0)
}

struct SetPassword {
    user_id: String,
    username: String,
    hash: String,
    scheme: String,
    actor: String,
    now: i64,
}

impl Body for SetPassword {
    type Out = bool;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<bool> {
        let replaced = upsert(e, &self.user_id, &self.hash, &self.scheme, "set", self.now).await?;
        let ev = AuditEvent::new(self.now, &self.actor, "password.set", &self.username)
            .after(serde_json::json!({ "scheme": self.scheme, "replacedPrevious": replaced }));
        audit::write_with(e, &ev).await?;
        Ok(replaced)
    }
}

struct RehashPassword {
    user_id: String,
    username: String,
    old_hash: String,
    new_hash: String,
    now: i64,
}

impl Body for RehashPassword {
    type Out = bool;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<bool> {
        let before: Option<PasswordRecord> =
            fetch_record(e, PASSWORD_OF, &[Arg::Text(&self.user_id)]).await?;
        let Some(before) = before.filter(|p| p.hash == self.old_hash) else {
            return Ok(false);
        };
        e.exec(
            "UPDATE passwords SET hash = $1, scheme = 'argon2id' WHERE user_id = $2 AND hash = $3",
            &[
                Arg::Text(&self.new_hash),
                Arg::Text(&self.user_id),
                Arg::Text(&self.old_hash),
            ],
        )
        .await?;
        let ev = AuditEvent::new(self.now, "keyfort", "password.rehashed", &self.username)
            .before(serde_json::json!({ "scheme": before.scheme }))
            .after(serde_json::json!({ "scheme": "argon2id" }));
        audit::write_with(e, &ev).await?;
        Ok(true)
    }
}

struct ImportPasswords {
    rows: Vec<PasswordImport>,
    skip_unknown: bool,
    actor: String,
    now: i64,
}

struct UserId(String);

impl Record for UserId {
    const KINDS: &'static [Kind] = &[Kind::Text];

    fn from_cols(c: &mut Cols) -> Result<UserId> {
        Ok(UserId(c.text()?))
    }
}

impl Body for ImportPasswords {
    type Out = ImportedPasswords;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<ImportedPasswords> {
        let mut out = ImportedPasswords::default();
        for row in &self.rows {
            let id: Option<UserId> = fetch_record(
                e,
                "SELECT id FROM users WHERE username = $1",
                &[Arg::Text(&row.username)],
            )
            .await?;
            let Some(UserId(user_id)) = id else {
                if !self.skip_unknown {
                    return Err(StoreError::NotFound("user"));
                }
                out.unknown.push(row.clone());
                continue;
            };
            let replaced =
                upsert(e, &user_id, &row.hash, &row.scheme, "imported", self.now).await?;
            if replaced {
                out.replaced += 1;
            } else {
                out.added += 1;
            }
            let ev = AuditEvent::new(self.now, &self.actor, "password.imported", &row.username)
                .after(serde_json::json!({
                    "scheme": row.scheme, "replacedPrevious": replaced, "line": row.line
                }));
            audit::write_with(e, &ev).await?;
        }
        Ok(out)
    }
}
