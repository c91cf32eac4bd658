//! Bulk writes on SQLite (directory imports): one transaction on a connection of its own,
//! in a blocking thread, each row one run of a statement prepared once (rusqlite binds a
//! row's parameters in a few microseconds; sqlx's multi-row statements spend most of an
//! import binding values by name), under a page cache large enough that the index pages
//! a batch touches stay in memory until the commit instead of spilling to the
//! write-ahead log mid-transaction. While it runs it holds the sqlx writer, the pool of
//! one that every other write takes (the group commit included), so nothing in the
//! process contends for SQLite's lock. The connection is kept between imports, so a large
//! import made of many batches finds its index pages still cached (nothing else writes
//! while it holds the writer, so SQLite keeps the cache valid), and it is dropped with
//! the store. PostgreSQL imports take the sqlx path.

use crate::exec::SqliteConn;
use crate::{Result, Store, StoreError};
use std::sync::{Arc, Mutex};

/// The bulk connection, opened on first use.
#[derive(Default)]
pub(crate) struct BulkConn(Mutex<Option<rusqlite::Connection>>);

/// The bulk connection's page cache, in KiB (SQLite's default is 2 MiB).
const CACHE_KIB: i64 = 128 * 1024;

impl Store {
    /// Drops the bulk connection and its cache.
    pub(crate) fn close_bulk(&self) {
        *self.bulk.0.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Runs `f` in one write transaction on a rusqlite connection to `file` (the store's
    /// `sqlite_file`): committed when it returns `Ok`, rolled back otherwise.
    pub(crate) async fn bulk_sqlite<T, F>(&self, file: Arc<str>, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut SqliteConn<'_>) -> Result<T> + Send + 'static,
    {
        let _writer = self.writer.acquire().await?;
        let bulk = self.bulk.clone();
        tokio::task::spawn_blocking(move || {
            let mut kept = bulk.0.lock().unwrap_or_else(|e| e.into_inner());
            let conn = match &mut *kept {
                Some(c) => c,
                None => {
                    let c = rusqlite::Connection::open(&*file)?;
                    c.execute_batch(crate::group_commit::PRAGMAS)?;
                    c.pragma_update(None, "cache_size", -CACHE_KIB)?;
                    kept.insert(c)
                }
            };
            crate::group_commit::immediate(conn, f)
        })
        .await
        .map_err(|e| StoreError::Corrupt(format!("a bulk write stopped: {e}")))?
    }
}
