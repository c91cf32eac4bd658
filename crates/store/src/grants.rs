//! Grants and the tokens issued from them. Every token row points at its grant;
//! revoking the grant revokes every token of the family at once.

use crate::exec::{Arg, Cols, Exec, Kind, Record, fetch_record};
use crate::group_commit::Body;
use crate::{Result, SpentCeremony, Store};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantRecord {
    pub id: String,
    pub client_id: String,
    pub user_id: Option<String>,
    pub session_id: Option<String>,
    pub scope: String,
    pub auth_time: Option<i64>,
    pub acr: Option<String>,
    pub amr: String,
    pub nonce: Option<String>,
    /// Nothing issued from this grant may outlive this (a pass's expiry).
    pub not_after: Option<i64>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CodeRecord {
    pub code_hash: String,
    pub grant_id: String,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RefreshRecord {
    pub token_hash: String,
    pub grant_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

macro_rules! grant_columns {
    () => {
        "id, client_id, user_id, session_id, scope, auth_time, acr, amr, nonce, not_after, created_at, revoked_at"
    };
}

/// A grant as [`grant_columns`] lists its columns, in that order.
impl Record for GrantRecord {
    const KINDS: &'static [Kind] = {
        use Kind::{Int, OptInt, OptText, Text};
        &[
            Text, Text, OptText, OptText, Text, OptInt, OptText, Text, OptText, OptInt, Int, OptInt,
        ]
    };

    fn from_cols(c: &mut Cols) -> Result<GrantRecord> {
        Ok(GrantRecord {
            id: c.text()?,
            client_id: c.text()?,
            user_id: c.opt_text()?,
            session_id: c.opt_text()?,
            scope: c.text()?,
            auth_time: c.opt_int()?,
            acr: c.opt_text()?,
            amr: c.text()?,
            nonce: c.opt_text()?,
            not_after: c.opt_int()?,
            created_at: c.int()?,
            revoked_at: c.opt_int()?,
        })
    }
}

/// A code as `code_hash, grant_id, redirect_uri, code_challenge, created_at, expires_at,
/// used_at`.
impl Record for CodeRecord {
    const KINDS: &'static [Kind] = {
        use Kind::{Int, OptInt, OptText, Text};
        &[Text, Text, Text, OptText, Int, Int, OptInt]
    };

    fn from_cols(c: &mut Cols) -> Result<CodeRecord> {
        Ok(CodeRecord {
            code_hash: c.text()?,
            grant_id: c.text()?,
            redirect_uri: c.text()?,
            code_challenge: c.opt_text()?,
            created_at: c.int()?,
            expires_at: c.int()?,
            used_at: c.opt_int()?,
        })
    }
}

/// A refresh token as `token_hash, grant_id, created_at, expires_at, used_at`.
impl Record for RefreshRecord {
    const KINDS: &'static [Kind] = {
        use Kind::{Int, OptInt, Text};
        &[Text, Text, Int, Int, OptInt]
    };

    fn from_cols(c: &mut Cols) -> Result<RefreshRecord> {
        Ok(RefreshRecord {
            token_hash: c.text()?,
            grant_id: c.text()?,
            created_at: c.int()?,
            expires_at: c.int()?,
            used_at: c.opt_int()?,
        })
    }
}

struct GrantById(String);

impl Body for GrantById {
    type Out = Option<GrantRecord>;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<Option<GrantRecord>> {
        let sql = concat!("SELECT ", grant_columns!(), " FROM grants WHERE id = $1");
        fetch_record(e, sql, &[Arg::Text(&self.0)]).await
    }
}

/// Whether an access token is still good: known, unexpired, neither it nor its grant revoked.
struct ActiveAccessToken(String, i64);

