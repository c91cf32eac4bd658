//! Administration commands, working directly against the configured store.
//! Each change is audited with the actor `cli:<login name>`.

use crate::CliError;
use crate::output::{self, opt, when};
use crate::serve::open_store;
use clap::Subcommand;
use keyfort_server::config::Config;
use keyfort_server::state::now_ms;
use keyfort_store::{NewUser, Store, StoreError, User};
use serde_json::json;

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a user.
    Add {
        username: String,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        given_name: Option<String>,
        #[arg(long)]
        family_name: Option<String>,
        #[arg(long)]
        employee_id: Option<String>,
        /// member or external.
        #[arg(long, default_value = "member")]
        user_type: String,
        /// A free-form attribute, key=value (repeatable).
        #[arg(long = "attribute", value_name = "KEY=VALUE")]
        attributes: Vec<String>,
    },
    /// List users.
    List,
    /// Show one user, with groups and registered methods.
    Show { username: String },
    /// Disable a user (ends their sessions).
    Disable { username: String },
    /// Enable a user.
    Enable { username: String },
}

#[derive(Subcommand)]
pub enum GroupCommand {
    /// Add a group.
    Add { name: String },
    /// Add a user to a group.
    AddMember { group: String, username: String },
    /// List groups.
    List,
}

#[derive(Subcommand)]
pub enum TapCommand {
    /// Issue a Temporary Access Pass (replaces the user's previous one). The pass is printed once.
    Issue {
        username: String,
        /// Lifetime in minutes (10 to 43200; default 60).
        #[arg(long)]
        lifetime_minutes: Option<i64>,
        /// One use only (the default).
        #[arg(long, conflicts_with = "multi_use")]
        one_time: bool,
        /// Usable repeatedly until it expires.
        #[arg(long)]
        multi_use: bool,
    },
}

