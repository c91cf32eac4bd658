use crate::Result;
use crate::group_commit::GroupCommit;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Connection, Executor};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The one entry point to persistence. Cheap to clone.
///
/// Reads go to `pool`; writes go to `writer`. On SQLite the writer is a pool of one
/// connection, so writes queue in order inside the process instead of contending for
/// the database lock (where SQLite's busy handler would sleep them in back-off steps);
/// on PostgreSQL both are the same pool.
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    pub(crate) writer: AnyPool,
    /// SQLite: the hot write paths commit in groups (see `group_commit`).
    pub(crate) group: Option<GroupCommit>,
    /// SQLite: hot-path reads in the calling thread (see `readers`).
    pub(crate) readers: Option<std::sync::Arc<crate::readers::Readers>>,
    /// SQLite: the database file, for bulk writes on a connection of their own (see `bulk`).
    pub(crate) sqlite_file: Option<std::sync::Arc<str>>,
    pub(crate) bulk: std::sync::Arc<crate::bulk::BulkConn>,
    backend: Backend,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish()
    }
}

// SQLite: WAL for concurrent readers; synchronous=FULL so an acknowledged
// write survives a crash of the machine, not only of the process. The log is copied
// back into the database (checkpointed) once it holds 10,000 pages (about 40 MB) rather
// than SQLite's default 1,000: the pages every commit rewrites (the ends of the
// time-ordered indexes, the hot rows) are then copied back once for ten times as many
// commits, and the writer spends that much less of each group copying. Durability is
// unchanged: every commit is still an fsync of the log.
pub(crate) const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; PRAGMA wal_autocheckpoint = 10000;";

/// PostgreSQL connections idle longer than this are checked before use.
const PING_WHEN_IDLE: Duration = Duration::from_secs(1);

impl Store {
    /// Connects and brings the schema up to date.
    pub async fn open(url: &str) -> Result<Store> {
        let store = Store::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects without migrating.
    pub async fn connect(url: &str) -> Result<Store> {
        install_default_drivers();
        let backend = Backend::from_url(url).ok_or_else(|| {
            sqlx::Error::Configuration(
                "the database URL must start with sqlite: or postgres://".into(),
            )
        })?;
        let options = || {
            let o = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(5));
            match backend {
                // A connection to a local file does not go stale: no ping (a round trip
                // to the connection's worker thread) before every use.
                Backend::Sqlite => o.test_before_acquire(false).after_connect(|conn, _| {
                    Box::pin(async move {
                        conn.execute(sqlx::raw_sql(SQLITE_PRAGMAS)).await?;
                        Ok(())
                    })
                }),
                // A connection that was just in use is not pinged again before the next
                // use (a round trip each); one idle for a while is, so a restarted server
                // costs no request an error.
                Backend::Postgres => o.test_before_acquire(false).before_acquire(|conn, meta| {
                    Box::pin(async move {
                        if meta.idle_for > PING_WHEN_IDLE {
                            conn.ping().await?;
                        }
                        Ok(true)
                    })
                }),
            }
        };
        let (pool, writer, group, readers, sqlite_file) = match backend {
            Backend::Sqlite => {
                // The writer first: it creates the database file and switches it to WAL.
                let writer = options()
                    .max_connections(1)
                    .min_connections(1)
                    .connect(url)
                    .await?;
                let pool = options()
                    .max_connections(8)
                    .min_connections(1)
                    .connect(url)
                    .await?;
                let (group, readers, file) = match crate::group_commit::sqlite_path(url) {
                    Some(path) => (
                        Some(GroupCommit::start(path, writer.clone())?),
                        Some(std::sync::Arc::new(crate::readers::Readers::new(path))),
                        Some(std::sync::Arc::from(path)),
                    ),
                    None => (None, None, None),
                };
                (pool, writer, group, readers, file)
            }
            Backend::Postgres => {
                let pool = options().max_connections(16).connect(url).await?;
                (pool.clone(), pool, None, None, None)
            }
        };
        Ok(Store {
            pool,
            writer,
            group,
            readers,
            sqlite_file,
            bulk: Default::default(),
            backend,
        })
    }

    /// Runs the migrations: those in `migrations/common`, the same SQL on both backends,
    /// with the backend's own where its SQL must differ, in version order.
    pub async fn migrate(&self) -> Result<()> {
        let common = sqlx::migrate!("./migrations/common");
        let own = match self.backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        let all = common.iter().chain(own.iter()).cloned().collect();
        sqlx::migrate::Migrator::with_migrations(all)
            .run(&self.pool)
            .await?;
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Readiness: the store answers a query.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.writer).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.close_bulk();
        self.pool.close().await;
        self.writer.close().await;
    }
}
