//! Random tokens and the hashes secrets are stored under.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use rand::TryRngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

/// Fills `buf` from the operating system's CSPRNG.
///
/// Without a working random source no token, nonce or key Keyfort makes would be secret,
/// so the process stops rather than go on: the one place Keyfort panics on purpose.
#[expect(
    clippy::expect_used,
    reason = "fail closed: nothing may be issued without a working CSPRNG"
)]
fn fill_random(buf: &mut [u8]) {
    OsRng
        .try_fill_bytes(buf)
        .expect("the operating system's random source failed");
}

/// `n` bytes from the operating system's CSPRNG.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    fill_random(&mut v);
    v
}

/// `N` bytes from the operating system's CSPRNG.
pub fn random_array<const N: usize>() -> [u8; N] {
    let mut a = [0u8; N];
    fill_random(&mut a);
    a
}

/// A 256-bit random token, base64url.
pub fn random_token() -> String {
    B64.encode(random_bytes(32))
}

/// High-entropy secrets (session tokens) are stored as SHA-256: a password hash adds nothing there.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, thiserror::Error)]
#[error("the password hash could not be computed")]
pub struct HashError;

/// Low-entropy secrets a person types (pass codes) are stored as Argon2id.
pub fn hash_code(code: &str) -> Result<String, HashError> {
    let salt = SaltString::encode_b64(&random_array::<16>()).map_err(|_| HashError)?;
    Ok(Argon2::default()
        .hash_password(code.as_bytes(), &salt)
        .map_err(|_| HashError)?
        .to_string())
}

pub fn verify_code(code: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(h) => Argon2::default()
            .verify_password(code.as_bytes(), &h)
            .is_ok(),
        Err(_) => false,
    }
}

/// Whether `password` is the one `stored` (an Argon2 PHC string, with the parameters it
/// names, or a bcrypt hash) was made from.
pub fn verify_password(password: &str, stored: &str) -> bool {
    if stored.starts_with("$2") {
        return bcrypt::verify(password, stored).unwrap_or(false);
    }
    verify_code(password, stored)
}

/// [`verify_password`] off the async workers: Argon2 and bcrypt take tens of
/// milliseconds of CPU, and a burst of sign-ins must not stall every other request.
pub async fn verify_off_thread(typed: &str, stored: &str) -> bool {
    let (typed, stored) = (typed.to_string(), stored.to_string());
    tokio::task::spawn_blocking(move || verify_password(&typed, &stored))
        .await
        .unwrap_or(false)
}

/// A fixed hash verified against when there is no pass, so a wrong username costs as
/// much time as a wrong code and timing does not reveal which usernames exist.
pub fn dummy_code_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_code("keyfort-dummy-pass").unwrap_or_else(|_| DUMMY_HASH.into()))
}

/// An Argon2id hash with the parameters `hash_code` uses, for when hashing fails at start.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$a2V5Zm9ydC1kdW1teQ$Pu8QlNR1u+O7o1wYIhpH3iR3L0qO3i2nBq6zVJ6pRwE";

/// A random (version 4) UUID as text.
pub fn uuid_v4() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A time-ordered (version 7) UUID as text, for rows written on the hot paths (sessions,
/// grants, access-token records, spent ceremonies): their text sorts by creation time, so
/// each insert lands on the last page of the primary-key index instead of a random one,
/// and a group commit writes a few pages instead of one per row. For identifiers only,
/// never secrets: most of their bits are a timestamp.
pub fn ordered_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fallback_dummy_costs_what_a_real_hash_costs() {
        let real = hash_code("x").unwrap();
        let real = PasswordHash::new(&real).unwrap();
        let dummy = PasswordHash::new(DUMMY_HASH).unwrap();
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.version, real.version);
        assert_eq!(dummy.params, real.params);
        assert_eq!(dummy.hash.map(|h| h.len()), real.hash.map(|h| h.len()));
        assert!(!verify_code("keyfort-dummy-pass", DUMMY_HASH));
    }

    #[test]
    fn code_hashes_verify_and_differ() {
        let a = hash_code("abcd2345").unwrap();
        let b = hash_code("abcd2345").unwrap();
        assert_ne!(a, b, "salted");
        assert!(verify_code("abcd2345", &a));
        assert!(!verify_code("abcd2346", &a));
        assert!(!verify_code("abcd2345", "not a hash"));
    }

    #[test]
    fn imported_hashes_verify_with_their_own_parameters() {
        let bcrypt = bcrypt::hash("correct horse battery staple", 4).unwrap();
        assert!(verify_password("correct horse battery staple", &bcrypt));
        assert!(!verify_password("correct horse battery stapler", &bcrypt));
        let params = argon2::Params::new(8192, 1, 1, None).unwrap();
        let argon2i = Argon2::new(argon2::Algorithm::Argon2i, argon2::Version::V0x13, params);
        let salt = SaltString::encode_b64(b"imported-salt-16").unwrap();
        let hash = argon2i
            .hash_password(b"correct horse battery staple", &salt)
            .unwrap()
            .to_string();
        assert!(hash.starts_with("$argon2i$v=19$m=8192,t=1,p=1$"));
        assert!(verify_password("correct horse battery staple", &hash));
        assert!(!verify_password("Correct horse battery staple", &hash));
        assert!(!verify_password("x", "$2b$04$tooshort"));
    }

    #[test]
    fn ordered_ids_sort_by_creation_and_are_unique() {
        let ids: Vec<String> = (0..2000).map(|_| ordered_id()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(
            sorted, ids,
            "text order is creation order, and no id repeats"
        );
        assert!(uuid::Uuid::parse_str(&ids[0]).is_ok_and(|u| u.get_version_num() == 7));
    }

    #[test]
    fn tokens_are_random_and_hash_stably() {
        assert_ne!(random_token(), random_token());
        assert_eq!(token_hash("x"), token_hash("x"));
        assert_eq!(token_hash("x").len(), 64);
    }
}
