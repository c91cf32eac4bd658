use crate::audit::{self, AuditEvent};
use crate::exec::{
    Arg, Cols, Exec, Kind, Record, fetch_map, fetch_record, fetch_records, run_ready,
};
use crate::group_commit::Body;
use crate::{Result, Store, StoreError, flag};
use keyfort_core::passkey::PasskeyType;
use serde::Serialize;

/// A registered passkey. `credential` is the verifier's serialised credential
/// (public key, counter, flags); the other columns are for people and policy.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyRecord {
    pub id: String,
    pub user_id: String,
    pub credential_id: String,
    #[serde(skip)]
    pub credential: String,
    pub aaguid: String,
    pub sign_count: i64,
    pub backup_eligible: bool,
    pub backup_state: bool,
    pub passkey_type: PasskeyType,
    pub attestation_format: String,
    /// Its attestation was verified against a trusted root.
    pub attested: bool,
    pub transports: String,
    pub display_name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    /// Blocked: its signature counter went backwards.
    pub possibly_cloned: bool,
}

macro_rules! passkey_columns {
    () => {
        "id, user_id, credential_id, credential, aaguid, sign_count, backup_eligible, backup_state, \
     passkey_type, attestation_format, attested, transports, display_name, created_at, last_used_at, possibly_cloned"
    };
}

struct PasskeyWithUser {
    credential_id: String,
}

/// What a sign-in reads about a credential, in one statement: the passkey, its owner, and
/// the owner's memberships version (which moves with every change to their groups).
#[derive(Debug, Clone)]
pub struct SignInFacts {
    pub passkey: PasskeyRecord,
    pub user: crate::User,
    pub memberships_version: i64,
}

impl Body for PasskeyWithUser {
    type Out = Option<SignInFacts>;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<Self::Out> {
        const SQL: &str = concat!(
            "SELECT p.id, p.user_id, p.credential_id, p.credential, p.aaguid, p.sign_count, \
             p.backup_eligible, p.backup_state, p.passkey_type, p.attestation_format, p.attested, \
             p.transports, p.display_name, p.created_at, p.last_used_at, p.possibly_cloned, \
             u.memberships_version, ",
            crate::users::joined_user_columns!(),
            " FROM passkeys p JOIN users u ON u.id = p.user_id WHERE p.credential_id = $1"
        );
        let mut kinds = PasskeyRecord::KINDS.to_vec();
        kinds.push(Kind::Int);
        let args = [Arg::Text(&self.credential_id)];
        let found = crate::users::fetch_with_user(e, SQL, &args, &kinds, |c| {
            Ok((PasskeyRecord::from_cols(c)?, c.int()?))
        })
        .await?;
        Ok(
            found.map(|((passkey, memberships_version), user)| SignInFacts {
                passkey,
                user,
                memberships_version,
            }),
        )
    }
}

/// A passkey as [`passkey_columns`] lists its columns, in that order: the one description
/// every query reading passkeys uses.
impl Record for PasskeyRecord {
    const KINDS: &'static [Kind] = {
        use Kind::{Int, OptInt, Text};
        &[
            Text, Text, Text, Text, Text, Int, Int, Int, Text, Text, Int, Text, Text, Int, OptInt,
            Int,
        ]
    };

    fn from_cols(c: &mut Cols) -> Result<PasskeyRecord> {
        Ok(PasskeyRecord {
            id: c.text()?,
            user_id: c.text()?,
            credential_id: c.text()?,
            credential: c.text()?,
            aaguid: c.text()?,
            sign_count: c.int()?,
            backup_eligible: c.flag()?,
            backup_state: c.flag()?,
            passkey_type: c.parsed("passkey type", PasskeyType::parse)?,
            attestation_format: c.text()?,
            attested: c.flag()?,
            transports: c.text()?,
            display_name: c.text()?,
            created_at: c.int()?,
            last_used_at: c.opt_int()?,
            possibly_cloned: c.flag()?,
        })
    }
}

