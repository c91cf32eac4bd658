//! Human and JSON output.

use serde::Serialize;

pub fn json<T: Serialize>(v: &T) {
    match serde_json::to_string_pretty(v) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("keyfort: cannot encode output: {e}"),
    }
}

pub fn opt(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("-")
}