impl Body for ActiveAccessToken {
    type Out = Option<GrantRecord>;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<Option<GrantRecord>> {
        let sql = "SELECT g.id, g.client_id, g.user_id, g.session_id, g.scope, g.auth_time, g.acr, \
             g.amr, g.nonce, g.not_after, g.created_at, g.revoked_at \
             FROM access_tokens a JOIN grants g ON g.id = a.grant_id \
             WHERE a.jti = $1 AND a.revoked_at IS NULL AND a.expires_at > $2 AND g.revoked_at IS NULL";
        let args = [Arg::Text(&self.0), Arg::Int(self.1)];
        fetch_record(e, sql, &args).await
    }
}

struct CodeByHash(String);

impl Body for CodeByHash {
    type Out = Option<CodeRecord>;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<Option<CodeRecord>> {
        const SQL: &str = "SELECT code_hash, grant_id, redirect_uri, code_challenge, created_at, \
             expires_at, used_at FROM authorization_codes WHERE code_hash = $1";
        fetch_record(e, SQL, &[Arg::Text(&self.0)]).await
    }
}

struct RefreshByHash(String);

impl Body for RefreshByHash {
    type Out = Option<RefreshRecord>;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<Option<RefreshRecord>> {
        const SQL: &str = "SELECT token_hash, grant_id, created_at, expires_at, used_at \
             FROM refresh_tokens WHERE token_hash = $1";
        fetch_record(e, SQL, &[Arg::Text(&self.0)]).await
    }
}

/// A refresh token with its grant and the grant's user, in one read.
struct RefreshWithGrant(String);

impl Body for RefreshWithGrant {
    type Out = Option<(RefreshRecord, GrantRecord, crate::User)>;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<Self::Out> {
        const SQL: &str = concat!(
            "SELECT r.token_hash, r.grant_id, r.created_at, r.expires_at, r.used_at, \
             g.id, g.client_id, g.user_id, g.session_id, g.scope, g.auth_time, g.acr, g.amr, \
             g.nonce, g.not_after, g.created_at, g.revoked_at, ",
            crate::users::joined_user_columns!(),
            " FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id \
             JOIN users u ON u.id = g.user_id WHERE r.token_hash = $1"
        );
        let mut kinds = RefreshRecord::KINDS.to_vec();
        kinds.extend_from_slice(GrantRecord::KINDS);
        let args = [Arg::Text(&self.0)];
        let read = crate::users::fetch_with_user(e, SQL, &args, &kinds, |c| {
            Ok((RefreshRecord::from_cols(c)?, GrantRecord::from_cols(c)?))
        })
        .await?;
        Ok(read.map(|((r, g), u)| (r, g, u)))
    }
}

impl Store {
    /// A refresh token, its grant and the user it was issued to, in one read; `None` when
    /// the token is unknown or its grant has no user.
    pub async fn refresh_token_with_grant(
        &self,
        token_hash: &str,
    ) -> Result<Option<(RefreshRecord, GrantRecord, crate::User)>> {
        self.read(RefreshWithGrant(token_hash.to_string())).await
    }

    pub async fn grant(&self, id: &str) -> Result<Option<GrantRecord>> {
        self.read(GrantById(id.to_string())).await
    }

    pub async fn code(&self, code_hash: &str) -> Result<Option<CodeRecord>> {
        self.read(CodeByHash(code_hash.to_string())).await
    }

    pub async fn refresh_token(&self, token_hash: &str) -> Result<Option<RefreshRecord>> {
        self.read(RefreshByHash(token_hash.to_string())).await
    }

    /// Whether an access token is still good: known, unexpired, neither it nor its grant revoked.
    pub async fn access_token_active(&self, jti: &str, now: i64) -> Result<Option<GrantRecord>> {
        self.read(ActiveAccessToken(jti.to_string(), now)).await
    }

    /// Records a client assertion's `jti`; `false` when it was seen before (a replay).
    pub async fn remember_client_assertion(
        &self,
        jti: &str,
        client_id: &str,
        expires_at: i64,
    ) -> Result<bool> {
        self.transact(RememberAssertion {
            jti: jti.to_string(),
            client_id: client_id.to_string(),
            expires_at,
        })
        .await
    }