struct PasskeysOfUser(String);

impl Body for PasskeysOfUser {
    type Out = Vec<PasskeyRecord>;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<Self::Out> {
        const SQL: &str = concat!(
            "SELECT ",
            passkey_columns!(),
            " FROM passkeys WHERE user_id = $1 ORDER BY created_at, id"
        );
        fetch_records(e, SQL, &[Arg::Text(&self.0)]).await
    }
}

struct PasskeyOfUser {
    user_id: String,
    id: String,
}

impl Body for PasskeyOfUser {
    type Out = Option<PasskeyRecord>;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<Self::Out> {
        let sql = concat!(
            "SELECT ",
            passkey_columns!(),
            " FROM passkeys WHERE id = $1 AND user_id = $2"
        );
        let args = [Arg::Text(&self.id), Arg::Text(&self.user_id)];
        fetch_record(e, sql, &args).await
    }
}

fn summary(p: &PasskeyRecord) -> serde_json::Value {
    serde_json::json!({
        "passkeyId": p.id, "displayName": p.display_name, "aaGuid": p.aaguid, "passkeyType": p.passkey_type.as_str(),
        "attestationFormat": p.attestation_format, "credentialId": p.credential_id,
    })
}

impl Store {
    /// Stores a registered passkey and what its attestation showed; audited as
    /// `passkey.registered` in the same commit.
    pub async fn insert_passkey(
        &self,
        p: &PasskeyRecord,
        attestation: Option<&crate::AttestationRecord>,
        username: &str,
        actor: &str,
        now: i64,
    ) -> Result<()> {
        self.transact(InsertPasskey {
            passkey: p.clone(),
            attestation: attestation.cloned(),
            username: username.to_string(),
            actor: actor.to_string(),
            now,
        })
        .await
    }

    pub async fn passkeys_of_user(&self, user_id: &str) -> Result<Vec<PasskeyRecord>> {
        self.read(PasskeysOfUser(user_id.to_string())).await
    }

    /// One passkey of a user.
    /// One of the user's passkeys (in-thread on SQLite: the evidence read of `/authorize`).
    pub async fn passkey(&self, user_id: &str, id: &str) -> Result<Option<PasskeyRecord>> {
        self.read(PasskeyOfUser {
            user_id: user_id.to_string(),
            id: id.to_string(),
        })
        .await
    }

    /// The passkey with this credential id, the person it belongs to and their
    /// memberships version, in one query (the sign-in path's one read).
    pub async fn passkey_for_signin(&self, credential_id: &str) -> Result<Option<SignInFacts>> {
        self.read(PasskeyWithUser {
            credential_id: credential_id.to_string(),
        })
        .await
    }

    /// Blocks a passkey whose counter went backwards, with its audit row — and, in the
    /// same commit, spends the ceremony that showed it: `false` and nothing written when
    /// that ceremony was spent before (a replayed response says nothing about cloning).
    pub async fn mark_passkey_possibly_cloned(
        &self,
        p: &PasskeyRecord,
        username: &str,
        presented: i64,
        ceremony: &crate::SpentCeremony,
        now: i64,
    ) -> Result<bool> {
        self.transact(MarkCloned {
            id: p.id.clone(),
            sign_count: p.sign_count,
            username: username.to_string(),
            presented,
            ceremony: ceremony.clone(),
            now,
        })
        .await
    }

    /// Renames one of the user's passkeys; audited in the same commit.
    pub async fn rename_passkey(
        &self,
        user_id: &str,
        id: &str,
        name: &str,
        username: &str,
        actor: &str,
        now: i64,
    ) -> Result<()> {
        let change = PasskeyChange {
            user_id: user_id.to_string(),
            id: id.to_string(),
            username: username.to_string(),
            actor: actor.to_string(),
            now,
        };
        let renamed = self
            .transact(RenamePasskey {
                change,
                name: name.to_string(),
            })
            .await?;
        if renamed {
            Ok(())
        } else {
            Err(StoreError::NotFound("passkey"))
        }
    }

