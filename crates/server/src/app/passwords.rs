//! Password use cases: an administrator sets a user's password, or imports the hashes an
//! organisation's previous directory kept, so nobody has to reset on moving in. The
//! rules are `keyfort_core::password`'s; a password alone is never multi-factor.

use super::directory::find_user;
use super::{AppError, Result};
use keyfort_core::password::{self, AcceptedHash, Argon2Facts, HashRefusal, HashScheme};
use keyfort_core::policy::{MethodId, Scope, Subject, method_scope};
use keyfort_core::username;
use keyfort_store::{PasswordImport, Store};
use serde::Serialize;
use std::collections::HashMap;

/// A password set for a user.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordSetDto {
    pub username: String,
    pub scheme: String,
    pub replaced_previous: bool,
    /// Whether the authentication-methods policy enables passwords for the user now.
    pub enabled_by_policy: bool,
}

/// Sets the password of the user named `raw`, as Argon2id; audited as `password.set`
/// (never with the password or its hash).
pub async fn set_password(
    store: &Store,
    raw: &str,
    new_password: String,
    actor: &str,
    now: i64,
) -> Result<PasswordSetDto> {
    let user = find_user(store, raw).await?;
    password::check_new(&new_password, &user.username).map_err(AppError::Password)?;
    let hash = tokio::task::spawn_blocking(move || crate::crypto::hash_code(&new_password))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let scheme = HashScheme::Argon2id.as_str();
    let replaced = store
        .set_password(&user.id, &user.username, &hash, scheme, actor, now)
        .await?;
    Ok(PasswordSetDto {
        username: user.username.clone(),
        scheme: scheme.into(),
        replaced_previous: replaced,
        enabled_by_policy: enabled_for(store, &user.id).await?,
    })
}

/// Whether the methods policy enables passwords for the user.
pub async fn enabled_for(store: &Store, user_id: &str) -> Result<bool> {
    let snapshot = super::policy::load(store).await?;
    let groups = snapshot.groups_of(store, user_id).await?;
    Ok(matches!(
        method_scope(
            &snapshot.policy,
            MethodId::Password,
            Subject { groups: &groups }
        ),
        Scope::Included { .. }
    ))
}

/// Whether an imported hash string may be stored, parsed by the PHC-format parser for
/// Argon2 and checked whole for bcrypt.
pub fn accept_hash(hash: &str) -> std::result::Result<AcceptedHash, HashRefusal> {
    if password::scheme_of(hash)? == HashScheme::Bcrypt {
        return password::accept_bcrypt(hash);
    }
    let parsed = argon2::password_hash::PasswordHash::new(hash)
        .map_err(|_| HashRefusal::Malformed("its parameters, salt or hash cannot be read"))?;
    let param = |name: &str| parsed.params.get_decimal(name);
    let (Some(memory_kib), Some(passes), Some(_lanes)) = (param("m"), param("t"), param("p"))
    else {
        return Err(HashRefusal::Malformed("it must give m, t and p"));
    };
    if parsed.salt.is_none() {
        return Err(HashRefusal::Malformed("it has no salt"));
    }
    password::accept_argon2(Argon2Facts {
        algorithm: parsed.algorithm.as_str(),
        memory_kib,
        passes,
        has_output: parsed.hash.is_some(),
    })
}

/// The layout of an import file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportFormat {
    /// One JSON object per line: `{"username": …, "passwordHash": …}`.
    JsonLines,
    /// A header naming `username` and `passwordHash` (other columns are ignored), then
    /// one user per row.
    Csv,
}

impl ImportFormat {
    /// The format a file's name suggests.
    pub fn of_path(path: &str) -> Option<ImportFormat> {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".csv") {
            Some(ImportFormat::Csv)
        } else if [".jsonl", ".ndjson", ".json"]
            .iter()
            .any(|e| lower.ends_with(e))
        {
            Some(ImportFormat::JsonLines)
        } else {
            None
        }
    }
}

/// A line the import did not take, and why.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportProblem {
    pub line: u64,
    pub username: Option<String>,
    pub code: String,
    pub message: String,
}

/// What an import did: with `committed` false nothing was written.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordImportDto {
    pub committed: bool,
    pub lines: u64,
    pub added: u64,
    pub replaced: u64,
    /// Imported hashes weaker than Argon2id with Keyfort's parameters (bcrypt, Argon2i/d,
    /// less memory or fewer passes).
    pub to_rehash: u64,
    pub by_scheme: HashMap<String, u64>,
    pub skipped: Vec<ImportProblem>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct JsonLine {
    username: String,
    password_hash: String,
}

/// One row of a file, before it is checked: its line, username and hash.
type RawRow = (u64, String, String);

fn problem(
    line: u64,
    username: Option<&str>,
    code: &str,
    message: impl Into<String>,
) -> ImportProblem {
    ImportProblem {
        line,
        username: username.map(str::to_string),
        code: code.into(),
        message: message.into(),
    }
}

