use crate::audit::{self, AuditEvent};
use crate::exec::{Arg, Cols, Exec, Kind, fetch_map, run_ready};
use crate::group_commit::Body;
use crate::{Result, Store, StoreError, flag};
use serde::Serialize;
use sqlx::FromRow;

#[derive(Debug, Clone, Serialize, FromRow)]
struct UserRow {
    id: String,
    username: String,
    display_name: String,
    email: Option<String>,
    given_name: Option<String>,
    family_name: Option<String>,
    employee_id: Option<String>,
    attributes: String,
    user_type: String,
    enabled: i64,
    is_admin: i64,
    created_at: i64,
    last_signin_at: Option<i64>,
}

/// A person in the directory.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub employee_id: Option<String>,
    pub attributes: serde_json::Value,
    pub user_type: String,
    pub enabled: bool,
    pub is_admin: bool,
    pub created_at: i64,
    pub last_signin_at: Option<i64>,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(r: UserRow) -> Result<User> {
        Ok(User {
            attributes: serde_json::from_str(&r.attributes)
                .map_err(|e| StoreError::Corrupt(format!("user attributes: {e}")))?,
            id: r.id,
            username: r.username,
            display_name: r.display_name,
            email: r.email,
            given_name: r.given_name,
            family_name: r.family_name,
            employee_id: r.employee_id,
            user_type: r.user_type,
            enabled: r.enabled != 0,
            is_admin: r.is_admin != 0,
            created_at: r.created_at,
            last_signin_at: r.last_signin_at,
        })
    }
}

/// What an administrator supplies to create a user.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub employee_id: Option<String>,
    pub attributes: serde_json::Value,
    pub user_type: String,
    pub is_admin: bool,
}

/// The columns of `users`, in the order [`user_from_cols`] reads them.
macro_rules! user_columns {
    () => {
        "id, username, display_name, email, given_name, family_name, employee_id, \
     attributes, user_type, enabled, is_admin, created_at, last_signin_at"
    };
}

/// [`user_columns`] of the `users` table joined as `u`, in the same order.
macro_rules! joined_user_columns {
    () => {
        "u.id, u.username, u.display_name, u.email, u.given_name, u.family_name, \
     u.employee_id, u.attributes, u.user_type, u.enabled, u.is_admin, u.created_at, \
     u.last_signin_at"
    };
}
pub(crate) use joined_user_columns;

/// The kinds of [`user_columns`], in order, for [`user_from_cols`].
pub(crate) const USER_KINDS: [Kind; 13] = [
    Kind::Text,
    Kind::Text,
    Kind::Text,
    Kind::OptText,
    Kind::OptText,
    Kind::OptText,
    Kind::OptText,
    Kind::Text,
    Kind::Text,
    Kind::Int,
    Kind::Int,
    Kind::Int,
    Kind::OptInt,
];

