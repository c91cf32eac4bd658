//! Administration commands, working directly against the configured store.
//! Each change is audited with the actor `cli:<login name>`.

use crate::CliError;
use crate::output::{self, opt};
use crate::serve::open_store;
use clap::Subcommand;
use keyfort_core::directory::UserDraft;
use keyfort_server::app::dto::UserDetailDto;
use keyfort_server::app::{self, AppError, directory, directory::UserListing};
use keyfort_server::config::Config;
use keyfort_server::state::now_ms;
use keyfort_store::Store;

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
    /// List users, a page at a time, in username order.
    List {
        /// Users per page (1 to 1000; default 100).
        #[arg(long)]
        limit: Option<u32>,
        /// The cursor a previous page printed.
        #[arg(long)]
        cursor: Option<String>,
        /// Only enabled users.
        #[arg(long, conflicts_with = "disabled")]
        enabled: bool,
        /// Only disabled users.
        #[arg(long)]
        disabled: bool,
        /// Only usernames starting with this.
        #[arg(long)]
        prefix: Option<String>,
    },
    /// Show one user, with groups and registered methods.
    Show { username: String },
    /// Disable a user (ends their sessions).
    Disable { username: String },
    /// Enable a user.
    Enable { username: String },
    /// Remove one of a user's passkeys (its id as `user show` lists it); the sessions
    /// signed in with it, and their applications' tokens, end.
    RemovePasskey { username: String, id: String },
    /// Set a user's password (stored as Argon2id). Asked for twice on a terminal, or read
    /// as one line from standard input.
    SetPassword { username: String },
    /// Remove a user's password (audited).
    RemovePassword { username: String },
    /// Remove a user's authenticator app (audited).
    RemoveAuthenticatorApp { username: String },
    /// Import existing password hashes (Argon2 PHC strings, bcrypt $2a$/$2b$/$2y$) for
    /// users already in the directory, from JSON lines ({"username", "passwordHash"}) or
    /// CSV with a header naming username and passwordHash. One transaction: any problem
    /// imports nothing unless --continue-on-error.
    Import {
        file: std::path::PathBuf,
        /// jsonl or csv; by default from the file's extension.
        #[arg(long)]
        format: Option<String>,
        /// Skip the lines at fault and import the rest.
        #[arg(long)]
        continue_on_error: bool,
    },
}