fn read_json_lines(text: &str, rows: &mut Vec<RawRow>, problems: &mut Vec<ImportProblem>) {
    for (i, l) in text.lines().enumerate() {
        let line = u64::try_from(i).unwrap_or(u64::MAX).saturating_add(1);
        if l.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<JsonLine>(l) {
            Ok(j) => rows.push((line, j.username, j.password_hash)),
            Err(e) => problems.push(problem(
                line,
                None,
                "malformed_line",
                format!("not a JSON object with username and passwordHash: {e}"),
            )),
        }
    }
}

fn read_csv(text: &str, rows: &mut Vec<RawRow>, problems: &mut Vec<ImportProblem>) {
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let header = match r.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            problems.push(problem(
                1,
                None,
                "malformed_header",
                format!("the header cannot be read: {e}"),
            ));
            return;
        }
    };
    let col = |name: &str| header.iter().position(|h| h.trim() == name);
    let (Some(u), Some(h)) = (col("username"), col("passwordHash")) else {
        problems.push(problem(
            1,
            None,
            "malformed_header",
            "the header must name the columns username and passwordHash",
        ));
        return;
    };
    for record in r.records() {
        match record {
            Ok(rec) => {
                let line = rec.position().map_or(0, |p| p.line());
                match (rec.get(u), rec.get(h)) {
                    (Some(name), Some(hash)) => {
                        rows.push((line, name.to_string(), hash.to_string()))
                    }
                    _ => problems.push(problem(
                        line,
                        None,
                        "malformed_line",
                        "the row lacks the username or passwordHash column",
                    )),
                }
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                problems.push(problem(
                    line,
                    None,
                    "malformed_line",
                    format!("the row cannot be read: {e}"),
                ));
            }
        }
    }
}

/// The rows of an import file that can be stored, and the problems of the others: each
/// username normalised and named once, each hash accepted by [`accept_hash`].
/// Whether the file names `username` on any line it can read.
pub fn names_user(text: &str, format: ImportFormat, username: &str) -> bool {
    parse_import(text, format)
        .0
        .iter()
        .any(|row| row.username == username)
}

pub fn parse_import(
    text: &str,
    format: ImportFormat,
) -> (Vec<PasswordImport>, Vec<ImportProblem>, u64) {
    let mut raw = Vec::new();
    let mut problems = Vec::new();
    match format {
        ImportFormat::JsonLines => read_json_lines(text, &mut raw, &mut problems),
        ImportFormat::Csv => read_csv(text, &mut raw, &mut problems),
    }
    let lines = u64::try_from(raw.len().saturating_add(problems.len())).unwrap_or(u64::MAX);
    let mut first_line: HashMap<String, u64> = HashMap::new();
    let mut rows = Vec::new();
    let mut rehash = Vec::new();
    for (line, name, hash) in raw {
        let name = match username::normalize(&name) {
            Ok(n) => n,
            Err(e) => {
                problems.push(problem(
                    line,
                    Some(&name),
                    "invalid_username",
                    e.to_string(),
                ));
                continue;
            }
        };
        if let Some(first) = first_line.get(&name) {
            problems.push(problem(
                line,
                Some(&name),
                "duplicate_username",
                format!("the username is also on line {first}"),
            ));
            continue;
        }
        first_line.insert(name.clone(), line);
        match accept_hash(hash.trim()) {
            Ok(a) => {
                rehash.push(a.needs_rehash);
                rows.push(PasswordImport {
                    line,
                    username: name,
                    hash: hash.trim().to_string(),
                    scheme: a.scheme.as_str().into(),
                });
            }
            Err(r) => problems.push(problem(line, Some(&name), r.code(), r.to_string())),
        }
    }
    problems.sort_by_key(|p| p.line);
    (rows, problems, lines)
}