    /// Removes one of the user's passkeys; audited in the same commit.
    pub async fn delete_passkey(
        &self,
        user_id: &str,
        id: &str,
        username: &str,
        actor: &str,
        now: i64,
    ) -> Result<()> {
        let change = PasskeyChange {
            user_id: user_id.to_string(),
            id: id.to_string(),
            username: username.to_string(),
            actor: actor.to_string(),
            now,
        };
        match self.transact(DeletePasskey(change, false)).await? {
            Some(_) => Ok(()),
            None => Err(StoreError::NotFound("passkey")),
        }
    }

    /// A person deletes one of their own passkeys, but only while one of `keep` (the
    /// other passkeys that can sign them in, as the caller judged them) remains: checked
    /// in the commit, after locking the user's row, so two deletions racing cannot remove
    /// the last two. Audited.
    pub async fn delete_own_passkey(
        &self,
        user_id: &str,
        id: &str,
        keep: &[String],
        username: &str,
        now: i64,
    ) -> Result<OwnDeletion> {
        self.transact(DeleteOwnPasskey {
            change: PasskeyChange {
                user_id: user_id.to_string(),
                id: id.to_string(),
                username: username.to_string(),
                actor: username.to_string(),
                now,
            },
            keep: keep.iter().filter(|k| k.as_str() != id).cloned().collect(),
        })
        .await
    }

    /// An administrator's removal of a passkey: deleted, and the browser sessions signed
    /// in with it end and their applications' grants are revoked, in the commit of the
    /// audit row. Answers (sessions ended, grants revoked).
    pub async fn remove_passkey(
        &self,
        user_id: &str,
        id: &str,
        username: &str,
        actor: &str,
        now: i64,
    ) -> Result<(u64, u64)> {
        let change = PasskeyChange {
            user_id: user_id.to_string(),
            id: id.to_string(),
            username: username.to_string(),
            actor: actor.to_string(),
            now,
        };
        self.transact(DeletePasskey(change, true))
            .await?
            .ok_or(StoreError::NotFound("passkey"))
    }
}

struct InsertPasskey {
    passkey: PasskeyRecord,
    attestation: Option<crate::AttestationRecord>,
    username: String,
    actor: String,
    now: i64,
}

impl Body for InsertPasskey {
    type Out = ();

    async fn run<E: Exec>(&self, e: &mut E) -> Result<()> {
        e.exec(IMPORT_PASSKEY_ROW, &import_args(&self.passkey))
            .await
            .map_err(|e| e.named_conflict("credential"))?;
        let mut after = summary(&self.passkey);
        if let Some(a) = &self.attestation {
            crate::attestations::insert(e, &self.passkey.id, a).await?;
            after["attestation"] = serde_json::json!({
                "level": a.level, "notAttestedReason": a.not_attested_reason,
                "modelName": a.model_name, "certificates": a.chain.len(),
            });
        }
        let ev = AuditEvent::new(self.now, &self.actor, "passkey.registered", &self.username)
            .after(after);
        audit::write_with(e, &ev).await
    }
}

struct MarkCloned {
    id: String,
    sign_count: i64,
    username: String,
    presented: i64,
    ceremony: crate::SpentCeremony,
    now: i64,
}

impl Body for MarkCloned {
    type Out = bool;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<bool> {
        if !crate::ceremonies::spend(e, &self.ceremony).await? {
            return Ok(false);
        }
        e.exec(
            "UPDATE passkeys SET possibly_cloned = 1 WHERE id = $1",
            &[Arg::Text(&self.id)],
        )
        .await?;
        let ev = AuditEvent::new(
            self.now,
            "system",
            "passkey.possibly_cloned",
            &self.username,
        )
        .before(serde_json::json!({ "passkeyId": self.id, "signCount": self.sign_count }))
        .after(serde_json::json!({
            "passkeyId": self.id, "presentedSignCount": self.presented, "possiblyCloned": true,
        }));
        audit::write_with(e, &ev).await?;
        Ok(true)
    }
}