/// One row of a record's columns followed by the `u.`-prefixed [`user_columns`] (a join
/// with `users`), read as the record and its user.
pub(crate) async fn fetch_with_user<E: Exec, T>(
    e: &mut E,
    sql: &'static str,
    args: &[Arg<'_>],
    record_kinds: &[Kind],
    record: impl FnOnce(&mut Cols) -> Result<T> + Send,
) -> Result<Option<(T, User)>> {
    let mut kinds = record_kinds.to_vec();
    kinds.extend_from_slice(&USER_KINDS);
    fetch_map(e, sql, args, &kinds, |c| {
        let r = record(c)?;
        Ok((r, user_from_cols(c)?))
    })
    .await
}

/// A user read as [`user_columns`] (in that order).
pub(crate) fn user_from_cols(c: &mut Cols) -> Result<User> {
    User::try_from(UserRow {
        id: c.text()?,
        username: c.text()?,
        display_name: c.text()?,
        email: c.opt_text()?,
        given_name: c.opt_text()?,
        family_name: c.opt_text()?,
        employee_id: c.opt_text()?,
        attributes: c.text()?,
        user_type: c.text()?,
        enabled: c.int()?,
        is_admin: c.int()?,
        created_at: c.int()?,
        last_signin_at: c.opt_int()?,
    })
}

struct UserById(String);

impl Body for UserById {
    type Out = Option<User>;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<Option<User>> {
        let sql = concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1");
        fetch_map(e, sql, &[Arg::Text(&self.0)], &USER_KINDS, user_from_cols).await
    }
}

fn summary(u: &User) -> serde_json::Value {
    serde_json::json!({
        "username": u.username, "displayName": u.display_name, "email": u.email,
        "userType": u.user_type, "enabled": u.enabled, "isAdmin": u.is_admin,
    })
}

impl Store {
    pub async fn create_user(&self, new: &NewUser, actor: &str, now: i64) -> Result<User> {
        let attributes = if new.attributes.is_null() {
            serde_json::json!({})
        } else {
            new.attributes.clone()
        };
        let mut tx = self.writer.begin().await?;
        let sql = concat!(
            "INSERT INTO users (id, username, display_name, email, given_name, family_name, employee_id, attributes, \
             user_type, enabled, is_admin, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $11) \
             RETURNING ",
            user_columns!(),
            ""
        );
        let row: UserRow = sqlx::query_as(sql)
            .bind(&new.id)
            .bind(&new.username)
            .bind(&new.display_name)
            .bind(new.email.as_deref())
            .bind(new.given_name.as_deref())
            .bind(new.family_name.as_deref())
            .bind(new.employee_id.as_deref())
            .bind(attributes.to_string())
            .bind(&new.user_type)
            .bind(flag(new.is_admin))
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| StoreError::conflict_or(e, "user"))?;
        let user = User::try_from(row)?;
        audit::write(
            &mut tx,
            &AuditEvent::new(now, actor, "user.created", &user.username).after(summary(&user)),
        )
        .await?;
        tx.commit().await?;
        Ok(user)
    }

    pub async fn user_by_username(&self, username: &str) -> Result<Option<User>> {
        let sql = concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE username = $1"
        );
        let row: Option<UserRow> = sqlx::query_as(sql)
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        row.map(User::try_from).transpose()
    }

    pub async fn user_by_id(&self, id: &str) -> Result<Option<User>> {
        self.read(UserById(id.to_string())).await
    }

    pub async fn list_users(&self) -> Result<Vec<User>> {
        let sql = concat!("SELECT ", user_columns!(), " FROM users ORDER BY username");
        let rows: Vec<UserRow> = sqlx::query_as(sql).fetch_all(&self.pool).await?;
        rows.into_iter().map(User::try_from).collect()
    }

    /// One page of users in username order, after `q.after` (the last username of the
    /// previous page), filtered. Walks the username index, so a page costs the same on the
    /// first page as on the ten-thousandth.
    pub async fn users_page(&self, q: &UserQuery) -> Result<Vec<User>> {
        let sql = concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE username > $1 \
             AND ($2 = -1 OR enabled = $2) \
             AND ($3 = '' OR substr(username, 1, length($3)) = $3) \
             ORDER BY username LIMIT $4"
        );
        let enabled = q.enabled.map_or(-1, flag);
        let rows: Vec<UserRow> = sqlx::query_as(sql)
            .bind(q.after.as_deref().unwrap_or(""))
            .bind(enabled)
            .bind(q.username_prefix.as_deref().unwrap_or(""))
            .bind(i64::from(q.limit))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(User::try_from).collect()
    }

    pub async fn count_users(&self) -> Result<i64> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }

    /// A user's row version (it moves with every change: the ETag provisioning serves) and
    /// when the user last changed (`None` until the first change after creation).
    pub async fn user_version(&self, username: &str) -> Result<Option<RowVersion>> {
        let row: Option<(i64, Option<i64>)> =
            sqlx::query_as("SELECT version, updated_at FROM users WHERE username = $1")
                .bind(username)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(version, updated_at)| RowVersion {
            version,
            updated_at,
        }))
    }

    /// Enables or disables a user; disabling also ends every session of theirs.
    pub async fn set_user_enabled(
        &self,
        username: &str,
        enabled: bool,
        actor: &str,
        now: i64,
    ) -> Result<User> {
        let mut tx = self.writer.begin().await?;
        let sql = concat!(
            "UPDATE users SET enabled = $1, version = version + 1, updated_at = $3 \
             WHERE username = $2 RETURNING ",
            user_columns!(),
            ""
        );
        let row: Option<UserRow> = sqlx::query_as(sql)
            .bind(flag(enabled))
            .bind(username)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
        let user = User::try_from(row.ok_or(StoreError::NotFound("user"))?)?;
        let ended = if enabled {
            0
        } else {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(&user.id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        };
        let action = if enabled {
            "user.enabled"
        } else {
            "user.disabled"
        };
        let ev = AuditEvent::new(now, actor, action, &user.username)
            .before(serde_json::json!({ "enabled": !enabled }))
            .after(serde_json::json!({ "enabled": enabled, "sessionsEnded": ended }));
        audit::write(&mut tx, &ev).await?;
        tx.commit().await?;
        Ok(user)
    }
}

