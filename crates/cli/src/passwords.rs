//! `keyfort user set-password` and `keyfort user import`.

use crate::CliError;
use crate::admin::{actor, app_failed};
use crate::output;
use keyfort_server::app::passwords::{self, ImportFormat};
use keyfort_store::Store;
use std::io::{BufRead, IsTerminal};
use std::path::Path;

/// The largest import file read (about a million users).
const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;

/// The new password: asked for twice without echo on a terminal, else one line of stdin.
fn read_new_password() -> Result<String, CliError> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("New password: ")
            .map_err(|e| CliError::Failed(format!("the password could not be read: {e}")))?;
        let again = rpassword::prompt_password("Again: ")
            .map_err(|e| CliError::Failed(format!("the password could not be read: {e}")))?;
        if first != again {
            return Err(CliError::Usage(
                "the two passwords differ; nothing changed".into(),
            ));
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::Failed(format!("standard input could not be read: {e}")))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

pub async fn set(store: &Store, username: &str, as_json: bool, now: i64) -> Result<(), CliError> {
    let new_password = read_new_password()?;
    let r = passwords::set_password(store, username, new_password, &actor(), now)
        .await
        .map_err(app_failed)?;
    if as_json {
        output::json(&r);
    } else {
        println!(
            "{} the password of {} (Argon2id).{}",
            if r.replaced_previous {
                "Replaced"
            } else {
                "Set"
            },
            r.username,
            if r.enabled_by_policy {
                ""
            } else {
                " The methods policy does not enable passwords for them yet."
            }
        );
    }
    Ok(())
}

fn format_of(file: &Path, format: Option<String>) -> Result<ImportFormat, CliError> {
    match format.as_deref() {
        Some("jsonl") | Some("json") => Ok(ImportFormat::JsonLines),
        Some("csv") => Ok(ImportFormat::Csv),
        Some(other) => Err(CliError::Usage(format!(
            "--format {other}: the formats are jsonl and csv"
        ))),
        None => ImportFormat::of_path(&file.to_string_lossy()).ok_or_else(|| {
            CliError::Usage(
                "give --format jsonl or --format csv (the file's extension does not say)".into(),
            )
        }),
    }
}

pub async fn import(
    store: &Store,
    file: &Path,
    format: Option<String>,
    continue_on_error: bool,
    as_json: bool,
    now: i64,
) -> Result<(), CliError> {
    let format = format_of(file, format)?;
    let unreadable = |e: std::io::Error| CliError::Usage(format!("{}: {e}", file.display()));
    let size = std::fs::metadata(file).map_err(unreadable)?.len();
    if size > MAX_FILE_BYTES {
        return Err(CliError::Usage(format!(
            "{}: larger than {} MiB; split it",
            file.display(),
            MAX_FILE_BYTES / 1024 / 1024
        )));
    }
    let text = std::fs::read_to_string(file).map_err(unreadable)?;
    let bar = indicatif::ProgressBar::with_draw_target(
        None,
        if std::io::stderr().is_terminal() && !as_json {
            indicatif::ProgressDrawTarget::stderr()
        } else {
            indicatif::ProgressDrawTarget::hidden()
        },
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} users checked")
    {
        bar.set_style(style);
    }
    let progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let r = passwords::import_passwords(
        store,
        &text,
        format,
        continue_on_error,
        &actor(),
        now,
        &progress,
    )
    .await
    .map_err(app_failed)?;
    bar.finish_and_clear();
    if as_json {
        output::json(&r);
    } else {
        for p in &r.skipped {
            eprintln!(
                "line {}{}: {} ({})",
                p.line,
                p.username
                    .as_deref()
                    .map(|u| format!(" ({u})"))
                    .unwrap_or_default(),
                p.message,
                p.code
            );
        }
        if r.committed {
            let mut schemes: Vec<String> = r
                .by_scheme
                .iter()
                .map(|(s, n)| format!("{n} {s}"))
                .collect();
            schemes.sort();
            println!(
                "Imported {} password(s) from {} line(s): {} new, {} replaced{}; {} skipped; {} weaker than Keyfort's own Argon2id.",
                r.added.saturating_add(r.replaced),
                r.lines,
                r.added,
                r.replaced,
                if schemes.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", schemes.join(", "))
                },
                r.skipped.len(),
                r.to_rehash
            );
        }
    }
    if !r.committed {
        return Err(CliError::Usage(format!(
            "{} line(s) at fault; nothing imported (--continue-on-error imports the rest)",
            r.skipped.len()
        )));
    }
    Ok(())
}