#[derive(Subcommand)]
pub enum GroupCommand {
    /// Add a group.
    Add { name: String },
    /// Add a user to a group.
    AddMember { group: String, username: String },
    /// List groups, a page at a time, in name order.
    List {
        /// Groups per page (1 to 1000; default 100).
        #[arg(long)]
        limit: Option<u32>,
        /// The cursor a previous page printed.
        #[arg(long)]
        cursor: Option<String>,
        /// Only names starting with this.
        #[arg(long)]
        prefix: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum TapCommand {
    /// Issue a Temporary Access Pass (replaces the user's previous one). The pass is printed once.
    Issue {
        username: String,
        /// Lifetime in minutes, within the policy's range (60 to 480 unless changed); the
        /// policy's default lifetime when absent.
        #[arg(long)]
        lifetime_minutes: Option<i64>,
        /// One use only (the default).
        #[arg(long, conflicts_with = "multi_use")]
        one_time: bool,
        /// Usable repeatedly until it expires.
        #[arg(long)]
        multi_use: bool,
    },
    /// Show a user's pass: when it starts, how long it lives, whether it can be used and
    /// why not (never the code). The view is audited.
    Show { username: String },
    /// Revoke a user's pass; sessions signed in with a pass, and their applications'
    /// tokens, end with it.
    Revoke { username: String },
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

pub(crate) async fn store() -> Result<Store, CliError> {
    let config = Config::from_process_env()?;
    open_store(&config).await
}

/// An operation's refusal as the command's: the caller's input (exit 64) or the state.
pub fn app_failed(e: AppError) -> CliError {
    match e {
        AppError::PassIssue(l @ keyfort_core::tap::PassIssueRefusal::LifetimeOutOfRange { .. }) => {
            CliError::Usage(format!("--lifetime-minutes: {l}"))
        }
        e if e.is_input() => CliError::Usage(e.to_string()),
        other => CliError::Failed(other.to_string()),
    }
}

fn or_never(t: &Option<String>) -> &str {
    t.as_deref().unwrap_or("never")
}

pub async fn user(cmd: UserCommand, as_json: bool) -> Result<(), CliError> {
    let store = store().await?;
    let now = now_ms();
    let result = run_user(&store, cmd, as_json, now).await;
    store.close().await;
    result
}

async fn run_user(
    store: &Store,
    cmd: UserCommand,
    as_json: bool,
    now: i64,
) -> Result<(), CliError> {
    match cmd {
        UserCommand::Add {
            username,
            display_name,
            email,
            given_name,
            family_name,
            employee_id,
            user_type,
            attributes,
        } => {
            let draft = UserDraft {
                username,
                display_name,
                email,
                given_name,
                family_name,
                employee_id,
                user_type: Some(user_type),
                attributes,
            };
            let u = directory::add_user(store, &draft, &actor(), now)
                .await
                .map_err(app_failed)?;
            if as_json {
                output::json(&u)
            } else {
                println!("Added user {} ({})", u.username, u.display_name)
            }
        }
        UserCommand::List {
            limit,
            cursor,
            enabled,
            disabled,
            prefix,
        } => {
            let listing = UserListing {
                cursor,
                limit,
                enabled: match (enabled, disabled) {
                    (true, _) => Some(true),
                    (_, true) => Some(false),
                    _ => None,
                },
                username_prefix: prefix,
            };
            let page = directory::list_users(store, &listing)
                .await
                .map_err(app_failed)?;
            if as_json {
                output::json(&page);
            } else {
                println!(
                    "{:<24} {:<28} {:<9} {:<8} LAST SIGN-IN",
                    "USERNAME", "DISPLAY NAME", "TYPE", "ENABLED"
                );
                for u in &page.value {
                    println!(
                        "{:<24} {:<28} {:<9} {:<8} {}",
                        u.username,
                        u.display_name,
                        u.user_type.as_str(),
                        if u.enabled { "yes" } else { "no" },
                        or_never(&u.last_sign_in_date_time)
                    );
                }
                if let Some(next) = &page.next_cursor {
                    println!("More: keyfort user list --cursor {next}");
                }
            }
        }
        UserCommand::Show { username } => {
            let names = crate::policy::catalogue(store).await;
            let d = directory::show_user(store, &names, &username, now)
                .await
                .map_err(app_failed)?;
            if as_json {
                output::json(&d);
            } else {
                print_user(&d);
            }
        }
        UserCommand::RemovePasskey { username, id } => {
            let r = app::passkeys::remove(store, &username, &id, &actor(), now)
                .await
                .map_err(app_failed)?;
            if as_json {
                output::json(&r);
            } else {
                println!(
                    "Removed passkey {} of {} ({} left): {} session(s) ended, {} application grant(s) revoked.",
                    r.removed, r.username, r.remaining, r.sessions_ended, r.grants_revoked
                );
            }
        }
        UserCommand::SetPassword { username } => {
            crate::passwords::set(store, &username, as_json, now).await?
        }
        UserCommand::RemovePassword { username } => {
            let method = app::methods::LegacyMethod::Password;
            let r = app::methods::remove(store, &username, method, &actor(), now)
                .await
                .map_err(app_failed)?;
            removed(&r, "password", as_json);
        }
        UserCommand::RemoveAuthenticatorApp { username } => {
            let method = app::methods::LegacyMethod::AuthenticatorApp;
            let r = app::methods::remove(store, &username, method, &actor(), now)
                .await
                .map_err(app_failed)?;
            removed(&r, "authenticator app", as_json);
        }
        UserCommand::Import {
            file,
            format,
            continue_on_error,
        } => {
            crate::passwords::import(store, &file, format, continue_on_error, as_json, now).await?
        }
        UserCommand::Disable { username } => {
            set_enabled(store, &username, false, as_json, now).await?
        }
        UserCommand::Enable { username } => {
            set_enabled(store, &username, true, as_json, now).await?
        }
    }
    Ok(())
}

fn removed(r: &app::methods::RemovedMethodDto, what: &str, as_json: bool) {
    if as_json {
        output::json(r);
    } else {
        println!("Removed the {what} of {}.", r.username);
    }
}

fn print_user(d: &UserDetailDto) {
    let u = &d.user;
    println!("Username:      {}", u.username);
    println!("Display name:  {}", u.display_name);
    println!("Email:         {}", opt(&u.email));
    println!("Given name:    {}", opt(&u.given_name));
    println!("Family name:   {}", opt(&u.family_name));
    println!("Employee id:   {}", opt(&u.employee_id));
    println!("Type:          {}", u.user_type.as_str());
    println!("Enabled:       {}", if u.enabled { "yes" } else { "no" });
    println!("Administrator: {}", if u.is_admin { "yes" } else { "no" });
    println!("Created:       {}", u.created_date_time);
    println!("Last sign-in:  {}", or_never(&u.last_sign_in_date_time));
    if u.attributes.as_object().is_some_and(|m| !m.is_empty()) {
        println!("Attributes:    {}", u.attributes);
    }
    let groups = if d.groups.is_empty() {
        "-".to_string()
    } else {
        d.groups.join(", ")
    };
    println!("Groups:        {groups}");
    println!("Methods:");
    if d.passkeys.is_empty()
        && d.temporary_access_pass.is_none()
        && d.password.is_none()
        && d.authenticator_app.is_none()
    {
        println!("  (none registered)");
    }
    for p in &d.passkeys {
        println!(
            "  passkey  {:<20} {:<12} aaguid {}  created {}  last used {}{}",
            p.display_name,
            p.passkey_type.as_str(),
            p.aaguid,
            p.created_date_time,
            or_never(&p.last_used_date_time),
            if p.possibly_cloned {
                "  POSSIBLY CLONED"
            } else {
                ""
            }
        );
    }
    if let Some(p) = &d.password {
        println!(
            "  password  {}  {}  since {}{}",
            p.scheme,
            p.source,
            p.created_date_time,
            if p.enabled_by_policy {
                ""
            } else {
                "  (not enabled by the methods policy)"
            }
        );
    }
    if let Some(a) = &d.authenticator_app {
        println!(
            "  authenticator app  since {}  last used {}",
            a.created_date_time,
            a.last_used_date_time.as_deref().unwrap_or("never")
        );
    }
    if let Some(p) = &d.temporary_access_pass {
        println!(
            "  temporary access pass  {}  from {} for {} minutes  {}",
            if p.is_usable_once {
                "one-time"
            } else {
                "multi-use"
            },
            p.start_date_time,
            p.lifetime_in_minutes,
            p.method_usability_reason.as_str()
        );
    }
}

async fn set_enabled(
    store: &Store,
    raw: &str,
    enabled: bool,
    as_json: bool,
    now: i64,
) -> Result<(), CliError> {
    let user = directory::set_enabled(store, raw, enabled, &actor(), now)
        .await
        .map_err(app_failed)?;
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

pub async fn group(cmd: GroupCommand, as_json: bool) -> Result<(), CliError> {
    let store = store().await?;
    let now = now_ms();
    let result = run_group(&store, cmd, as_json, now).await;
    store.close().await;
    result
}

async fn run_group(
    store: &Store,
    cmd: GroupCommand,
    as_json: bool,
    now: i64,
) -> Result<(), CliError> {
    match cmd {
        GroupCommand::Add { name } => {
            let g = directory::add_group(store, &name, &actor(), now)
                .await
                .map_err(app_failed)?;
            if as_json {
                output::json(&g)
            } else {
                println!("Added group {}", g.name)
            }
        }
        GroupCommand::AddMember { group, username } => {
            let m = directory::add_member(store, &group, &username, &actor(), now)
                .await
                .map_err(app_failed)?;
            if as_json {
                output::json(&m);
            } else {
                println!("Added {} to {}", m.member, m.group);
            }
        }
        GroupCommand::List {
            limit,
            cursor,
            prefix,
        } => {
            let listing = directory::GroupListing {
                cursor,
                limit,
                name_prefix: prefix,
            };
            let page = directory::list_groups(store, &listing)
                .await
                .map_err(app_failed)?;
            if as_json {
                output::json(&page);
            } else {
                println!("{:<32} MEMBERS", "GROUP");
                for g in &page.value {
                    println!("{:<32} {}", g.name, g.member_count);
                }
                if let Some(next) = &page.next_cursor {
                    println!("More: keyfort group list --cursor {next}");
                }
            }
        }
    }
    Ok(())
}

pub async fn tap(cmd: TapCommand, as_json: bool) -> Result<(), CliError> {
    let (username, lifetime_minutes, multi_use) = match cmd {
        TapCommand::Issue {
            username,
            lifetime_minutes,
            one_time: _,
            multi_use,
        } => (username, lifetime_minutes, multi_use),
        TapCommand::Show { username } => return show_pass(&username, as_json).await,
        TapCommand::Revoke { username } => return revoke_pass(&username, as_json).await,
    };
    let store = store().await?;
    let now = now_ms();
    let issued = app::passes::issue_pass(
        &store,
        &username,
        lifetime_minutes,
        !multi_use,
        &actor(),
        now,
    )
    .await
    .map_err(app_failed);
    store.close().await;
    let p = issued?;
    if as_json {
        output::json(&p);
    } else {
        println!(
            "Temporary Access Pass for {}: {}",
            p.username, p.temporary_access_pass
        );
        println!(
            "{}, valid until {}{}. It is shown only now.",
            if p.is_usable_once {
                "One use"
            } else {
                "Multiple uses"
            },
            p.expiration_date_time,
            if p.replaced_previous {
                "; it replaces the previous pass"
            } else {
                ""
            }
        );
    }
    Ok(())
}

async fn show_pass(username: &str, as_json: bool) -> Result<(), CliError> {
    let store = store().await?;
    let shown = app::passes::show_pass(&store, username, &actor(), now_ms())
        .await
        .map_err(app_failed);
    store.close().await;
    let p = shown?;
    if as_json {
        output::json(&p);
    } else {
        println!(
            "Temporary Access Pass of {username}: {}, from {} for {} minutes, {} ({}), issued by {}",
            if p.is_usable_once {
                "one use"
            } else {
                "multiple uses"
            },
            p.start_date_time,
            p.lifetime_in_minutes,
            if p.is_usable { "usable" } else { "not usable" },
            p.method_usability_reason.as_str(),
            p.created_by
        );
    }
    Ok(())
}

async fn revoke_pass(username: &str, as_json: bool) -> Result<(), CliError> {
    let store = store().await?;
    let revoked = app::passes::revoke_pass(&store, username, &actor(), now_ms())
        .await
        .map_err(app_failed);
    store.close().await;
    let r = revoked?;
    if as_json {
        output::json(&r);
    } else {
        println!(
            "Revoked the Temporary Access Pass of {}: {} session(s) ended, {} application grant(s) revoked.",
            r.username, r.sessions_ended, r.grants_revoked
        );
    }
    Ok(())
}

pub async fn log(cmd: LogCommand, as_json: bool) -> Result<(), CliError> {
    let store = store().await?;
    match cmd {
        LogCommand::Signins { limit } => {
            let rows = app::logs::signins(&store, limit)
                .await
                .map_err(app_failed)?;
            if as_json {
                output::json(&rows);
            } else {
                println!(
                    "{:<24} {:<16} {:<22} {:<8} {:<28} IP",
                    "TIME", "USER", "METHOD", "OUTCOME", "REASON"
                );
                for r in &rows {
                    println!(
                        "{:<24} {:<16} {:<22} {:<8} {:<28} {}",
                        r.created_date_time,
                        opt(&r.username),
                        r.method,
                        r.outcome,
                        r.reason,
                        opt(&r.ip_address)
                    );
                }
            }
        }
        LogCommand::Audit { limit } => {
            let rows = app::logs::audit(&store, limit).await.map_err(app_failed)?;
            if as_json {
                output::json(&rows);
            } else {
                println!(
                    "{:<24} {:<16} {:<24} {:<16} CHANGE",
                    "TIME", "ACTOR", "ACTION", "TARGET"
                );
                for r in &rows {
                    let change = match (&r.before, &r.after) {
                        (Some(b), Some(a)) => format!("{b} -> {a}"),
                        (None, Some(a)) => a.to_string(),
                        (Some(b), None) => format!("was {b}"),
                        (None, None) => String::new(),
                    };
                    println!(
                        "{:<24} {:<16} {:<24} {:<16} {}",
                        r.activity_date_time,
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
