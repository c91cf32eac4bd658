use crate::audit::{self, AuditEvent};
use crate::exec::{Arg, Cols, Exec, Kind, Record, fetch_map, fetch_record, run_ready};
use crate::group_commit::Body;
use crate::{Result, Store, StoreError, flag};
use keyfort_core::directory::UserType;
use serde::Serialize;

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
    pub user_type: UserType,
    pub enabled: bool,
    pub is_admin: bool,
    pub created_at: i64,
    pub last_signin_at: Option<i64>,
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
    pub user_type: UserType,
    pub is_admin: bool,
}

/// The columns of `users`, in the order `User::from_cols` reads them.
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

/// A user as [`user_columns`] lists its columns, in that order: the one description every
/// query reading users uses (joined reads too, through [`fetch_with_user`]).
impl Record for User {
    const KINDS: &'static [Kind] = {
        use Kind::{Int, OptInt, OptText, Text};
        &[
            Text, Text, Text, OptText, OptText, OptText, OptText, Text, Text, Int, Int, Int, OptInt,
        ]
    };

    fn from_cols(c: &mut Cols) -> Result<User> {
        Ok(User {
            id: c.text()?,
            username: c.text()?,
            display_name: c.text()?,
            email: c.opt_text()?,
            given_name: c.opt_text()?,
            family_name: c.opt_text()?,
            employee_id: c.opt_text()?,
            attributes: serde_json::from_str(&c.text()?)
                .map_err(|e| StoreError::Corrupt(format!("user attributes: {e}")))?,
            user_type: c.parsed("user type", UserType::parse)?,
            enabled: c.flag()?,
            is_admin: c.flag()?,
            created_at: c.int()?,
            last_signin_at: c.opt_int()?,
        })
    }
}

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
    kinds.extend_from_slice(User::KINDS);
    fetch_map(e, sql, args, &kinds, |c| {
        let r = record(c)?;
        Ok((r, User::from_cols(c)?))
    })
    .await
}

struct UserById(String);

impl Body for UserById {
    type Out = Option<User>;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<Option<User>> {
        let sql = concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1");
        fetch_record(e, sql, &[Arg::Text(&self.0)]).await
    }
}

fn summary(u: &User) -> serde_json::Value {
    serde_json::json!({
        "username": u.username, "displayName": u.display_name, "email": u.email,
        "userType": u.user_type, "enabled": u.enabled, "isAdmin": u.is_admin,
    })
}

impl Store {
    /// Adds a user; audited as `user.created`, in the same commit.
    pub async fn create_user(&self, new: &NewUser, actor: &str, now: i64) -> Result<User> {
        self.transact(CreateUser {
            new: new.clone(),
            actor: actor.to_string(),
            now,
        })
        .await
    }

    pub async fn user_by_username(&self, username: &str) -> Result<Option<User>> {
        let sql = concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE username = $1"
        );
        self.record(sql, &[Arg::Text(username)]).await
    }

    pub async fn user_by_id(&self, id: &str) -> Result<Option<User>> {
        self.read(UserById(id.to_string())).await
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
        let args = [
            Arg::Text(q.after.as_deref().unwrap_or("")),
            Arg::Int(q.enabled.map_or(-1, flag)),
            Arg::Text(q.username_prefix.as_deref().unwrap_or("")),
            Arg::Int(i64::from(q.limit)),
        ];
        self.records(sql, &args).await
    }

    pub async fn count_users(&self) -> Result<i64> {
        let n: Option<i64> = self.record("SELECT COUNT(*) FROM users", &[]).await?;
        Ok(n.unwrap_or(0))
    }

    /// A user's row version (it moves with every change: the ETag provisioning serves) and
    /// when the user last changed (`None` until the first change after creation).
    pub async fn user_version(&self, username: &str) -> Result<Option<RowVersion>> {
        self.record(
            "SELECT version, updated_at FROM users WHERE username = $1",
            &[Arg::Text(username)],
        )
        .await
    }

    /// Enables or disables a user; disabling also ends every session of theirs. Audited in
    /// the same commit.
    pub async fn set_user_enabled(
        &self,
        username: &str,
        enabled: bool,
        actor: &str,
        now: i64,
    ) -> Result<User> {
        self.transact(SetUserEnabled {
            username: username.to_string(),
            enabled,
            actor: actor.to_string(),
            now,
        })
        .await?
        .ok_or(StoreError::NotFound("user"))
    }
}

