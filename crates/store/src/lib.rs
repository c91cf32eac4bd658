//! Keyfort's persistence: one [`Store`] over SQLite (the embedded default) and
//! PostgreSQL, with one set of portable queries (`$n` parameters, `RETURNING`,
//! `ON CONFLICT`, integers for times and booleans) and a migration set per backend.
//!
//! Every change to credentials or directory data writes its audit row in the
//! same transaction as the change, so the audit log can never miss a change
//! that was acknowledged.

mod audit;
mod ceremonies;
mod clients;
mod error;
mod grants;
mod groups;
mod keys;
mod logs;
mod passes;
mod passkeys;
mod pool;
mod secrets;
mod sessions;
mod users;

pub use audit::AuditEvent;
pub use ceremonies::{CeremonyRecord, Taken};
pub use clients::ClientRecord;
pub use error::StoreError;
pub use grants::{CodeRecord, GrantRecord, Issuance, RefreshRecord, Spend};
pub use groups::{Group, GroupSummary};
pub use keys::SigningKeyRecord;
pub use logs::{AuditRow, SignInEvent, SignInRow};
pub use passes::PassRecord;
pub use passkeys::PasskeyRecord;
pub use pool::{Backend, Store};
pub use sessions::{PasskeyUse, SessionRecord};
pub use users::{NewUser, User};

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

pub(crate) fn flag(b: bool) -> i64 {
    i64::from(b)
}
