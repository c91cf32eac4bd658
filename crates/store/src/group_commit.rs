//! Group commit for SQLite's single writer.
//!
//! On SQLite every commit is an fsync of the write-ahead log (`synchronous = FULL`),
//! and commits are serial: one writer connection. An fsync costs 150–300 µs on the
//! machines Keyfort is measured on, so one commit per request caps a server at a few
//! thousand writes per second whatever its CPU. Instead, the hot write paths (sign-ins,
//! refusals, token responses, ceremonies) queue their transaction bodies here; one task
//! runs whatever has queued — up to [`MAX_BATCH`] bodies — inside one transaction, and
//! every caller learns its result only after that transaction committed. An answer is
//! therefore never given for a write that is not durable.
//!
//! A body that fails (a database error, not a refusal: refusals are ordinary results)
//! must not take the others down with it, so a failed batch is rolled back and its
//! bodies are run again one transaction each. Bodies are written to be rerun: they hold
//! their inputs and decide only from what they read inside the transaction.
//!
//! PostgreSQL does not use this: its connections commit concurrently and the server
//! groups their WAL flushes itself.

use crate::exec::{Exec, SqliteConn, run_ready};
use crate::{Result, StoreError};
use sqlx::AnyPool;
use std::future::Future;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// A unit of database work written once against [`Exec`]. As a write transaction's body
/// (`Store::transact`) it runs in the group commit on SQLite and in a transaction of its
/// own on PostgreSQL, and may run more than once (see the module notes), so it decides
/// only from what it reads inside the transaction. Reads use it too (`Store::read`).
pub(crate) trait Body: Send + Sync + 'static {
    type Out: Send + 'static;
    fn run<E: Exec>(&self, e: &mut E) -> impl Future<Output = Result<Self::Out>> + Send;
}

/// A type-erased body: writes its result where its caller reads it.
type Erased = Box<dyn FnMut(&mut SqliteConn<'_>) -> Result<()> + Send>;

/// The most bodies one transaction runs. Large enough to amortise the fsync under load,
/// small enough that the first caller of a batch does not wait long for the last.
pub(crate) const MAX_BATCH: usize = 128;

/// Bodies waiting beyond this make callers wait to enqueue (back-pressure).
const QUEUE: usize = 4096;

struct Queued {
    body: Erased,
    done: oneshot::Sender<Result<()>>,
}

#[derive(Clone)]
pub(crate) struct GroupCommit {
    queue: mpsc::Sender<Queued>,
}

// The writer's connection (and a bulk import's): the same settings as every other
// connection (`pool::SQLITE_PRAGMAS`).
pub(crate) const PRAGMAS: &str = crate::pool::SQLITE_PRAGMAS;

/// The file behind a `sqlite:` URL; `None` for an in-memory database, which a second
/// connection would not share.
pub(crate) fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && !path.contains(":memory:")).then_some(path)
}

impl GroupCommit {
    /// Opens the writer's own connection to `path` and starts the committing loop on a
    /// thread of its own, where each statement runs in-thread: no hand-off per statement,
    /// and no wait behind the request tasks for each wake-up. While a group runs, the loop
    /// holds the connection of `writer` (the pool of one that every other write uses), so
    /// writes never contend for SQLite's lock inside the process.
    pub(crate) fn start(path: &str, writer: AnyPool) -> Result<GroupCommit> {
        let conn = rusqlite::Connection::open(path)?;
        conn.execute_batch(PRAGMAS)?;
        conn.set_prepared_statement_cache_capacity(64);
        let (queue, rx) = mpsc::channel(QUEUE);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(sqlx::Error::Io)?;
        std::thread::Builder::new()
            .name("keyfort-writer".into())
            .spawn(move || runtime.block_on(commit_loop(conn, writer, rx)))
            .map_err(sqlx::Error::Io)?;
        Ok(GroupCommit { queue })
    }

    /// Runs `body` in the next group transaction; returns once that transaction committed.
    async fn run(&self, body: Erased) -> Result<()> {
        let (done, wait) = oneshot::channel();
        self.queue
            .send(Queued { body, done })
            .await
            .map_err(|_| stopped())?;
        wait.await.map_err(|_| stopped())?
    }
}

fn stopped() -> StoreError {
    StoreError::Database(sqlx::Error::PoolClosed)
}