struct CreateUser {
    new: NewUser,
    actor: String,
    now: i64,
}

impl Body for CreateUser {
    type Out = User;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<User> {
        const SQL: &str = concat!(
            "INSERT INTO users (id, username, display_name, email, given_name, family_name, employee_id, attributes, \
             user_type, enabled, is_admin, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $11) \
             RETURNING ",
            user_columns!(),
            ""
        );
        let new = &self.new;
        let attributes = if new.attributes.is_null() {
            "{}".to_string()
        } else {
            new.attributes.to_string()
        };
        let args = [
            Arg::Text(&new.id),
            Arg::Text(&new.username),
            Arg::Text(&new.display_name),
            Arg::OptText(new.email.as_deref()),
            Arg::OptText(new.given_name.as_deref()),
            Arg::OptText(new.family_name.as_deref()),
            Arg::OptText(new.employee_id.as_deref()),
            Arg::Text(&attributes),
            Arg::Text(new.user_type.as_str()),
            Arg::Int(flag(new.is_admin)),
            Arg::Int(self.now),
        ];
        let user: User = fetch_record(e, SQL, &args)
            .await
            .map_err(|e| e.named_conflict("user"))?
            .ok_or(StoreError::Corrupt("an insert returned no row".into()))?;
        let ev = AuditEvent::new(self.now, &self.actor, "user.created", &user.username)
            .after(summary(&user));
        audit::write_with(e, &ev).await?;
        // The first administrator (made at bootstrap) is a global administrator.
        if new.is_admin {
            let role = keyfort_core::roles::Role::GlobalAdministrator;
            let assignment = crate::roles::Assignment::of_user(&user, role, &self.actor, self.now);
            crate::roles::insert_with(e, &assignment, &self.actor).await?;
        }
        Ok(user)
    }
}

struct SetUserEnabled {
    username: String,
    enabled: bool,
    actor: String,
    now: i64,
}

impl Body for SetUserEnabled {
    /// `None`: no such user, nothing written.
    type Out = Option<User>;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<Option<User>> {
        const SQL: &str = concat!(
            "UPDATE users SET enabled = $1, version = version + 1, updated_at = $3 \
             WHERE username = $2 RETURNING ",
            user_columns!(),
            ""
        );
        let args = [
            Arg::Int(flag(self.enabled)),
            Arg::Text(&self.username),
            Arg::Int(self.now),
        ];
        let Some(user) = fetch_record::<User, _>(e, SQL, &args).await? else {
            return Ok(None);
        };
        let ended = if self.enabled {
            0
        } else {
            e.exec(
                "DELETE FROM sessions WHERE user_id = $1",
                &[Arg::Text(&user.id)],
            )
            .await?
        };
        let action = if self.enabled {
            "user.enabled"
        } else {
            "user.disabled"
        };
        let ev = AuditEvent::new(self.now, &self.actor, action, &user.username)
            .before(serde_json::json!({ "enabled": !self.enabled }))
            .after(serde_json::json!({ "enabled": self.enabled, "sessionsEnded": ended }));
        audit::write_with(e, &ev).await?;
        Ok(Some(user))
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
        Arg::Text(u.user_type.as_str()),
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
        audit::write_with(&mut *tx, &ev).await?;
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

impl Record for RowVersion {
    const KINDS: &'static [Kind] = &[Kind::Int, Kind::OptInt];

    fn from_cols(c: &mut Cols) -> Result<RowVersion> {
        Ok(RowVersion {
            version: c.int()?,
            updated_at: c.opt_int()?,
        })
    }
}