    /// Removes codes, refresh tokens, access-token records and assertions past their
    /// expiry, then the grants left with none of them, in chunks (`Store::purge_in_chunks`).
    pub async fn purge_expired_tokens(&self, now: i64) -> Result<u64> {
        let mut n = 0;
        for sql in [
            "DELETE FROM authorization_codes WHERE code_hash IN \
             (SELECT code_hash FROM authorization_codes WHERE expires_at <= $1 LIMIT $2)",
            "DELETE FROM refresh_tokens WHERE token_hash IN \
             (SELECT token_hash FROM refresh_tokens WHERE expires_at <= $1 LIMIT $2)",
            "DELETE FROM access_tokens WHERE jti IN \
             (SELECT jti FROM access_tokens WHERE expires_at <= $1 LIMIT $2)",
            "DELETE FROM client_assertions WHERE jti IN \
             (SELECT jti FROM client_assertions WHERE expires_at <= $1 LIMIT $2)",
        ] {
            n += self.purge_in_chunks(sql, now).await?;
        }
        // Then the grants nothing issued from them still uses: no code, refresh token or
        // access-token record left (those are purged above once expired). A grant is
        // written in the same commit as its first token, so a young grant always has
        // one; the grace period is a margin on top.
        n += self
            .purge_in_chunks(
                "DELETE FROM grants WHERE id IN (SELECT g.id FROM grants g WHERE g.created_at <= $1 \
                 AND NOT EXISTS (SELECT 1 FROM authorization_codes c WHERE c.grant_id = g.id) \
                 AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = g.id) \
                 AND NOT EXISTS (SELECT 1 FROM access_tokens a WHERE a.grant_id = g.id) \
                 ORDER BY g.created_at LIMIT $2)",
                now - GRANT_PURGE_GRACE_MS,
            )
            .await?;
        Ok(n)
    }
}

struct RememberAssertion {
    jti: String,
    client_id: String,
    expires_at: i64,
}

impl Body for RememberAssertion {
    type Out = bool;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<bool> {
        let n = e
            .exec(
                "INSERT INTO client_assertions (jti, client_id, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (jti) DO NOTHING",
                &[
                    Arg::Text(&self.jti),
                    Arg::Text(&self.client_id),
                    Arg::Int(self.expires_at),
                ],
            )
            .await?;
        Ok(n == 1)
    }
}

/// Grants younger than this are never purged, whatever is left of their tokens.
const GRANT_PURGE_GRACE_MS: i64 = 60 * 60 * 1000;

/// What a token request consumes before anything is issued.
#[derive(Debug, Clone, Copy)]
pub enum Spend<'a> {
    Nothing,
    /// An authorization code (by hash): spent once.
    Code(&'a str),
    /// A refresh token (by hash): rotated, spent once.
    RefreshToken(&'a str),
}

/// Everything one token response writes, committed together.
#[derive(Debug, Clone, Copy)]
pub struct Issuance<'a> {
    pub spend: Spend<'a>,
    pub new_grant: Option<&'a GrantRecord>,
    /// (jti, grant id, expiry) of the access token.
    pub access: Option<(&'a str, &'a str, i64)>,
    pub refresh: Option<&'a RefreshRecord>,
    pub now: i64,
}

impl Store {
    /// Spends the code or refresh token and records the new grant and tokens in one
    /// transaction. `false` (and nothing written) when the code or token was already spent.
    pub async fn issue(&self, i: &Issuance<'_>) -> Result<bool> {
        self.transact(OwnedIssuance::from(i)).await
    }

    /// A grant and its authorization code, committed together with the spending of the
    /// authorization request they answer: `false` (nothing written) when it was spent before.
    pub async fn create_grant_with_code(
        &self,
        g: &GrantRecord,
        c: &CodeRecord,
        answering: Option<&SpentCeremony>,
    ) -> Result<bool> {
        self.transact(GrantWithCode(g.clone(), c.clone(), answering.cloned()))
            .await
    }
}

pub(crate) struct GrantWithCode(
    pub(crate) GrantRecord,
    pub(crate) CodeRecord,
    pub(crate) Option<SpentCeremony>,
);

