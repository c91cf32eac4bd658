//! The OpenID Connect provider: discovery, keys, authorization, tokens, UserInfo,
//! revocation, introspection and RP-initiated logout.

pub mod authorize;
pub mod client_auth;
pub mod discovery;
pub mod error;
pub mod keyring;
pub mod logout;
pub mod revocation;
pub mod signer;
pub mod token;
pub mod tokens;
pub mod userinfo;
