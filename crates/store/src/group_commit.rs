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

use crate::{Result, StoreError};
use sqlx::{AnyConnection, AnyPool};
use std::future::Future;
use std::pin::Pin;
use tokio::sync::{mpsc, oneshot};

/// The future a transaction body returns; it borrows only the connection.
pub type TxFuture<'c, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'c>>;

/// A type-erased transaction body: writes its result where its caller reads it.
pub(crate) type Body = Box<dyn for<'c> FnMut(&'c mut AnyConnection) -> TxFuture<'c, ()> + Send>;

/// The most bodies one transaction runs. Large enough to amortise the fsync under load,
/// small enough that the first caller of a batch does not wait long for the last.
pub(crate) const MAX_BATCH: usize = 128;

/// Bodies waiting beyond this make callers wait to enqueue (back-pressure).
const QUEUE: usize = 4096;

struct Queued {
    body: Body,
    done: oneshot::Sender<Result<()>>,
}

#[derive(Clone)]
pub(crate) struct GroupCommit {
    queue: mpsc::Sender<Queued>,
}

impl GroupCommit {
    /// Starts the committing task on the current runtime.
    pub(crate) fn start(writer: AnyPool) -> GroupCommit {
        let (queue, rx) = mpsc::channel(QUEUE);
        tokio::spawn(commit_loop(writer, rx));
        GroupCommit { queue }
    }

    /// Runs `body` in the next group transaction; returns once that transaction committed.
    pub(crate) async fn run(&self, body: Body) -> Result<()> {
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

async fn commit_loop(writer: AnyPool, mut rx: mpsc::Receiver<Queued>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        match together(&writer, &mut batch).await {
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
                    let r = alone(&writer, &mut q.body).await;
                    let _ = q.done.send(r);
                }
            }
        }
    }
}

async fn together(writer: &AnyPool, batch: &mut [Queued]) -> Result<()> {
    let mut tx = writer.begin().await?;
    for q in batch.iter_mut() {
        (q.body)(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn alone(writer: &AnyPool, body: &mut Body) -> Result<()> {
    let mut tx = writer.begin().await?;
    body(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}

impl crate::Store {
    /// Runs `body` in a write transaction and returns its result once committed: through
    /// the group commit on SQLite, in a transaction of its own on PostgreSQL. The body
    /// may run more than once (see the module notes) and must not keep state between runs.
    pub(crate) async fn transact<T, F>(&self, body: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> Fn(&'c mut AnyConnection) -> TxFuture<'c, T> + Send + Sync + 'static,
    {
        let Some(group) = &self.group else {
            let mut tx = self.writer.begin().await?;
            let value = body(&mut tx).await?;
            tx.commit().await?;
            return Ok(value);
        };
        let slot = std::sync::Arc::new(std::sync::Mutex::new(None));
        let out = slot.clone();
        group
            .run(Box::new(move |conn| {
                let run = body(conn);
                let out = out.clone();
                Box::pin(async move {
                    let value = run.await?;
                    *out.lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
                    Ok(())
                })
            }))
            .await?;
        let value = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        value.ok_or_else(|| StoreError::Corrupt("a committed transaction left no result".into()))
    }
}

#[cfg(test)]
mod tests {
    use crate::{SignInEvent, Store};
    use std::sync::Arc;

    async fn sqlite() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("k.db").display());
        (Store::open(&url).await.unwrap(), dir)
    }

    /// Inserts a spent-ceremony row; with `strict`, a duplicate id is a database error.
    fn insert(
        store: &Store,
        id: String,
        strict: bool,
    ) -> impl Future<Output = crate::Result<()>> + Send + use<> {
        let store = store.clone();
        let id = Arc::new(id);
        async move {
            store
                .transact(move |conn| {
                    let id = id.clone();
                    Box::pin(async move {
                        let sql = if strict {
                            "INSERT INTO spent_ceremonies (id, expires_at) VALUES ($1, 1)"
                        } else {
                            "INSERT INTO spent_ceremonies (id, expires_at) VALUES ($1, 1) ON CONFLICT (id) DO NOTHING"
                        };
                        sqlx::query(sql).bind(id.as_str()).execute(conn).await?;
                        Ok(())
                    })
                })
                .await
        }
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
                    .log_signin(&SignInEvent {
                        at: i,
                        method: "passkey",
                        outcome: "success",
                        reason: "ok",
                        ..Default::default()
                    })
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
