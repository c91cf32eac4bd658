//! Time as plain numbers: Unix milliseconds, passed in by the caller.

/// Milliseconds since the Unix epoch (UTC).
pub type Millis = i64;

pub const SECOND_MS: Millis = 1_000;
pub const MINUTE_MS: Millis = 60 * SECOND_MS;
pub const HOUR_MS: Millis = 60 * MINUTE_MS;

/// Unix milliseconds as a `SystemTime` (for certificate checks); before 1970 is 1970.
pub fn system_time(ms: Millis) -> std::time::SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}