/// The columns a bulk import writes, in the order [`import_args`] binds them.
macro_rules! import_user_columns {
    () => {
        "id, username, display_name, email, given_name, family_name, employee_id, attributes, \
         user_type, enabled, is_admin, created_at"
    };
}

const IMPORT_USER_ROW: &str = concat!(
    "INSERT INTO users (",
    import_user_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
);

fn attributes_json(u: &NewUser) -> String {
    if u.attributes.is_null() {
        "{}".to_string()
    } else {
        u.attributes.to_string()
    }
}

/// One imported user's parameters; `attributes` is [`attributes_json`] of `u`.
fn import_args<'a>(u: &'a NewUser, attributes: &'a str, now: i64) -> [Arg<'a>; 12] {
    [
        Arg::Text(&u.id),
        Arg::Text(&u.username),
        Arg::Text(&u.display_name),
        Arg::OptText(u.email.as_deref()),
        Arg::OptText(u.given_name.as_deref()),
        Arg::OptText(u.family_name.as_deref()),
        Arg::OptText(u.employee_id.as_deref()),
        Arg::Text(attributes),
        Arg::Text(&u.user_type),
        Arg::Int(1),
        Arg::Int(flag(u.is_admin)),
        Arg::Int(now),
    ]
}

impl Store {
    /// Bulk import (directory sync, benchmarks): many users in one transaction and one
    /// audit row for the batch. Ids and usernames must be new; a conflict anywhere
    /// imports nothing.
    pub async fn import_users(&self, users: &[NewUser], actor: &str, now: i64) -> Result<()> {
        let ev = AuditEvent::new(now, actor, "user.imported", format!("{} users", users.len()))
            .after(serde_json::json!({ "count": users.len(), "first": users.first().map(|u| &u.username) }));
        if let Some(file) = self.sqlite_file.clone() {
            // In id order, each batch walks the primary-key index once, front to back.
            let mut users = users.to_vec();
            users.sort_unstable_by(|a, b| a.id.cmp(&b.id));
            return self
                .bulk_sqlite(file, move |e| {
                    for u in &users {
                        let attributes = attributes_json(u);
                        run_ready(e.exec(IMPORT_USER_ROW, &import_args(u, &attributes, now)))?;
                    }
                    run_ready(audit::write_with(e, &ev))
                })
                .await
                .map_err(|e| e.named_conflict("user"));
        }
        let mut tx = self.writer.begin().await?;
        for chunk in users.chunks(crate::bulk_rows(self.backend())) {
            // Only placeholders are formatted into the statement; every value is bound.
            let sql = format!(
                "INSERT INTO users ({}) VALUES {}",
                import_user_columns!(),
                crate::values_placeholders(chunk.len(), 12)
            );
            let attributes: Vec<String> = chunk.iter().map(attributes_json).collect();
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (u, a) in chunk.iter().zip(&attributes) {
                q = crate::exec::bind_all(q, &import_args(u, a, now));
            }
            q.execute(&mut *tx)
                .await
                .map_err(|e| StoreError::conflict_or(e, "user"))?;
        }
        audit::write(&mut tx, &ev).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// A row's version and last change (see [`Store::user_version`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowVersion {
    pub version: i64,
    pub updated_at: Option<i64>,
}

/// Which users a page holds (see [`Store::users_page`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserQuery {
    /// The last username of the previous page.
    pub after: Option<String>,
    pub limit: u32,
    pub enabled: Option<bool>,
    pub username_prefix: Option<String>,
}
