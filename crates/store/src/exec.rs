//! One statement interface over the two ways Keyfort writes: sqlx connections (PostgreSQL,
//! and SQLite outside the hot paths) and the SQLite group-commit writer, which runs its
//! statements in-thread through rusqlite. Hot-path writes are written once, against
//! [`Exec`], with the same portable `$n` SQL for both.

use crate::{Result, StoreError};
use std::future::Future;
use std::task::{Context, Poll, Waker};

/// A bound parameter. Nulls carry their type: PostgreSQL wants to know it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg<'a> {
    Int(i64),
    Text(&'a str),
    OptInt(Option<i64>),
    OptText(Option<&'a str>),
}

/// An [`Arg`] that owns its text, for a body that keeps its parameters.
#[derive(Debug, Clone)]
pub(crate) enum OwnedArg {
    Int(i64),
    Text(String),
    OptInt(Option<i64>),
    OptText(Option<String>),
}

impl OwnedArg {
    pub(crate) fn borrow(&self) -> Arg<'_> {
        match self {
            OwnedArg::Int(v) => Arg::Int(*v),
            OwnedArg::Text(s) => Arg::Text(s),
            OwnedArg::OptInt(v) => Arg::OptInt(*v),
            OwnedArg::OptText(s) => Arg::OptText(s.as_deref()),
        }
    }
}

impl From<&Arg<'_>> for OwnedArg {
    fn from(a: &Arg<'_>) -> Self {
        match *a {
            Arg::Int(v) => OwnedArg::Int(v),
            Arg::Text(s) => OwnedArg::Text(s.to_string()),
            Arg::OptInt(v) => OwnedArg::OptInt(v),
            Arg::OptText(s) => OwnedArg::OptText(s.map(str::to_string)),
        }
    }
}

/// The type of a column read back.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    Int,
    OptInt,
    Text,
    OptText,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Text(String),
}

impl Value {
    pub(crate) fn int(&self) -> Result<i64> {
        match self {
            Value::Int(v) => Ok(*v),
            _ => Err(StoreError::Corrupt("expected an integer column".into())),
        }
    }

    pub(crate) fn text(self) -> Result<String> {
        match self {
            Value::Text(s) => Ok(s),
            _ => Err(StoreError::Corrupt("expected a text column".into())),
        }
    }

    pub(crate) fn opt_int(&self) -> Result<Option<i64>> {
        match self {
            Value::Null => Ok(None),
            Value::Int(v) => Ok(Some(*v)),
            Value::Text(_) => Err(StoreError::Corrupt("expected an integer column".into())),
        }
    }

    pub(crate) fn opt_text(self) -> Result<Option<String>> {
        match self {
            Value::Null => Ok(None),
            Value::Text(s) => Ok(Some(s)),
            Value::Int(_) => Err(StoreError::Corrupt("expected a text column".into())),
        }
    }
}

/// A row read through [`Exec::fetch_optional`], taken column by column in order.
pub(crate) struct Cols(std::vec::IntoIter<Value>);

impl Cols {
    pub(crate) fn new(row: Vec<Value>) -> Cols {
        Cols(row.into_iter())
    }

    fn next(&mut self) -> Result<Value> {
        self.0
            .next()
            .ok_or_else(|| StoreError::Corrupt("a row has fewer columns than read".into()))
    }

    pub(crate) fn int(&mut self) -> Result<i64> {
        self.next()?.int()
    }

    pub(crate) fn opt_int(&mut self) -> Result<Option<i64>> {
        self.next()?.opt_int()
    }

    pub(crate) fn text(&mut self) -> Result<String> {
        self.next()?.text()
    }

    pub(crate) fn opt_text(&mut self) -> Result<Option<String>> {
        self.next()?.opt_text()
    }

    /// A boolean stored as an integer (0 or 1).
    pub(crate) fn flag(&mut self) -> Result<bool> {
        Ok(self.int()? != 0)
    }

    /// A text column holding one of `core`'s enums.
    pub(crate) fn parsed<T>(&mut self, what: &str, parse: fn(&str) -> Option<T>) -> Result<T> {
        let s = self.text()?;
        parse(&s).ok_or_else(|| StoreError::Corrupt(format!("`{s}` is not a {what}")))
    }
}