/// A change to one of a user's passkeys.
#[derive(Clone)]
struct PasskeyChange {
    user_id: String,
    id: String,
    username: String,
    actor: String,
    now: i64,
}

struct RenamePasskey {
    change: PasskeyChange,
    name: String,
}

impl Body for RenamePasskey {
    /// `false`: no such passkey of that user, nothing written.
    type Out = bool;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<bool> {
        let c = &self.change;
        let args = [Arg::Text(&c.id), Arg::Text(&c.user_id)];
        let before = fetch_map(
            e,
            "SELECT display_name FROM passkeys WHERE id = $1 AND user_id = $2",
            &args,
            &[Kind::Text],
            Cols::text,
        )
        .await?;
        let Some(before) = before else {
            return Ok(false);
        };
        e.exec(
            "UPDATE passkeys SET display_name = $1 WHERE id = $2 AND user_id = $3",
            &[
                Arg::Text(&self.name),
                Arg::Text(&c.id),
                Arg::Text(&c.user_id),
            ],
        )
        .await?;
        let ev = AuditEvent::new(c.now, &c.actor, "passkey.renamed", &c.username)
            .before(serde_json::json!({ "passkeyId": c.id, "displayName": before }))
            .after(serde_json::json!({ "passkeyId": c.id, "displayName": self.name }));
        audit::write_with(e, &ev).await?;
        Ok(true)
    }
}

/// What [`Store::delete_own_passkey`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnDeletion {
    Deleted,
    /// No such passkey of that user: nothing written.
    NotFound,
    /// None of the passkeys to keep remains: nothing written.
    LastUsable,
}

struct DeleteOwnPasskey {
    change: PasskeyChange,
    keep: Vec<String>,
}

impl Body for DeleteOwnPasskey {
    type Out = OwnDeletion;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<OwnDeletion> {
        let c = &self.change;
        let user = Arg::Text(&c.user_id);
        // Serializes a user's deletions (a row lock on PostgreSQL; SQLite has one writer).
        e.exec("UPDATE users SET version = version WHERE id = $1", &[user])
            .await?;
        let ids: Vec<String> =
            fetch_records(e, "SELECT id FROM passkeys WHERE user_id = $1", &[user]).await?;
        if !ids.iter().any(|i| i == &c.id) {
            return Ok(OwnDeletion::NotFound);
        }
        if !ids.iter().any(|i| self.keep.contains(i)) {
            return Ok(OwnDeletion::LastUsable);
        }
        match DeletePasskey(c.clone(), false).run(e).await? {
            Some(_) => Ok(OwnDeletion::Deleted),
            None => Ok(OwnDeletion::NotFound),
        }
    }
}

/// A passkey deleted; with `true`, also the sessions signed in with it and their grants.
struct DeletePasskey(PasskeyChange, bool);

impl Body for DeletePasskey {
    /// `None`: no such passkey of that user, nothing written; else (sessions ended,
    /// grants revoked).
    type Out = Option<(u64, u64)>;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<Option<(u64, u64)>> {
        const SQL: &str = concat!(
            "DELETE FROM passkeys WHERE id = $1 AND user_id = $2 RETURNING ",
            passkey_columns!(),
            ""
        );
        let c = &self.0;
        let args = [Arg::Text(&c.id), Arg::Text(&c.user_id)];
        let Some(gone) = fetch_record::<PasskeyRecord, _>(e, SQL, &args).await? else {
            return Ok(None);
        };
        let (mut sessions_ended, mut grants_revoked) = (0, 0);
        let mut ev =
            AuditEvent::new(c.now, &c.actor, "passkey.deleted", &c.username).before(summary(&gone));
        if self.1 {
            let ids = [Arg::Text(&c.user_id), Arg::Text(&c.id)];
            grants_revoked = e
                .exec(
                    "UPDATE grants SET revoked_at = $3 WHERE revoked_at IS NULL AND session_id IN \
                     (SELECT id FROM sessions WHERE user_id = $1 AND passkey_id = $2)",
                    &[ids[0], ids[1], Arg::Int(c.now)],
                )
                .await?;
            sessions_ended = e
                .exec(
                    "DELETE FROM sessions WHERE user_id = $1 AND passkey_id = $2",
                    &ids,
                )
                .await?;
            ev = ev.after(serde_json::json!({
                "sessionsEnded": sessions_ended, "grantsRevoked": grants_revoked,
            }));
        }
        audit::write_with(e, &ev).await?;
        Ok(Some((sessions_ended, grants_revoked)))
    }
}

