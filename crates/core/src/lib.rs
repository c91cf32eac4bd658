//! Keyfort's domain types and pure decision logic.
//!
//! Nothing in this crate performs I/O or reads the clock: every function that
//! depends on time takes `now` (Unix milliseconds) as a parameter, so the same
//! code answers a live sign-in, a test and (later) a What-If query.

pub mod attestation;
pub mod authorize;
pub mod campaign;
pub mod clients;
pub mod decision;
pub mod directory;
pub mod metadata;
pub mod oidc;
pub mod onboarding;
pub mod passkey;
pub mod password;
pub mod password_signin;
pub mod policy;
pub mod providers;
pub mod ranking;
pub mod refresh;
pub mod registration;
pub mod relying_party;
pub mod removal;
pub mod roles;
pub mod session;
pub mod signin;
pub mod strength;
pub mod tap;
pub mod throttle;
pub mod time;
pub mod token;
pub mod totp;
pub mod username;
pub mod webauthn;

pub use decision::{Decision, Outcome};
pub use time::{MINUTE_MS, Millis};