/// Imports the password hashes of `text` in one audited transaction. Any problem — a
/// malformed line, a refused hash, a username no user has — imports nothing unless
/// `continue_on_error`, when the lines at fault are skipped and reported. `progress` is
/// told how many of the rows have been checked against the directory.
pub async fn import_passwords(
    store: &Store,
    text: &str,
    format: ImportFormat,
    continue_on_error: bool,
    actor: &str,
    now: i64,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<PasswordImportDto> {
    let (rows, mut problems, lines) = parse_import(text, format);
    let total = u64::try_from(rows.len()).unwrap_or(u64::MAX);
    let mut checked = 0u64;
    if !continue_on_error {
        for row in &rows {
            if store.user_by_username(&row.username).await?.is_none() {
                problems.push(unknown(row));
            }
            checked = checked.saturating_add(1);
            if checked.is_multiple_of(256) || checked == total {
                progress(checked, total);
            }
        }
    }
    let mut report = PasswordImportDto {
        committed: false,
        lines,
        added: 0,
        replaced: 0,
        to_rehash: 0,
        by_scheme: HashMap::new(),
        skipped: Vec::new(),
    };
    if !continue_on_error && !problems.is_empty() {
        problems.sort_by_key(|p| p.line);
        report.skipped = problems;
        return Ok(report);
    }
    let outcome = store
        .import_passwords(rows.clone(), continue_on_error, actor, now)
        .await?;
    progress(total, total);
    problems.extend(outcome.unknown.iter().map(unknown));
    problems.sort_by_key(|p| p.line);
    let skipped_lines: std::collections::HashSet<u64> =
        outcome.unknown.iter().map(|u| u.line).collect();
    for row in rows.iter().filter(|r| !skipped_lines.contains(&r.line)) {
        *report.by_scheme.entry(row.scheme.clone()).or_default() += 1;
        if accept_hash(&row.hash).is_ok_and(|a| a.needs_rehash) {
            report.to_rehash = report.to_rehash.saturating_add(1);
        }
    }
    report.committed = true;
    report.added = outcome.added;
    report.replaced = outcome.replaced;
    report.skipped = problems;
    Ok(report)
}

fn unknown(row: &PasswordImport) -> ImportProblem {
    problem(
        row.line,
        Some(&row.username),
        "unknown_user",
        "no user has this username",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARGON: &str = "$argon2id$v=19$m=19456,t=2,p=1$a2V5Zm9ydC1kdW1teQ$Pu8QlNR1u+O7o1wYIhpH3iR3L0qO3i2nBq6zVJ6pRwE";
    const WEAK: &str = "$argon2id$v=19$m=4096,t=3,p=1$a2V5Zm9ydC1kdW1teQ$Pu8QlNR1u+O7o1wYIhpH3iR3L0qO3i2nBq6zVJ6pRwE";
    const BCRYPT: &str = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";

    #[test]
    fn real_hashes_are_accepted_and_weak_ones_marked() {
        let made = crate::crypto::hash_code("correct horse battery staple").unwrap();
        assert!(!accept_hash(&made).unwrap().needs_rehash);
        assert_eq!(accept_hash(ARGON).unwrap().scheme, HashScheme::Argon2id);
        assert!(accept_hash(WEAK).unwrap().needs_rehash);
        assert_eq!(accept_hash(BCRYPT).unwrap().scheme, HashScheme::Bcrypt);
        assert_eq!(
            accept_hash("$argon2id$v=19$m=19456,t=2,p=1"),
            Err(HashRefusal::Malformed("it has no salt"))
        );
        assert!(accept_hash("$argon2id$v=19$m=x,t=2,p=1$c2FsdHNhbHQ$aGFzaA").is_err());
        assert_eq!(accept_hash("$1$abc$def"), Err(HashRefusal::UnknownScheme));
    }

    #[test]
    fn problems_are_named_by_line() {
        let text = format!(
            "{{\"username\":\"alice\",\"passwordHash\":\"{ARGON}\"}}\n\
             not json\n\
             \n\
             {{\"username\":\"bob\",\"passwordHash\":\"md5:abc\"}}\n\
             {{\"username\":\"ALICE\",\"passwordHash\":\"{BCRYPT}\"}}\n\
             {{\"username\":\"carol\",\"passwordHash\":\"{BCRYPT}\",\"extra\":1}}\n\
             {{\"username\":\"dave\",\"passwordHash\":\"{WEAK}\"}}\n"
        );
        let (rows, problems, lines) = parse_import(&text, ImportFormat::JsonLines);
        assert_eq!(lines, 6);
        let taken: Vec<(u64, &str)> = rows.iter().map(|r| (r.line, r.username.as_str())).collect();
        assert_eq!(taken, [(1, "alice"), (7, "dave")]);
        let codes: Vec<(u64, &str)> = problems.iter().map(|p| (p.line, p.code.as_str())).collect();
        assert_eq!(
            codes,
            [
                (2, "malformed_line"),
                (4, "hash_unknown_scheme"),
                (5, "duplicate_username"),
                (6, "malformed_line")
            ]
        );
        assert!(problems[2].message.contains("line 1"));
    }

    #[test]
    fn csv_takes_its_columns_from_the_header() {
        let text = format!(
            "email,passwordHash,username\n\
             a@example.org,{BCRYPT},alice\n\
             \"b@example.org\",\"{ARGON}\",bob\n\
             c@example.org\n"
        );
        let (rows, problems, lines) = parse_import(&text, ImportFormat::Csv);
        assert_eq!(lines, 3);
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].line, rows[0].scheme.as_str()), (2, "bcrypt"));
        assert_eq!((rows[1].line, rows[1].username.as_str()), (3, "bob"));
        assert_eq!(
            (problems[0].line, problems[0].code.as_str()),
            (4, "malformed_line")
        );
        let (_, problems, _) = parse_import("user,hash\nalice,x\n", ImportFormat::Csv);
        assert_eq!(problems[0].code, "malformed_header");
        assert_eq!(ImportFormat::of_path("Users.CSV"), Some(ImportFormat::Csv));
        assert_eq!(
            ImportFormat::of_path("u.jsonl"),
            Some(ImportFormat::JsonLines)
        );
        assert_eq!(ImportFormat::of_path("u.txt"), None);
    }
}