const IMPORT_PASSKEY_ROW: &str = concat!(
    "INSERT INTO passkeys (",
    passkey_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
);

/// A passkey's parameters, in [`passkey_columns`] order: the one insert description.
fn import_args(p: &PasskeyRecord) -> [Arg<'_>; 16] {
    [
        Arg::Text(&p.id),
        Arg::Text(&p.user_id),
        Arg::Text(&p.credential_id),
        Arg::Text(&p.credential),
        Arg::Text(&p.aaguid),
        Arg::Int(p.sign_count),
        Arg::Int(flag(p.backup_eligible)),
        Arg::Int(flag(p.backup_state)),
        Arg::Text(p.passkey_type.as_str()),
        Arg::Text(&p.attestation_format),
        Arg::Int(flag(p.attested)),
        Arg::Text(&p.transports),
        Arg::Text(&p.display_name),
        Arg::Int(p.created_at),
        Arg::OptInt(p.last_used_at),
        Arg::Int(flag(p.possibly_cloned)),
    ]
}

impl Store {
    /// Bulk import of verified passkeys in one transaction, with one audit row for the
    /// batch; a conflict anywhere imports nothing.
    pub async fn import_passkeys(
        &self,
        keys: &[PasskeyRecord],
        actor: &str,
        now: i64,
    ) -> Result<()> {
        let ev = AuditEvent::new(
            now,
            actor,
            "passkey.imported",
            format!("{} passkeys", keys.len()),
        )
        .after(serde_json::json!({ "count": keys.len() }));
        if let Some(file) = self.sqlite_file.clone() {
            // In owner order, each batch walks the owner index once, front to back.
            let mut keys = keys.to_vec();
            keys.sort_by(|a, b| a.user_id.cmp(&b.user_id));
            return self
                .bulk_sqlite(file, move |e| {
                    for p in &keys {
                        run_ready(e.exec(IMPORT_PASSKEY_ROW, &import_args(p)))?;
                    }
                    run_ready(audit::write_with(e, &ev))
                })
                .await
                .map_err(|e| e.named_conflict("credential"));
        }
        let mut tx = self.writer.begin().await?;
        for chunk in keys.chunks(crate::bulk_rows(self.backend())) {
            // Only placeholders are formatted into the statement; every value is bound.
            let sql = format!(
                "INSERT INTO passkeys ({}) VALUES {}",
                passkey_columns!(),
                crate::values_placeholders(chunk.len(), 16)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for p in chunk {
                q = crate::exec::bind_all(q, &import_args(p));
            }
            q.execute(&mut *tx)
                .await
                .map_err(|e| StoreError::conflict_or(e, "credential"))?;
        }
        audit::write_with(&mut *tx, &ev).await?;
        tx.commit().await?;
        Ok(())
    }
}

pub(crate) async fn record_use<E: Exec>(e: &mut E, u: &crate::sessions::OwnedUse) -> Result<bool> {
    let n = e
        .exec(
            "UPDATE passkeys SET sign_count = $1, backup_state = $2, last_used_at = $3 \
             WHERE id = $4 AND (sign_count < $1 OR sign_count = 0)",
            &[
                Arg::Int(u.sign_count),
                Arg::Int(flag(u.backup_state)),
                Arg::Int(u.now),
                Arg::Text(&u.id),
            ],
        )
        .await?;
    Ok(n == 1)
}
