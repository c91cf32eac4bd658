//! Keyfort's load generator. It provisions users with software-authenticator
//! passkeys straight into the store (a bulk path), starts a Keyfort server (a
//! separate process, so its CPU time and memory can be read from the kernel, or
//! in-process for the suite's smoke test), and drives it over HTTP with a fixed
//! concurrency for a bounded time or number of operations.

pub mod floor;
pub mod policy_load;
pub mod provision;
pub mod report;
pub mod scenarios;
pub mod target;