/// A record read column by column: the kinds of its columns and its mapping, written
/// once, used by every query that reads it on either backend.
pub(crate) trait Record: Sized + Send {
    /// The kinds of the record's columns, in the order `from_cols` reads them.
    const KINDS: &'static [Kind];
    fn from_cols(c: &mut Cols) -> Result<Self>;
}

/// A single text column (a name, a value).
impl Record for String {
    const KINDS: &'static [Kind] = &[Kind::Text];

    fn from_cols(c: &mut Cols) -> Result<String> {
        c.text()
    }
}

/// A single integer column (a count).
impl Record for i64 {
    const KINDS: &'static [Kind] = &[Kind::Int];

    fn from_cols(c: &mut Cols) -> Result<i64> {
        c.int()
    }
}

/// Runs `sql` and reads its first row, if any, as `R`.
pub(crate) async fn fetch_record<R: Record, E: Exec>(
    e: &mut E,
    sql: &'static str,
    args: &[Arg<'_>],
) -> Result<Option<R>> {
    fetch_map(e, sql, args, R::KINDS, R::from_cols).await
}

/// Runs `sql` and reads every row as `R`.
pub(crate) async fn fetch_records<R: Record, E: Exec>(
    e: &mut E,
    sql: &'static str,
    args: &[Arg<'_>],
) -> Result<Vec<R>> {
    let rows = e.fetch_all(sql, args, R::KINDS).await?;
    rows.into_iter()
        .map(|row| R::from_cols(&mut Cols::new(row)))
        .collect()
}

/// Runs `sql` and maps its first row, if any, column by column.
pub(crate) async fn fetch_map<E: Exec, T>(
    e: &mut E,
    sql: &'static str,
    args: &[Arg<'_>],
    kinds: &[Kind],
    map: impl FnOnce(&mut Cols) -> Result<T> + Send,
) -> Result<Option<T>> {
    match e.fetch_optional(sql, args, kinds).await? {
        Some(row) => Ok(Some(map(&mut Cols::new(row))?)),
        None => Ok(None),
    }
}

pub(crate) trait Exec: Send {
    /// Runs one statement; returns the number of rows it changed.
    fn exec(
        &mut self,
        sql: &'static str,
        args: &[Arg<'_>],
    ) -> impl Future<Output = Result<u64>> + Send;

    /// Runs one statement and reads its first row, if any, as `kinds`.
    fn fetch_optional(
        &mut self,
        sql: &'static str,
        args: &[Arg<'_>],
        kinds: &[Kind],
    ) -> impl Future<Output = Result<Option<Vec<Value>>>> + Send;

    /// Runs one statement and reads every row as `kinds`.
    fn fetch_all(
        &mut self,
        sql: &'static str,
        args: &[Arg<'_>],
        kinds: &[Kind],
    ) -> impl Future<Output = Result<Vec<Vec<Value>>>> + Send;
}

/// A sqlx row's columns as `kinds`.
fn any_values(row: &sqlx::any::AnyRow, kinds: &[Kind]) -> Result<Vec<Value>> {
    use sqlx::Row;
    let mut out = Vec::with_capacity(kinds.len());
    for (i, k) in kinds.iter().enumerate() {
        out.push(match k {
            Kind::Int => Value::Int(row.try_get::<i64, _>(i)?),
            Kind::OptInt => match row.try_get::<Option<i64>, _>(i)? {
                Some(v) => Value::Int(v),
                None => Value::Null,
            },
            Kind::Text => Value::Text(row.try_get::<String, _>(i)?),
            Kind::OptText => match row.try_get::<Option<String>, _>(i)? {
                Some(s) => Value::Text(s),
                None => Value::Null,
            },
        });
    }
    Ok(out)
}

/// A rusqlite row's columns as `kinds`.
fn sqlite_values(row: &rusqlite::Row<'_>, kinds: &[Kind]) -> Result<Vec<Value>> {
    let mut out = Vec::with_capacity(kinds.len());
    for (i, k) in kinds.iter().enumerate() {
        out.push(match k {
            Kind::Int => Value::Int(row.get::<_, i64>(i)?),
            Kind::OptInt => match row.get::<_, Option<i64>>(i)? {
                Some(v) => Value::Int(v),
                None => Value::Null,
            },
            Kind::Text => Value::Text(row.get::<_, String>(i)?),
            Kind::OptText => match row.get::<_, Option<String>>(i)? {
                Some(s) => Value::Text(s),
                None => Value::Null,
            },
        });
    }
    Ok(out)
}

pub(crate) fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    args: &[Arg<'q>],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    for a in args {
        q = match *a {
            Arg::Int(v) => q.bind(v),
            Arg::Text(s) => q.bind(s),
            Arg::OptInt(v) => q.bind(v),
            Arg::OptText(s) => q.bind(s),
        };
    }
    q
}

impl Exec for sqlx::AnyConnection {
    async fn exec(&mut self, sql: &'static str, args: &[Arg<'_>]) -> Result<u64> {
        Ok(bind_all(sqlx::query(sql), args)
            .execute(self)
            .await?
            .rows_affected())
    }

    async fn fetch_optional(
        &mut self,
        sql: &'static str,
        args: &[Arg<'_>],
        kinds: &[Kind],
    ) -> Result<Option<Vec<Value>>> {
        let row = bind_all(sqlx::query(sql), args)
            .fetch_optional(self)
            .await?;
        row.map(|r| any_values(&r, kinds)).transpose()
    }

    async fn fetch_all(
        &mut self,
        sql: &'static str,
        args: &[Arg<'_>],
        kinds: &[Kind],
    ) -> Result<Vec<Vec<Value>>> {
        let rows = bind_all(sqlx::query(sql), args).fetch_all(self).await?;
        rows.iter().map(|r| any_values(r, kinds)).collect()
    }
}

/// A rusqlite connection (the group-commit writer's, or a reader's): statements run in
/// the calling thread, prepared once and cached, parameters bound by their `$n` names.
pub(crate) struct SqliteConn<'c>(pub(crate) &'c mut rusqlite::Connection);

const NAMES: [&str; 16] = [
    "$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10", "$11", "$12", "$13", "$14", "$15",
    "$16",
];

fn prepare<'c>(
    conn: &'c rusqlite::Connection,
    sql: &'static str,
    args: &[Arg<'_>],
) -> Result<rusqlite::CachedStatement<'c>> {
    if args.len() > NAMES.len() {
        return Err(StoreError::Corrupt(format!(
            "{} parameters; the writer binds at most {}",
            args.len(),
            NAMES.len()
        )));
    }
    let mut st = conn.prepare_cached(sql)?;
    for (name, a) in NAMES.iter().zip(args) {
        let Some(i) = st.parameter_index(name)? else {
            return Err(StoreError::Corrupt(format!("no parameter {name} in {sql}")));
        };
        match *a {
            Arg::Int(v) => st.raw_bind_parameter(i, v)?,
            Arg::Text(s) => st.raw_bind_parameter(i, s)?,
            Arg::OptInt(v) => st.raw_bind_parameter(i, v)?,
            Arg::OptText(s) => st.raw_bind_parameter(i, s)?,
        }
    }
    Ok(st)
}

impl SqliteConn<'_> {
    fn exec_now(&mut self, sql: &'static str, args: &[Arg<'_>]) -> Result<u64> {
        let mut st = prepare(self.0, sql, args)?;
        Ok(st.raw_execute()? as u64)
    }

    fn fetch_now(
        &mut self,
        sql: &'static str,
        args: &[Arg<'_>],
        kinds: &[Kind],
    ) -> Result<Option<Vec<Value>>> {
        let mut st = prepare(self.0, sql, args)?;
        let mut rows = st.raw_query();
        let Some(row) = rows.next()? else {
            return Ok(None);
        };
        let out = sqlite_values(row, kinds)?;
        // Step to the end, so a `RETURNING` statement completes.
        while rows.next()?.is_some() {}
        Ok(Some(out))
    }

    fn fetch_all_now(
        &mut self,
        sql: &'static str,
        args: &[Arg<'_>],
        kinds: &[Kind],
    ) -> Result<Vec<Vec<Value>>> {
        let mut st = prepare(self.0, sql, args)?;
        let mut rows = st.raw_query();
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(sqlite_values(row, kinds)?);
        }
        Ok(out)
    }
}

impl Exec for SqliteConn<'_> {
    fn exec(
        &mut self,
        sql: &'static str,
        args: &[Arg<'_>],
    ) -> impl Future<Output = Result<u64>> + Send {
        std::future::ready(self.exec_now(sql, args))
    }

    fn fetch_optional(
        &mut self,
        sql: &'static str,
        args: &[Arg<'_>],
        kinds: &[Kind],
    ) -> impl Future<Output = Result<Option<Vec<Value>>>> + Send {
        std::future::ready(self.fetch_now(sql, args, kinds))
    }

    fn fetch_all(
        &mut self,
        sql: &'static str,
        args: &[Arg<'_>],
        kinds: &[Kind],
    ) -> impl Future<Output = Result<Vec<Vec<Value>>>> + Send {
        std::future::ready(self.fetch_all_now(sql, args, kinds))
    }
}

/// Runs a future that never waits (one over [`SqliteConn`]) to its end.
pub(crate) fn run_ready<T>(f: impl Future<Output = Result<T>>) -> Result<T> {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => Err(StoreError::Corrupt(
            "a statement on a SQLite connection waited".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Connection;

    /// Both executors bind `$n` by name, whatever order the names first appear in.
    #[tokio::test]
    async fn both_executors_bind_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let url = format!("sqlite://{}?mode=rwc", path.display());
        sqlx::any::install_default_drivers();
        let mut any = sqlx::AnyConnection::connect(&url).await.unwrap();
        sqlx::raw_sql("CREATE TABLE t (k TEXT PRIMARY KEY, a TEXT, b INTEGER, c TEXT)")
            .execute(&mut any)
            .await
            .unwrap();
        let mut raw = rusqlite::Connection::open(&path).unwrap();
        const SQL: &str =
            "INSERT INTO t (k, b, a, c) VALUES ($1, $3, $2, $4) ON CONFLICT (k) DO NOTHING";
        let args = |k| {
            [
                Arg::Text(k),
                Arg::Text("x"),
                Arg::Int(7),
                Arg::OptText(None),
            ]
        };
        assert_eq!(any.exec(SQL, &args("any")).await.unwrap(), 1);
        assert_eq!(
            run_ready(SqliteConn(&mut raw).exec(SQL, &args("raw"))).unwrap(),
            1
        );
        assert_eq!(
            run_ready(SqliteConn(&mut raw).exec(SQL, &args("raw"))).unwrap(),
            0,
            "a conflict changes nothing"
        );
        const READ: &str = "SELECT a, b, c FROM t WHERE k = $1";
        let kinds = [Kind::Text, Kind::Int, Kind::OptText];
        let expected = Some(vec![Value::Text("x".into()), Value::Int(7), Value::Null]);
        for k in ["any", "raw"] {
            assert_eq!(
                any.fetch_optional(READ, &[Arg::Text(k)], &kinds)
                    .await
                    .unwrap(),
                expected
            );
            assert_eq!(
                run_ready(SqliteConn(&mut raw).fetch_optional(READ, &[Arg::Text(k)], &kinds))
                    .unwrap(),
                expected
            );
        }
        assert_eq!(
            run_ready(SqliteConn(&mut raw).fetch_optional(READ, &[Arg::Text("none")], &kinds))
                .unwrap(),
            None
        );
        // Every row, on both, in the same order.
        const ALL: &str = "SELECT k, b FROM t WHERE b = $1 ORDER BY k";
        let kinds = [Kind::Text, Kind::Int];
        let both = vec![
            vec![Value::Text("any".into()), Value::Int(7)],
            vec![Value::Text("raw".into()), Value::Int(7)],
        ];
        assert_eq!(
            any.fetch_all(ALL, &[Arg::Int(7)], &kinds).await.unwrap(),
            both
        );
        assert_eq!(
            run_ready(SqliteConn(&mut raw).fetch_all(ALL, &[Arg::Int(7)], &kinds)).unwrap(),
            both
        );
        assert!(
            run_ready(SqliteConn(&mut raw).fetch_all(ALL, &[Arg::Int(8)], &kinds))
                .unwrap()
                .is_empty()
        );
    }

    /// A body that waits on a SQLite connection is refused with an error, never hangs
    /// the writer or panics.
    #[test]
    fn a_waiting_body_is_an_error() {
        let waited = run_ready(std::future::pending::<Result<()>>());
        assert!(matches!(waited, Err(StoreError::Corrupt(_))));
        assert_eq!(run_ready(std::future::ready(Ok(7))).unwrap(), 7);
    }

    #[test]
    fn sqlite_paths() {
        use crate::group_commit::sqlite_path;
        assert_eq!(sqlite_path("sqlite:///d/k.db?mode=rwc"), Some("/d/k.db"));
        assert_eq!(sqlite_path("sqlite:k.db"), Some("k.db"));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://x"), None);
    }
}
