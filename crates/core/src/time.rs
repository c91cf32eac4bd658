//! Time as plain numbers: Unix milliseconds, passed in by the caller.

/// Milliseconds since the Unix epoch (UTC).
pub type Millis = i64;

pub const SECOND_MS: Millis = 1_000;
pub const MINUTE_MS: Millis = 60 * SECOND_MS;
pub const HOUR_MS: Millis = 60 * MINUTE_MS;
