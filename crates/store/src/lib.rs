//! Keyfort's persistence: one [`Store`] over SQLite (the embedded default) and
//! PostgreSQL, with one set of portable queries (`$n` parameters, `RETURNING`,
//! `ON CONFLICT`, integers for times and booleans) and a migration set per backend.
//!
//! Every change to credentials or directory data writes its audit row in the
//! same transaction as the change, so the audit log can never miss a change
//! that was acknowledged.

mod attestations;
mod audit;
mod bulk;
mod campaign;
mod ceremonies;
mod clients;
mod error;
mod exec;
mod grants;
mod group_commit;
mod groups;
mod keys;
mod logs;
mod metadata;
mod passes;
mod passkeys;
mod passwords;
mod policies;
mod pool;
mod readers;
mod revocations;
mod roles;
mod secrets;
mod sessions;
mod throttles;
mod totp;
mod users;

pub use attestations::AttestationRecord;
pub use audit::AuditEvent;
pub use campaign::CampaignSnoozes;
pub use ceremonies::{CeremonyRecord, SpentCeremony, Taken};
pub use clients::ClientRecord;
pub use error::StoreError;
pub use grants::{CodeRecord, GrantRecord, Issuance, RefreshRecord, Spend};
pub use groups::{Group, GroupSummary};
pub use keys::{Reseal, SealedKey, SigningKeyRecord};
pub use logs::{AuditRow, SignInEvent, SignInRow};
pub use metadata::{MDS, StoredBlob};
pub use passes::{PassRecord, RevokedPass};
pub use passkeys::{OwnDeletion, PasskeyRecord, SignInFacts};
pub use passwords::{ImportedPasswords, PasswordImport, PasswordRecord};
pub use policies::{PolicyWrite, StoredPolicy};
pub use pool::{Backend, Store};
pub use revocations::RevokeReason;
pub use roles::Assignment;
pub use sessions::{PasskeyUse, Recorded, SessionRecord, SignInWrite};
pub use totp::TotpRecord;
pub use users::{NewUser, RowVersion, User, UserQuery};

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

pub(crate) fn flag(b: bool) -> i64 {
    i64::from(b)
}

/// Rows per multi-row `INSERT` in a bulk import through sqlx (PostgreSQL, and SQLite
/// without a file). On PostgreSQL each statement is a round trip, so many rows per
/// statement (within its 65,535 parameters); on SQLite few, because sqlx looks each
/// parameter up by name (`sqlite3_bind_parameter_name`, a linear walk), so the binding
/// cost of one statement grows with the square of its parameter count.
pub(crate) fn bulk_rows(backend: Backend) -> usize {
    match backend {
        Backend::Postgres => 1_000,
        Backend::Sqlite => 20,
    }
}

/// `($1, $2, …), ($n+1, …)` for `rows` rows of `cols` parameters.
pub(crate) fn values_placeholders(rows: usize, cols: usize) -> String {
    let mut out = String::with_capacity(rows * cols * 6);
    for r in 0..rows {
        out.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..cols {
            if c > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(r * cols + c + 1).to_string());
        }
        out.push(')');
    }
    out
}

/// A fresh SQLite store in a directory of its own, for the store's unit tests.
#[cfg(test)]
pub(crate) async fn test_sqlite() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("k.db").display());
    (Store::open(&url).await.unwrap(), dir)
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders() {
        assert_eq!(
            super::values_placeholders(2, 3),
            "($1, $2, $3), ($4, $5, $6)"
        );
        assert_eq!(super::values_placeholders(1, 1), "($1)");
    }
}
