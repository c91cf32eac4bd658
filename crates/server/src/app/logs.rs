//! Reading the sign-in and audit logs.

use super::Result;
use super::dto::{AuditDto, SignInDto};
use keyfort_store::Store;

/// The most rows one read returns.
pub const MAX_ROWS: i64 = 10_000;

/// Sign-in attempts, newest first (`limit` clamped to 1..=10,000).
pub async fn signins(store: &Store, limit: i64) -> Result<Vec<SignInDto>> {
    let rows = store.signin_log(limit.clamp(1, MAX_ROWS)).await?;
    Ok(rows.iter().map(SignInDto::from).collect())
}

/// Changes to the directory, credentials, clients and keys, newest first.
pub async fn audit(store: &Store, limit: i64) -> Result<Vec<AuditDto>> {
    let rows = store.audit_log(limit.clamp(1, MAX_ROWS)).await?;
    Ok(rows.iter().map(AuditDto::from).collect())
}