impl Body for GrantWithCode {
    type Out = bool;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<bool> {
        if let Some(request) = &self.2
            && !crate::ceremonies::spend(e, request).await?
        {
            return Ok(false);
        }
        insert_grant(e, &self.0).await?;
        insert_code(e, &self.1).await?;
        Ok(true)
    }
}

/// [`Issuance`] held by a queued transaction body.
struct OwnedIssuance {
    /// (statement, hash) spending a code or refresh token.
    spend: Option<(&'static str, String)>,
    new_grant: Option<GrantRecord>,
    access: Option<(String, String, i64)>,
    refresh: Option<RefreshRecord>,
    now: i64,
}

impl From<&Issuance<'_>> for OwnedIssuance {
    fn from(i: &Issuance<'_>) -> OwnedIssuance {
        let spend = match i.spend {
            Spend::Nothing => None,
            Spend::Code(hash) => Some((
                "UPDATE authorization_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL",
                hash.to_string(),
            )),
            Spend::RefreshToken(hash) => Some((
                "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL",
                hash.to_string(),
            )),
        };
        OwnedIssuance {
            spend,
            new_grant: i.new_grant.cloned(),
            access: i
                .access
                .map(|(jti, grant, exp)| (jti.to_string(), grant.to_string(), exp)),
            refresh: i.refresh.cloned(),
            now: i.now,
        }
    }
}

/// The spend comes first, so nothing is written when it finds the code or token already spent.
impl Body for OwnedIssuance {
    type Out = bool;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<bool> {
        if let Some((sql, hash)) = &self.spend
            && e.exec(sql, &[Arg::Int(self.now), Arg::Text(hash)]).await? != 1
        {
            return Ok(false);
        }
        if let Some(g) = &self.new_grant {
            insert_grant(e, g).await?;
        }
        if let Some((jti, grant_id, expires_at)) = &self.access {
            e.exec(
                "INSERT INTO access_tokens (jti, grant_id, expires_at, revoked_at) VALUES ($1, $2, $3, NULL)",
                &[Arg::Text(jti), Arg::Text(grant_id), Arg::Int(*expires_at)],
            )
            .await?;
        }
        if let Some(r) = &self.refresh {
            e.exec(
                "INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at, used_at) \
                 VALUES ($1, $2, $3, $4, NULL)",
                &[
                    Arg::Text(&r.token_hash),
                    Arg::Text(&r.grant_id),
                    Arg::Int(r.created_at),
                    Arg::Int(r.expires_at),
                ],
            )
            .await?;
        }
        Ok(true)
    }
}

async fn insert_grant<E: Exec>(e: &mut E, g: &GrantRecord) -> Result<()> {
    e.exec(
        concat!(
            "INSERT INTO grants (",
            grant_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL)"
        ),
        &[
            Arg::Text(&g.id),
            Arg::Text(&g.client_id),
            Arg::OptText(g.user_id.as_deref()),
            Arg::OptText(g.session_id.as_deref()),
            Arg::Text(&g.scope),
            Arg::OptInt(g.auth_time),
            Arg::OptText(g.acr.as_deref()),
            Arg::Text(&g.amr),
            Arg::OptText(g.nonce.as_deref()),
            Arg::OptInt(g.not_after),
            Arg::Int(g.created_at),
        ],
    )
    .await?;
    Ok(())
}

async fn insert_code<E: Exec>(e: &mut E, c: &CodeRecord) -> Result<()> {
    e.exec(
        "INSERT INTO authorization_codes (code_hash, grant_id, redirect_uri, code_challenge, created_at, expires_at, used_at) \
         VALUES ($1, $2, $3, $4, $5, $6, NULL)",
        &[
            Arg::Text(&c.code_hash),
            Arg::Text(&c.grant_id),
            Arg::Text(&c.redirect_uri),
            Arg::OptText(c.code_challenge.as_deref()),
            Arg::Int(c.created_at),
            Arg::Int(c.expires_at),
        ],
    )
    .await?;
    Ok(())
}
