//! The application layer: one function per operation an administrator (or a provisioning
//! system) performs, owning its validation (the rules are `keyfort_core`'s), its
//! transaction and its audit row, and answering typed DTOs. The CLI calls these today;
//! the admin API, SCIM and the console call the same functions.
//!
//! Nothing here knows HTTP or the terminal: errors are [`AppError`], which each interface
//! renders its own way.

pub mod clients;
pub mod directory;
pub mod dto;
pub mod logs;
pub mod memberships;
pub mod metadata;
pub mod methods;
pub mod passes;
pub mod passkeys;
pub mod passwords;
pub mod policy;
pub mod policy_edits;
pub mod providers;
pub mod roles;

use keyfort_core::clients::ClientRefusal;
use keyfort_core::directory::DirectoryRefusal;
use keyfort_core::registration::RegistrationRefusal;
use keyfort_core::tap::PassIssueRefusal;
use keyfort_store::StoreError;

/// Why an operation did not happen. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The input breaks a directory rule.
    #[error(transparent)]
    Refused(#[from] DirectoryRefusal),
    /// A passkey change breaks a passkey rule (its name).
    #[error("{}", .0.code())]
    Passkey(RegistrationRefusal),
    /// The application registration cannot work.
    #[error(transparent)]
    Client(ClientRefusal),
    /// The client authenticates with keys or nothing: it has no secret to rotate.
    #[error("the client authenticates with {0}, not a secret")]
    NoSecret(String),
    /// A pass the policy does not allow: not for this user, or not for this long.
    #[error(transparent)]
    PassIssue(#[from] PassIssueRefusal),
    /// A policy document breaks a policy rule.
    #[error("{0}")]
    Policy(keyfort_core::policy::PolicyRefusal),
    /// A policy document that is not of the document's shape (the path, and what is wrong).
    #[error("{0}")]
    PolicyDocument(String),
    /// A metadata BLOB that cannot be used (the copy in use stays).
    #[error("{message}")]
    Metadata { code: &'static str, message: String },
    /// A provider name no source of names knows.
    #[error(transparent)]
    Provider(#[from] keyfort_core::providers::ProviderLookup),
    /// The change was made from a version that is no longer the stored one.
    #[error("the policy changed meanwhile (it is at version {current}); read it again")]
    Stale { current: i64 },
    /// Not one of the roles (the name given, shortened).
    #[error("`{0}` is not a role; the roles are {roles}", roles = role_names())]
    UnknownRole(String),
    #[error(
        "this is the last global administrator who is a person; assign the role to another person first"
    )]
    LastGlobalAdministrator,
    /// A person's removal of their own method that would leave them no way in.
    #[error(transparent)]
    Removal(#[from] keyfort_core::removal::RemovalRefusal),
    /// A new password the password rules refuse.
    #[error(transparent)]
    Password(keyfort_core::password::PasswordRefusal),
    /// The caller's roles do not allow the operation.
    #[error("{0}")]
    Forbidden(keyfort_core::roles::RoleRefusal),
    #[error("no such {0}")]
    NotFound(&'static str),
    #[error("that {0} already exists")]
    Conflict(&'static str),
    /// The store or the machine failed; the operation may be retried.
    #[error("{0}")]
    Internal(String),
}

impl AppError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Refused(r) => r.code(),
            AppError::Client(r) => r.code(),
            AppError::Passkey(r) => r.code(),
            AppError::NoSecret(_) => "no_client_secret",
            AppError::Policy(r) => r.problem.code(),
            AppError::PolicyDocument(_) => "invalid_policy_document",
            AppError::Provider(r) => r.code(),
            AppError::Metadata { code, .. } => code,
            AppError::Stale { .. } => "version_conflict",
            AppError::PassIssue(r) => r.code(),
            AppError::UnknownRole(_) => "unknown_role",
            AppError::LastGlobalAdministrator => "last_global_administrator",
            AppError::Removal(r) => r.code(),
            AppError::Forbidden(r) => r.code(),
            AppError::Password(r) => r.code(),
            AppError::NotFound(_) => "not_found",
            AppError::Conflict(_) => "conflict",
            AppError::Internal(_) => "internal_error",
        }
    }

    /// Whether the caller's input is at fault (a usage error), not the state or the store.
    pub fn is_input(&self) -> bool {
        matches!(
            self,
            AppError::Refused(_)
                | AppError::Client(_)
                | AppError::Passkey(_)
                | AppError::NoSecret(_)
                | AppError::PassIssue(_)
                | AppError::Password(_)
                | AppError::Policy(_)
                | AppError::PolicyDocument(_)
                | AppError::Provider(_)
                | AppError::Metadata { .. }
                | AppError::UnknownRole(_)
        )
    }
}

fn role_names() -> String {
    let names: Vec<&str> = keyfort_core::roles::Role::ALL
        .iter()
        .map(|r| r.as_str())
        .collect();
    names.join(", ")
}

impl From<RegistrationRefusal> for AppError {
    fn from(r: RegistrationRefusal) -> Self {
        AppError::Passkey(r)
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => AppError::Conflict(what),
            StoreError::NotFound(what) => AppError::NotFound(what),
            other => AppError::Internal(other.to_string()),
        }
    }
}

pub type Result<T> = std::result::Result<T, AppError>;
