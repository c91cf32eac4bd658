//! SQLite reads on the hot paths (the passkey and its owner at sign-in, the session behind
//! a cookie, clients, codes, tokens and grants), run in the calling thread on a rusqlite
//! connection taken from a small idle list. A point read of cached pages takes a few
//! microseconds; through sqlx it would cost a pool checkout and two thread hand-offs.
//! PostgreSQL reads go through the sqlx pool.

use crate::exec::{SqliteConn, run_ready};
use crate::group_commit::Body;
use crate::{Result, Store};
use std::sync::Mutex;

/// Idle reader connections kept; more are opened under load and closed after.
const MAX_IDLE: usize = 8;

pub(crate) struct Readers {
    path: String,
    idle: Mutex<Vec<rusqlite::Connection>>,
}

impl Readers {
    pub(crate) fn new(path: &str) -> Readers {
        Readers {
            path: path.to_string(),
            idle: Mutex::new(Vec::new()),
        }
    }

    fn take(&self) -> Result<rusqlite::Connection> {
        if let Some(c) = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            return Ok(c);
        }
        let c = rusqlite::Connection::open(&self.path)?;
        c.execute_batch("PRAGMA query_only = ON; PRAGMA busy_timeout = 5000;")?;
        c.set_prepared_statement_cache_capacity(32);
        Ok(c)
    }

    fn put(&self, c: rusqlite::Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(c);
        }
    }
}

impl Store {
    /// Runs a read-only `body`: in the calling thread on SQLite, through the pool on PostgreSQL.
    pub(crate) async fn read<B: Body>(&self, body: B) -> Result<B::Out> {
        match &self.readers {
            Some(readers) => {
                let mut conn = readers.take()?;
                let out = run_ready(body.run(&mut SqliteConn(&mut conn)));
                readers.put(conn);
                out
            }
            None => {
                let mut conn = self.pool.acquire().await?;
                body.run(&mut *conn).await
            }
        }
    }
}

impl Store {
    /// Every row of a read off the hot paths, as `R`, through the pool.
    pub(crate) async fn records<R: crate::exec::Record>(
        &self,
        sql: &'static str,
        args: &[crate::exec::Arg<'_>],
    ) -> Result<Vec<R>> {
        let mut conn = self.pool.acquire().await?;
        crate::exec::fetch_records(&mut *conn, sql, args).await
    }

    /// The first row of a read off the hot paths, as `R`, through the pool.
    pub(crate) async fn record<R: crate::exec::Record>(
        &self,
        sql: &'static str,
        args: &[crate::exec::Arg<'_>],
    ) -> Result<Option<R>> {
        let mut conn = self.pool.acquire().await?;
        crate::exec::fetch_record(&mut *conn, sql, args).await
    }
}