async fn commit_loop(
    mut conn: rusqlite::Connection,
    writer: AnyPool,
    mut rx: mpsc::Receiver<Queued>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let guard = match writer.acquire().await {
            Ok(g) => g,
            Err(e) => {
                tracing::error!(error = %e, "the SQLite writer is unavailable");
                for q in batch.drain(..) {
                    let _ = q.done.send(Err(stopped()));
                }
                continue;
            }
        };
        match together(&mut conn, &mut batch) {
            Ok(()) => {
                for q in batch.drain(..) {
                    let _ = q.done.send(Ok(()));
                }
            }
            Err(e) if batch.len() == 1 => {
                if let Some(q) = batch.pop() {
                    let _ = q.done.send(Err(e));
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, size = batch.len(), "group commit failed; running its bodies one by one");
                for mut q in batch.drain(..) {
                    let r = together(&mut conn, std::slice::from_mut(&mut q));
                    let _ = q.done.send(r);
                }
            }
        }
        drop(guard);
    }
}

/// Runs `batch` in one transaction: all committed, or none.
fn together(conn: &mut rusqlite::Connection, batch: &mut [Queued]) -> Result<()> {
    immediate(conn, |w| batch.iter_mut().try_for_each(|q| (q.body)(w)))
}

/// Runs `f` in one `BEGIN IMMEDIATE` transaction on `conn`: committed when it returns
/// `Ok`, rolled back otherwise (the group commit's groups, and bulk imports).
pub(crate) fn immediate<T>(
    conn: &mut rusqlite::Connection,
    f: impl FnOnce(&mut SqliteConn<'_>) -> Result<T>,
) -> Result<T> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let ended = match f(&mut SqliteConn(conn)) {
        Ok(v) => conn
            .execute_batch("COMMIT")
            .map(|()| v)
            .map_err(StoreError::from),
        Err(e) => Err(e),
    };
    if ended.is_err() && !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    ended
}

impl crate::Store {
    /// Runs `body` in a write transaction and returns its result once committed: through
    /// the group commit on SQLite, in a transaction of its own on PostgreSQL.
    pub(crate) async fn transact<B: Body>(&self, body: B) -> Result<B::Out> {
        let Some(group) = &self.group else {
            let mut tx = self.writer.begin().await?;
            let value = body.run(&mut *tx).await?;
            tx.commit().await?;
            return Ok(value);
        };
        let slot = Arc::new(Mutex::new(None));
        let out = slot.clone();
        group
            .run(Box::new(move |w| {
                let value = run_ready(body.run(w))?;
                *out.lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
                Ok(())
            }))
            .await?;
        let value = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        value.ok_or_else(|| StoreError::Corrupt("a committed transaction left no result".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::Body;
    use crate::exec::{Arg, Exec};
    use crate::{SignInEvent, Store};

    use crate::test_sqlite as sqlite;

    /// Inserts a spent-ceremony row; with `strict`, a duplicate id is a database error.
    struct Insert {
        id: String,
        strict: bool,
    }

    impl Body for Insert {
        type Out = ();

        async fn run<E: Exec>(&self, e: &mut E) -> crate::Result<()> {
            let sql = if self.strict {
                "INSERT INTO spent_ceremonies (id, expires_at) VALUES ($1, 1)"
            } else {
                "INSERT INTO spent_ceremonies (id, expires_at) VALUES ($1, 1) ON CONFLICT (id) DO NOTHING"
            };
            e.exec(sql, &[Arg::Text(&self.id)]).await?;
            Ok(())
        }
    }

    fn insert(
        store: &Store,
        id: String,
        strict: bool,
    ) -> impl Future<Output = crate::Result<()>> + Send + use<> {
        let store = store.clone();
        async move { store.transact(Insert { id, strict }).await }
    }

    async fn count(store: &Store) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM spent_ceremonies")
            .fetch_one(&store.pool)
            .await
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_all_commit() {
        let (store, _dir) = sqlite().await;
        assert!(store.group.is_some(), "SQLite commits in groups");
        let writes = (0..300).map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .log_signin(
                        &SignInEvent {
                            at: i,
                            method: "passkey",
                            outcome: "success",
                            reason: "ok",
                            ..Default::default()
                        },
                        None,
                    )
                    .await
            })
        });
        for w in writes.collect::<Vec<_>>() {
            w.await.unwrap().unwrap();
        }
        assert_eq!(store.signin_log(1000).await.unwrap().len(), 300);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_body_fails_alone() {
        let (store, _dir) = sqlite().await;
        insert(&store, "taken".into(), true).await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..100 {
            // Every tenth body collides with the existing row and fails.
            let (id, expect_ok) = if i % 10 == 5 {
                ("taken".to_string(), false)
            } else {
                (format!("id{i}"), true)
            };
            let write = insert(&store, id, true);
            tasks.push((expect_ok, tokio::spawn(write)));
        }
        for (i, (expect_ok, t)) in tasks.into_iter().enumerate() {
            assert_eq!(t.await.unwrap().is_ok(), expect_ok, "body {i}");
        }
        assert_eq!(count(&store).await, 1 + 90);
        // A body that changes nothing still reports success.
        insert(&store, "taken".into(), false).await.unwrap();
        assert_eq!(count(&store).await, 91);
    }
}
