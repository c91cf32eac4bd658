//! Human and JSON output, and times as people read them.

use serde::Serialize;

pub fn json<T: Serialize>(v: &T) {
    match serde_json::to_string_pretty(v) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("keyfort: cannot encode output: {e}"),
    }
}

pub fn when(ms: Option<i64>) -> String {
    let Some(ms) = ms else { return "never".into() };
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]Z");
    time::OffsetDateTime::from_unix_timestamp(ms / 1000)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| ms.to_string())
}

pub fn opt(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("-")
}
