use crate::exec::{Arg, Cols, Exec, Kind, Record};
use crate::group_commit::Body;
use crate::{Result, SignInEvent, SpentCeremony, Store, flag};
use keyfort_core::session::{SessionFacts, SignInMethod};

/// A browser session. Only the hash of the cookie token is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    pub id: String,
    pub token_hash: String,
    pub user_id: String,
    pub method: SignInMethod,
    pub passkey_id: Option<String>,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_seen_at: i64,
    /// For a pass sign-in: whether the pass was one-time, and when it expires.
    pub pass_one_time: bool,
    pub pass_expires_at: Option<i64>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl SessionRecord {
    pub fn facts(&self) -> SessionFacts {
        SessionFacts {
            method: self.method,
            auth_time: self.auth_time,
            expires_at: self.expires_at,
            last_seen_at: self.last_seen_at,
            pass_one_time: self.pass_one_time,
            pass_expires_at: self.pass_expires_at,
        }
    }
}

/// `last_seen_at` moves at most this often: a session may idle out up to a minute early.
pub const TOUCH_INTERVAL_MS: i64 = 60_000;

macro_rules! session_columns {
    () => {
        "id, token_hash, user_id, method, passkey_id, auth_time, created_at, expires_at, \
     last_seen_at, pass_one_time, pass_expires_at, ip, user_agent"
    };
}

impl Store {
    /// Everything a successful sign-in writes, committed together (one durable write):
    /// the sealed ceremony's id spent, the pass spent, the passkey's new counter (only if
    /// it still moves forward), the session, the user's last-sign-in time and the sign-in
    /// log row. Nothing is written when the ceremony or a one-time pass was spent before.
    pub async fn record_signin(&self, w: SignInWrite<'_>) -> Result<Recorded> {
        self.transact(RecordSignin::from(w)).await
    }

    /// [`Store::record_signin`] and, in the same commit, the grant and code that answer the
    /// authorization request the sign-in was started for (that request spent with them).
    /// The second value says whether they were written: not when the sign-in was not
    /// (a replay, a counter race, a spent pass), nor when the request had been answered
    /// before.
    pub async fn record_signin_answering(
        &self,
        w: SignInWrite<'_>,
        answer: (&crate::GrantRecord, &crate::CodeRecord, &SpentCeremony),
    ) -> Result<(Recorded, bool)> {
        let (grant, code, request) = answer;
        self.transact(RecordSigninAnswering(
            RecordSignin::from(w),
            crate::grants::GrantWithCode(grant.clone(), code.clone(), Some(request.clone())),
        ))
        .await
    }

    /// The session behind a cookie's token hash, with its user, in one read.
    pub async fn session_with_user(
        &self,
        token_hash: &str,
    ) -> Result<Option<(SessionRecord, crate::User)>> {
        self.read(SessionWithUser(token_hash.to_string())).await
    }

    /// Slides the idle timer; written at most once a minute per session to spare the writer.
    /// A session seen within the last minute is not even queued for the writer.
    pub async fn touch_session(&self, session: &SessionRecord, now: i64) -> Result<()> {
        if now - session.last_seen_at < TOUCH_INTERVAL_MS {
            return Ok(());
        }
        self.transact(TouchSession {
            id: session.id.clone(),
            now,
        })
        .await
    }

    /// Removes a session found expired or idle.
    pub async fn delete_session(&self, id: &str) -> Result<()> {
        self.transact(DeleteSession(id.to_string())).await
    }
}

/// What a successful sign-in writes (see [`Store::record_signin`]).
#[derive(Debug, Clone, Copy)]
pub struct SignInWrite<'a> {
    pub session: &'a SessionRecord,
    pub event: &'a SignInEvent,
    /// The passkey used, and its new counter.
    pub passkey: Option<PasskeyUse<'a>>,
    /// The sealed ceremony the sign-in answered.
    pub ceremony: Option<&'a SpentCeremony>,
    /// The Temporary Access Pass signed in with (its id): spent in this commit.
    pub pass: Option<&'a str>,
}

/// What [`Store::record_signin`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Everything written.
    SignedIn,
    /// The ceremony was spent before: nothing written.
    Replayed,
    /// A concurrent use of the passkey moved its counter past this one: only the
    /// ceremony was spent.
    CounterRaced,
    /// The one-time pass was spent by another sign-in first: nothing written.
    PassSpent,
}

/// A successful passkey assertion's effect on the stored credential.
#[derive(Debug, Clone, Copy)]
pub struct PasskeyUse<'a> {
    pub id: &'a str,
    pub sign_count: i64,
    pub backup_state: bool,
    pub now: i64,
}

/// [`PasskeyUse`] held by a queued transaction body.
#[derive(Debug, Clone)]
pub(crate) struct OwnedUse {
    pub id: String,
    pub sign_count: i64,
    pub backup_state: bool,
    pub now: i64,
}

impl From<PasskeyUse<'_>> for OwnedUse {
    fn from(u: PasskeyUse<'_>) -> OwnedUse {
        OwnedUse {
            id: u.id.to_string(),
            sign_count: u.sign_count,
            backup_state: u.backup_state,
            now: u.now,
        }
    }
}

struct RecordSignin {
    session: SessionRecord,
    event: SignInEvent,
    passkey: Option<OwnedUse>,
    ceremony: Option<SpentCeremony>,
    pass: Option<String>,
}

