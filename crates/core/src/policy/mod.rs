//! The authentication-methods policy: which sign-in methods exist for whom, and for
//! passkeys, which passkeys are good enough (passkey profiles). `document` is the policy
//! as an administrator writes it, `edit` the one-at-a-time changes of the CLI, `validate` checks a whole document before it is stored,
//! and `evaluate` is the one evaluator registration, sign-in, `policy explain` and the
//! "My security" page call.
//!
//! The semantics follow Microsoft Entra ID's authentication-methods policy, whose field
//! names the document keeps: a method is `enabled` or `disabled`; it applies to its
//! `includeTargets` (all users, or groups) except its `excludeTargets` (groups), and an
//! exclusion beats every include. A passkey is acceptable when it satisfies any one
//! passkey profile in the user's scope. Passkey types and key restrictions are enforced
//! at registration and at every sign-in; attestation at registration only.

mod document;
mod edit;
mod evaluate;
mod hints;
mod validate;

pub use document::*;
pub use edit::*;
pub use evaluate::*;
pub use hints::*;
pub use validate::*;
