use crate::exec::{Arg, Cols, Exec, Kind, Record, fetch_record};
use crate::group_commit::Body;
use crate::{Result, Store};

/// Server-side state of a WebAuthn ceremony in progress, kept in the store so
/// any node can finish what another began.
#[derive(Debug, Clone, PartialEq)]
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

/// Rows one purge chunk deletes.
const PURGE_CHUNK: i64 = 500;

/// A sealed ceremony being finished: its id is spent once (kept until it expires).
#[derive(Debug, Clone, PartialEq)]
pub struct SpentCeremony {
    pub id: String,
    pub expires_at: i64,
}

/// Spends a sealed ceremony's id; `false` (nothing written) when it was spent before.
pub(crate) async fn spend<E: Exec>(e: &mut E, c: &SpentCeremony) -> Result<bool> {
    let n = e
        .exec(
            "INSERT INTO spent_ceremonies (id, expires_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
            &[Arg::Text(&c.id), Arg::Int(c.expires_at)],
        )
        .await?;
    Ok(n == 1)
}

struct Spend(SpentCeremony);

impl Body for Spend {
    type Out = bool;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<bool> {
        spend(e, &self.0).await
    }
}

struct IsSpent(String);

impl Body for IsSpent {
    type Out = bool;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<bool> {
        let row = e
            .fetch_optional(
                "SELECT id FROM spent_ceremonies WHERE id = $1",
                &[Arg::Text(&self.0)],
                &[Kind::Text],
            )
            .await?;
        Ok(row.is_some())
    }
}

struct PutCeremony(CeremonyRecord);

impl Body for PutCeremony {
    type Out = ();

    async fn run<E: Exec>(&self, e: &mut E) -> Result<()> {
        let c = &self.0;
        e.exec(
            "INSERT INTO ceremonies (id, kind, user_id, session_id, state, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                Arg::Text(&c.id),
                Arg::Text(&c.kind),
                Arg::OptText(c.user_id.as_deref()),
                Arg::OptText(c.session_id.as_deref()),
                Arg::Text(&c.state),
                Arg::Int(c.created_at),
                Arg::Int(c.expires_at),
            ],
        )
        .await?;
        Ok(())
    }
}

struct TakeCeremony(String);

impl Body for TakeCeremony {
    type Out = Option<CeremonyRecord>;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<Option<CeremonyRecord>> {
        const SQL: &str = "DELETE FROM ceremonies WHERE id = $1 \
             RETURNING id, kind, user_id, session_id, state, created_at, expires_at";
        fetch_record(e, SQL, &[Arg::Text(&self.0)]).await
    }
}

/// A ceremony as `id, kind, user_id, session_id, state, created_at, expires_at`.
impl Record for CeremonyRecord {
    const KINDS: &'static [Kind] = {
        use Kind::{Int, OptText, Text};
        &[Text, Text, OptText, OptText, Text, Int, Int]
    };

    fn from_cols(c: &mut Cols) -> Result<CeremonyRecord> {
        Ok(CeremonyRecord {
            id: c.text()?,
            kind: c.text()?,
            user_id: c.opt_text()?,
            session_id: c.opt_text()?,
            state: c.text()?,
            created_at: c.int()?,
            expires_at: c.int()?,
        })
    }
}

impl Store {
    pub async fn put_ceremony(&self, c: &CeremonyRecord) -> Result<()> {
        self.transact(PutCeremony(c.clone())).await
    }

    /// Takes a ceremony out of the store: one atomic `DELETE … RETURNING`, so a
    /// challenge is handed out at most once however many requests race for it.
    pub async fn take_ceremony(&self, id: &str, kind: &str, now: i64) -> Result<Taken> {
        let row = self.transact(TakeCeremony(id.to_string())).await?;
        Ok(match row {
            None => Taken::Unknown,
            Some(c) if c.kind != kind => Taken::Unknown,
            Some(c) if now >= c.expires_at => Taken::Expired,
            Some(c) => Taken::Live(c),
        })
    }

    /// Spends a sealed ceremony on its own; `false` when it was spent before.
    pub async fn spend_ceremony(&self, c: &SpentCeremony) -> Result<bool> {
        self.transact(Spend(c.clone())).await
    }

    /// Whether a sealed ceremony was spent (a read; the spending itself decides races).
    pub async fn ceremony_spent(&self, id: &str) -> Result<bool> {
        self.read(IsSpent(id.to_string())).await
    }

    /// Removes expired ceremonies, sessions and tokens; returns how many rows went.
    pub async fn purge_expired(&self, now: i64) -> Result<u64> {
        let mut n = 0;
        for sql in [
            "DELETE FROM ceremonies WHERE id IN \
             (SELECT id FROM ceremonies WHERE expires_at <= $1 LIMIT $2)",
            "DELETE FROM spent_ceremonies WHERE id IN \
             (SELECT id FROM spent_ceremonies WHERE expires_at <= $1 LIMIT $2)",
            "DELETE FROM sessions WHERE id IN \
             (SELECT id FROM sessions WHERE expires_at <= $1 LIMIT $2)",
            // Throttles whose delay is over and untouched for a day (every policy has forgotten them).
            "DELETE FROM attempt_throttles WHERE key IN \
             (SELECT key FROM attempt_throttles WHERE updated_at <= $1 - 86400000 \
              AND blocked_until <= $1 LIMIT $2)",
        ] {
            n += self.purge_in_chunks(sql, now).await?;
        }
        Ok(n + self.purge_expired_tokens(now).await?)
    }

    /// Runs a purge statement (`$1` the time, `$2` the chunk size) until it deletes less
    /// than a chunk: each chunk a short transaction of its own, so sign-ins and token
    /// responses (which need the same writer) wait for one chunk at most, never for the
    /// whole backlog.
    pub(crate) async fn purge_in_chunks(&self, sql: &'static str, now: i64) -> Result<u64> {
        let mut total = 0u64;
        loop {
            let n = self.transact(PurgeChunk { sql, now }).await?;
            total = total.saturating_add(n);
            if n < PURGE_CHUNK as u64 {
                return Ok(total);
            }
        }
    }
}

/// One chunk of a purge (see [`Store::purge_in_chunks`]).
struct PurgeChunk {
    sql: &'static str,
    now: i64,
}

impl Body for PurgeChunk {
    type Out = u64;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<u64> {
        e.exec(self.sql, &[Arg::Int(self.now), Arg::Int(PURGE_CHUNK)])
            .await
    }
}