impl From<SignInWrite<'_>> for RecordSignin {
    fn from(w: SignInWrite<'_>) -> RecordSignin {
        RecordSignin {
            session: w.session.clone(),
            event: w.event.clone(),
            passkey: w.passkey.map(OwnedUse::from),
            ceremony: w.ceremony.cloned(),
            pass: w.pass.map(str::to_string),
        }
    }
}

impl Body for RecordSignin {
    type Out = Recorded;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<Recorded> {
        if let Some(c) = &self.ceremony
            && !crate::ceremonies::spend(e, c).await?
        {
            return Ok(Recorded::Replayed);
        }
        if let Some(pass) = &self.pass
            && !crate::passes::spend(e, pass, self.session.auth_time).await?
        {
            return Ok(Recorded::PassSpent);
        }
        if let Some(p) = &self.passkey
            && !crate::passkeys::record_use(e, p).await?
        {
            return Ok(Recorded::CounterRaced);
        }
        insert_session(e, &self.session).await?;
        e.exec(
            "UPDATE users SET last_signin_at = $1 WHERE id = $2",
            &[
                Arg::Int(self.session.auth_time),
                Arg::Text(&self.session.user_id),
            ],
        )
        .await?;
        crate::logs::insert_signin(e, &self.event).await?;
        Ok(Recorded::SignedIn)
    }
}

struct RecordSigninAnswering(RecordSignin, crate::grants::GrantWithCode);

impl Body for RecordSigninAnswering {
    type Out = (Recorded, bool);

    async fn run<E: Exec>(&self, e: &mut E) -> Result<(Recorded, bool)> {
        let recorded = self.0.run(e).await?;
        if recorded != Recorded::SignedIn {
            return Ok((recorded, false));
        }
        Ok((recorded, self.1.run(e).await?))
    }
}

/// A session as [`session_columns`] lists its columns, in that order.
impl Record for SessionRecord {
    const KINDS: &'static [Kind] = {
        use Kind::{Int, OptInt, OptText, Text};
        &[
            Text, Text, Text, Text, OptText, Int, Int, Int, Int, Int, OptInt, OptText, OptText,
        ]
    };

    fn from_cols(c: &mut Cols) -> Result<SessionRecord> {
        Ok(SessionRecord {
            id: c.text()?,
            token_hash: c.text()?,
            user_id: c.text()?,
            method: c.parsed("sign-in method", SignInMethod::parse)?,
            passkey_id: c.opt_text()?,
            auth_time: c.int()?,
            created_at: c.int()?,
            expires_at: c.int()?,
            last_seen_at: c.int()?,
            pass_one_time: c.flag()?,
            pass_expires_at: c.opt_int()?,
            ip: c.opt_text()?,
            user_agent: c.opt_text()?,
        })
    }
}

struct SessionWithUser(String);

impl Body for SessionWithUser {
    type Out = Option<(SessionRecord, crate::User)>;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<Self::Out> {
        const SQL: &str = concat!(
            "SELECT s.id, s.token_hash, s.user_id, s.method, s.passkey_id, s.auth_time, \
             s.created_at, s.expires_at, s.last_seen_at, s.pass_one_time, s.pass_expires_at, \
             s.ip, s.user_agent, ",
            crate::users::joined_user_columns!(),
            " FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1"
        );
        let args = [Arg::Text(&self.0)];
        crate::users::fetch_with_user(
            e,
            SQL,
            &args,
            SessionRecord::KINDS,
            SessionRecord::from_cols,
        )
        .await
    }
}

struct TouchSession {
    id: String,
    now: i64,
}

impl Body for TouchSession {
    type Out = ();

    async fn run<E: Exec>(&self, e: &mut E) -> Result<()> {
        e.exec(
            "UPDATE sessions SET last_seen_at = $1 WHERE id = $2 AND last_seen_at <= $3",
            &[
                Arg::Int(self.now),
                Arg::Text(&self.id),
                Arg::Int(self.now - TOUCH_INTERVAL_MS),
            ],
        )
        .await?;
        Ok(())
    }
}

async fn insert_session<E: Exec>(e: &mut E, s: &SessionRecord) -> Result<()> {
    e.exec(
        concat!(
            "INSERT INTO sessions (",
            session_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ),
        &[
            Arg::Text(&s.id),
            Arg::Text(&s.token_hash),
            Arg::Text(&s.user_id),
            Arg::Text(s.method.as_str()),
            Arg::OptText(s.passkey_id.as_deref()),
            Arg::Int(s.auth_time),
            Arg::Int(s.created_at),
            Arg::Int(s.expires_at),
            Arg::Int(s.last_seen_at),
            Arg::Int(flag(s.pass_one_time)),
            Arg::OptInt(s.pass_expires_at),
            Arg::OptText(s.ip.as_deref()),
            Arg::OptText(s.user_agent.as_deref()),
        ],
    )
    .await?;
    Ok(())
}

struct DeleteSession(String);

impl Body for DeleteSession {
    type Out = ();

    async fn run<E: Exec>(&self, e: &mut E) -> Result<()> {
        e.exec("DELETE FROM sessions WHERE id = $1", &[Arg::Text(&self.0)])
            .await?;
        Ok(())
    }
}
