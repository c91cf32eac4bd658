//! Reads. On SQLite every read of records (the passkey and its owner at sign-in, the
//! session behind a cookie, clients, codes, tokens and grants, and the listings) runs in
//! the calling thread on a rusqlite connection taken from a small idle list: a point read
//! of cached pages takes a few microseconds, where sqlx would cost a pool checkout and two
//! thread hand-offs. PostgreSQL reads go through the sqlx pool.

use crate::exec::{
    Arg, Exec, OwnedArg, Record, SqliteConn, fetch_record, fetch_records, run_ready,
};
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

/// A read of records by one statement, as a [`Body`]: on SQLite it runs in the calling
/// thread like every hot read, on PostgreSQL on a pooled connection.
struct ReadRecords<R> {
    sql: &'static str,
    args: Vec<OwnedArg>,
    first_only: bool,
    record: std::marker::PhantomData<fn() -> R>,
}

impl<R: Record + 'static> Body for ReadRecords<R> {
    type Out = Vec<R>;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<Vec<R>> {
        let args: Vec<Arg<'_>> = self.args.iter().map(OwnedArg::borrow).collect();
        if self.first_only {
            Ok(fetch_record(e, self.sql, &args)
                .await?
                .into_iter()
                .collect())
        } else {
            fetch_records(e, self.sql, &args).await
        }
    }
}

impl Store {
    /// Every row `sql` reads, as `R`.
    pub(crate) async fn records<R: Record + 'static>(
        &self,
        sql: &'static str,
        args: &[Arg<'_>],
    ) -> Result<Vec<R>> {
        self.read(ReadRecords {
            sql,
            args: args.iter().map(OwnedArg::from).collect(),
            first_only: false,
            record: std::marker::PhantomData,
        })
        .await
    }

    /// The first row `sql` reads, as `R`.
    pub(crate) async fn record<R: Record + 'static>(
        &self,
        sql: &'static str,
        args: &[Arg<'_>],
    ) -> Result<Option<R>> {
        let rows = self
            .read(ReadRecords {
                sql,
                args: args.iter().map(OwnedArg::from).collect(),
                first_only: true,
                record: std::marker::PhantomData,
            })
            .await?;
        Ok(rows.into_iter().next())
    }
}