#[derive(Subcommand)]
pub enum LogCommand {
    /// Sign-in attempts, newest first.
    Signins {
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Changes to the directory, credentials and policy, newest first.
    Audit {
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
}

pub fn actor() -> String {
    let who = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{who}")
}

async fn store() -> Result<Store, CliError> {
    let config = Config::from_process_env()?;
    open_store(&config).await
}

fn failed(e: StoreError) -> CliError {
    match e {
        StoreError::Conflict(what) => CliError::Failed(format!("that {what} already exists")),
        StoreError::NotFound(what) => CliError::Failed(format!("no such {what}")),
        other => CliError::Failed(other.to_string()),
    }
}

fn username(raw: &str) -> Result<String, CliError> {
    keyfort_core::username::normalize(raw)
        .map_err(|e| CliError::Usage(format!("invalid username `{raw}`: {e}")))
}

async fn find_user(store: &Store, raw: &str) -> Result<User, CliError> {
    let u = username(raw)?;
    store
        .user_by_username(&u)
        .await
        .map_err(failed)?
        .ok_or_else(|| CliError::Failed(format!("no user `{u}`")))
}

fn clean(field: &'static str, v: Option<String>) -> Result<Option<String>, CliError> {
    match v {
        Some(s) if s.chars().count() > 256 || s.chars().any(char::is_control) => {
            Err(CliError::Usage(format!(
                "--{field} must be at most 256 characters without control characters"
            )))
        }
        Some(s) if s.trim().is_empty() => Ok(None),
        other => Ok(other.map(|s| s.trim().to_string())),
    }
}

pub async fn user(cmd: UserCommand, as_json: bool) -> Result<(), CliError> {
    let store = store().await?;
    let now = now_ms();
    match cmd {
        UserCommand::Add {
            username: raw,
            display_name,
            email,
            given_name,
            family_name,
            employee_id,
            user_type,
            attributes,
        } => {
            let username = username(&raw)?;
            if user_type != "member" && user_type != "external" {
                return Err(CliError::Usage("--user-type is member or external".into()));
            }
            if let Some(e) = &email
                && (!e.contains('@') || e.len() > 254)
            {
                return Err(CliError::Usage(format!(
                    "--email `{e}` is not an email address"
                )));
            }
            let mut attrs = serde_json::Map::new();
            for a in attributes {
                let (k, v) = a.split_once('=').ok_or_else(|| {
                    CliError::Usage(format!("--attribute `{a}` is not KEY=VALUE"))
                })?;
                attrs.insert(k.trim().to_string(), json!(v));
            }
            let given_name = clean("given-name", given_name)?;
            let family_name = clean("family-name", family_name)?;
            let display_name = clean("display-name", display_name)?.unwrap_or_else(|| {
                match (&given_name, &family_name) {
                    (Some(g), Some(f)) => format!("{g} {f}"),
                    _ => username.clone(),
                }
            });
            let new = NewUser {
                id: uuid_v4(),
                username,
                display_name,
                email: clean("email", email)?,
                given_name,
                family_name,
                employee_id: clean("employee-id", employee_id)?,
                attributes: serde_json::Value::Object(attrs),
                user_type,
                is_admin: false,
            };
            let u = store
                .create_user(&new, &actor(), now)
                .await
                .map_err(failed)?;
            if as_json {
                output::json(&u)
            } else {
                println!("Added user {} ({})", u.username, u.display_name)
            }
        }
        UserCommand::List => {
            let users = store.list_users().await.map_err(failed)?;
            if as_json {
                output::json(&users);
            } else {
                println!(
                    "{:<24} {:<28} {:<9} {:<8} LAST SIGN-IN",
                    "USERNAME", "DISPLAY NAME", "TYPE", "ENABLED"
                );
                for u in &users {
                    println!(
                        "{:<24} {:<28} {:<9} {:<8} {}",
                        u.username,
                        u.display_name,
                        u.user_type,
                        if u.enabled { "yes" } else { "no" },
                        when(u.last_signin_at)
                    );
                }
            }
        }
        UserCommand::Show { username: raw } => {
            let u = find_user(&store, &raw).await?;
            let groups = store.groups_of_user(&u.id).await.map_err(failed)?;
            let passkeys = store.passkeys_of_user(&u.id).await.map_err(failed)?;
            let pass = store.pass_of_user(&u.id).await.map_err(failed)?;
            let pass_view = pass.as_ref().map(|p| {
                let s = p.state();
                let usability = s.usability(now);
                json!({
                    "startDateTime": p.start_at, "lifetimeInMinutes": p.lifetime_minutes, "isUsableOnce": p.one_time != 0,
                    "isUsable": usability.is_usable(), "methodUsabilityReason": usability.as_str(), "createdBy": p.created_by,
                })
            });
            if as_json {
                output::json(
                    &json!({ "user": u, "groups": groups, "passkeys": passkeys, "temporaryAccessPass": pass_view }),
                );
            } else {
                println!("Username:      {}", u.username);
                println!("Display name:  {}", u.display_name);
                println!("Email:         {}", opt(&u.email));
                println!("Given name:    {}", opt(&u.given_name));
                println!("Family name:   {}", opt(&u.family_name));
                println!("Employee id:   {}", opt(&u.employee_id));
                println!("Type:          {}", u.user_type);
                println!("Enabled:       {}", if u.enabled { "yes" } else { "no" });
                println!("Administrator: {}", if u.is_admin { "yes" } else { "no" });
                println!("Created:       {}", when(Some(u.created_at)));
                println!("Last sign-in:  {}", when(u.last_signin_at));
                if u.attributes.as_object().is_some_and(|m| !m.is_empty()) {
                    println!("Attributes:    {}", u.attributes);
                }
                println!(
                    "Groups:        {}",
                    if groups.is_empty() {
                        "-".into()
                    } else {
                        groups.join(", ")
                    }
                );
                println!("Methods:");
                if passkeys.is_empty() && pass.is_none() {
                    println!("  (none registered)");
                }
                for p in &passkeys {
                    println!(
                        "  passkey  {:<20} {:<12} aaguid {}  created {}  last used {}{}",
                        p.display_name,
                        p.passkey_type,
                        p.aaguid,
                        when(Some(p.created_at)),
                        when(p.last_used_at),
                        if p.possibly_cloned != 0 {
                            "  POSSIBLY CLONED"
                        } else {
                            ""
                        }
                    );
                }
                if let Some(p) = &pass {
                    let usability = p.state().usability(now);
                    println!(
                        "  temporary access pass  {}  expires {}  {}",
                        if p.one_time != 0 {
                            "one-time"
                        } else {
                            "multi-use"
                        },
                        when(Some(p.state().expires_at())),
                        usability.as_str()
                    );
                }
            }
        }
        UserCommand::Disable { username: raw } => {
            set_enabled(&store, &raw, false, as_json, now).await?
        }
        UserCommand::Enable { username: raw } => {
            set_enabled(&store, &raw, true, as_json, now).await?
        }
    }
    store.close().await;
    Ok(())
}

async fn set_enabled(
    store: &Store,
    raw: &str,
    enabled: bool,
    as_json: bool,
    now: i64,
) -> Result<(), CliError> {
    let u = username(raw)?;
    let user = store
        .set_user_enabled(&u, enabled, &actor(), now)
        .await
        .map_err(failed)?;
    if as_json {
        output::json(&user);
    } else {
        println!(
            "{} {}",
            if enabled { "Enabled" } else { "Disabled" },
            user.username
        );
    }
    Ok(())
}

fn group_name(raw: &str) -> Result<String, CliError> {
    let n = raw.trim();
    if n.is_empty() || n.chars().count() > 128 || n.chars().any(char::is_control) {
        return Err(CliError::Usage(
            "a group name is 1 to 128 characters without control characters".into(),
        ));
    }
    Ok(n.to_string())
}

pub async fn group(cmd: GroupCommand, as_json: bool) -> Result<(), CliError> {
    let store = store().await?;
    let now = now_ms();
    match cmd {
        GroupCommand::Add { name } => {
            let g = store
                .create_group(&uuid_v4(), &group_name(&name)?, &actor(), now)
                .await
                .map_err(failed)?;
            if as_json {
                output::json(&g)
            } else {
                println!("Added group {}", g.name)
            }
        }
        GroupCommand::AddMember {
            group,
            username: raw,
        } => {
            let name = group_name(&group)?;
            let g = store
                .group_by_name(&name)
                .await
                .map_err(failed)?
                .ok_or_else(|| CliError::Failed(format!("no group `{name}`")))?;
            let u = find_user(&store, &raw).await?;
            store
                .add_group_member(&g, &u.id, &u.username, &actor(), now)
                .await
                .map_err(failed)?;
            if as_json {
                output::json(&json!({ "group": g.name, "member": u.username }));
            } else {
                println!("Added {} to {}", u.username, g.name);
            }
        }
        GroupCommand::List => {
            let groups = store.list_groups().await.map_err(failed)?;
            if as_json {
                output::json(&groups);
            } else {
                println!("{:<32} MEMBERS", "GROUP");
                for g in &groups {
                    println!("{:<32} {}", g.name, g.member_count);
                }
            }
        }
    }
    store.close().await;
    Ok(())
}

pub async fn tap(cmd: TapCommand, as_json: bool) -> Result<(), CliError> {
    let TapCommand::Issue {
        username: raw,
        lifetime_minutes,
        one_time: _,
        multi_use,
    } = cmd;
    let store = store().await?;
    let now = now_ms();
    let user = find_user(&store, &raw).await?;
    let issued =
        keyfort_server::passes::issue(&store, &user, lifetime_minutes, !multi_use, &actor(), now)
            .await
            .map_err(|e| match e {
                keyfort_server::passes::IssueError::Lifetime(l) => {
                    CliError::Usage(format!("--lifetime-minutes: {l}"))
                }
                keyfort_server::passes::IssueError::Store(s) => failed(s),
                keyfort_server::passes::IssueError::Hash(h) => CliError::Failed(h.to_string()),
            })?;
    let r = &issued.record;
    if as_json {
        output::json(&json!({
            "username": user.username, "temporaryAccessPass": issued.code, "startDateTime": r.start_at,
            "lifetimeInMinutes": r.lifetime_minutes, "isUsableOnce": r.one_time != 0, "replacedPrevious": issued.replaced_previous,
        }));
    } else {
        println!(
            "Temporary Access Pass for {}: {}",
            user.username, issued.code
        );
        println!(
            "{}, valid until {}{}. It is shown only now.",
            if r.one_time != 0 {
                "One use"
            } else {
                "Multiple uses"
            },
            when(Some(r.state().expires_at())),
            if issued.replaced_previous {
                "; it replaces the previous pass"
            } else {
                ""
            }
        );
    }
    store.close().await;
    Ok(())
}

pub async fn log(cmd: LogCommand, as_json: bool) -> Result<(), CliError> {
    let store = store().await?;
    match cmd {
        LogCommand::Signins { limit } => {
            let rows = store
                .signin_log(limit.clamp(1, 10_000))
                .await
                .map_err(failed)?;
            if as_json {
                output::json(&rows);
            } else {
                println!(
                    "{:<21} {:<16} {:<22} {:<8} {:<28} IP",
                    "TIME", "USER", "METHOD", "OUTCOME", "REASON"
                );
                for r in &rows {
                    println!(
                        "{:<21} {:<16} {:<22} {:<8} {:<28} {}",
                        when(Some(r.at)),
                        opt(&r.username),
                        r.method,
                        r.outcome,
                        r.reason,
                        opt(&r.ip)
                    );
                }
            }
        }
        LogCommand::Audit { limit } => {
            let rows = store
                .audit_log(limit.clamp(1, 10_000))
                .await
                .map_err(failed)?;
            if as_json {
                output::json(&rows);
            } else {
                println!(
                    "{:<21} {:<16} {:<24} {:<16} CHANGE",
                    "TIME", "ACTOR", "ACTION", "TARGET"
                );
                for r in &rows {
                    let change = match (&r.before, &r.after) {
                        (Some(b), Some(a)) => format!("{b} -> {a}"),
                        (None, Some(a)) => a.clone(),
                        (Some(b), None) => format!("was {b}"),
                        (None, None) => String::new(),
                    };
                    println!(
                        "{:<21} {:<16} {:<24} {:<16} {}",
                        when(Some(r.at)),
                        r.actor,
                        r.action,
                        opt(&r.target),
                        change
                    );
                }
            }
        }
    }
    store.close().await;
    Ok(())
}

fn uuid_v4() -> String {
    keyfort_server::crypto::uuid_v4()
}
