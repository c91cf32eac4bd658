//! Authenticated encryption, once: AES-256-GCM under keys derived from the master key.
//!
//! The master key (`KEYFORT_MASTER_KEY`, or `master.key` in the data directory) is never a
//! cipher key itself. Each purpose gets its own subkey by HKDF-SHA256 (RFC 5869), with the
//! purpose's label as HKDF `info`, so a value sealed for one purpose never opens for
//! another, and every node that shares the master key derives the same subkeys.
//! Sealed bytes are nonce (96 bits, random) ‖ ciphertext ‖ tag; the caller binds what the
//! value is about (a key id, a ceremony kind) as associated data.

use crate::config::ConfigError;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use std::path::Path;

/// What a subkey is for. Each has its own HKDF label; changing a label re-keys that purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Token signing keys at rest (`signing_keys.private_key`).
    SigningKeysAtRest,
    /// Passkey sign-in ceremonies carried by the browser (`sealed`).
    SealedCeremonies,
    /// Authorization requests waiting for a sign-in, carried in the URL (`sealed`).
    SealedRequests,
    /// Authenticator-app (TOTP) secrets at rest (`totp_credentials.secret_sealed`).
    TotpSecrets,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::SigningKeysAtRest => b"keyfort/v1/signing-keys-at-rest",
            Purpose::SealedCeremonies => b"keyfort/v1/sealed-ceremonies",
            Purpose::SealedRequests => b"keyfort/v1/sealed-requests",
            Purpose::TotpSecrets => b"keyfort/v1/totp-secrets",
        }
    }
}

/// HKDF's extract salt: fixed, so every node derives the same subkeys (RFC 5869 §3.1 allows
/// a constant salt; the master key is already uniformly random).
const HKDF_SALT: &[u8] = b"keyfort master key";

#[derive(Debug, thiserror::Error)]
#[error("the cipher refused the operation")]
pub struct CipherError;

/// The root secret every other key is derived from.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl MasterKey {
    /// `KEYFORT_MASTER_KEY` (base64url, 32 bytes) when given, else `master.key` in the
    /// data directory, created on first start readable only by its owner.
    pub fn load(from_env: Option<&str>, data_dir: &Path) -> Result<MasterKey, ConfigError> {
        let err = |setting: &'static str, message: String| ConfigError { setting, message };
        let decode = |setting: &'static str, text: &str| -> Result<MasterKey, ConfigError> {
            let bad = || {
                err(
                    setting,
                    "the master key must be 32 bytes, base64url without padding".into(),
                )
            };
            let bytes = B64.decode(text.trim()).map_err(|_| bad())?;
            let arr: [u8; 32] = bytes.try_into().map_err(|_| bad())?;
            Ok(MasterKey(arr))
        };
        if let Some(v) = from_env {
            return decode("KEYFORT_MASTER_KEY", v);
        }
        let path = data_dir.join("master.key");
        match std::fs::read_to_string(&path) {
            Ok(text) => decode("KEYFORT_DATA_DIR", &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(data_dir).map_err(|e| {
                    err(
                        "KEYFORT_DATA_DIR",
                        format!("cannot create {}: {e}", data_dir.display()),
                    )
                })?;
                let key = crate::crypto::random_array::<32>();
                write_private(&path, &B64.encode(key)).map_err(|e| {
                    err(
                        "KEYFORT_DATA_DIR",
                        format!("cannot write {}: {e}", path.display()),
                    )
                })?;
                Ok(MasterKey(key))
            }
            Err(e) => Err(err(
                "KEYFORT_DATA_DIR",
                format!("cannot read {}: {e}", path.display()),
            )),
        }
    }

    pub fn from_bytes(key: [u8; 32]) -> MasterKey {
        MasterKey(key)
    }

    /// The cipher for one purpose.
    pub fn cipher(&self, purpose: Purpose) -> Result<Cipher, CipherError> {
        let prk = Salt::new(HKDF_SHA256, HKDF_SALT).extract(&self.0);
        let labels = [purpose.label()];
        let okm = prk.expand(&labels, &AES_256_GCM).map_err(|_| CipherError)?;
        Ok(Cipher {
            key: LessSafeKey::new(UnboundKey::from(okm)),
        })
    }

    /// The master key used directly as the cipher key, as signing keys were sealed before
    /// subkeys: only for opening those so that they can be sealed again
    /// (`oidc::keyring::reseal_legacy`).
    pub(crate) fn legacy_cipher(&self) -> Result<Cipher, CipherError> {
        Ok(Cipher {
            key: LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.0).map_err(|_| CipherError)?),
        })
    }

    /// The raw bytes, for tests that must stand in for another node.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> [u8; 32] {
        self.0
    }
}

/// AES-256-GCM under one subkey.
pub struct Cipher {
    key: LessSafeKey,
}

impl Cipher {
    /// A cipher over a raw 32-byte key (tests, and values that are not the master key's).
    pub fn from_key(key: [u8; 32]) -> Result<Cipher, CipherError> {
        Ok(Cipher {
            key: LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key).map_err(|_| CipherError)?),
        })
    }

    /// nonce ‖ ciphertext ‖ tag; `aad` is authenticated, not encrypted.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CipherError> {
        let nonce = crate::crypto::random_array::<NONCE_LEN>();
        let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + AES_256_GCM.tag_len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let mut body = out.split_off(NONCE_LEN);
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut body,
            )
            .map_err(|_| CipherError)?;
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// The plaintext, or `None` for anything not sealed by this key with this `aad`.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let mut buf = rest.to_vec();
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(aad), &mut buf)
            .ok()?;
        Some(plain.to_vec())
    }
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_purpose_has_its_own_key() {
        let m = MasterKey::from_bytes([7; 32]);
        let sealed = m
            .cipher(Purpose::SealedCeremonies)
            .unwrap()
            .seal(b"a", b"secret")
            .unwrap();
        let same = m.cipher(Purpose::SealedCeremonies).unwrap();
        assert_eq!(same.open(b"a", &sealed).as_deref(), Some(&b"secret"[..]));
        assert_eq!(same.open(b"b", &sealed), None, "other associated data");
        for other in [Purpose::SealedRequests, Purpose::SigningKeysAtRest] {
            assert_eq!(m.cipher(other).unwrap().open(b"a", &sealed), None);
        }
        assert_eq!(m.legacy_cipher().unwrap().open(b"a", &sealed), None);
        assert_eq!(
            MasterKey::from_bytes([8; 32])
                .cipher(Purpose::SealedCeremonies)
                .unwrap()
                .open(b"a", &sealed),
            None,
            "another master key"
        );
    }

    #[test]
    fn subkeys_are_stable_and_not_the_master_key() {
        // The same master key derives the same subkey on every node and every start.
        let m = MasterKey::from_bytes([7; 32]);
        let sealed = m
            .cipher(Purpose::SigningKeysAtRest)
            .unwrap()
            .seal(b"kid", b"pkcs8")
            .unwrap();
        let again = MasterKey::from_bytes(m.bytes());
        assert!(
            again
                .cipher(Purpose::SigningKeysAtRest)
                .unwrap()
                .open(b"kid", &sealed)
                .is_some()
        );
        assert!(
            Cipher::from_key(m.bytes())
                .unwrap()
                .open(b"kid", &sealed)
                .is_none()
        );
    }

    #[test]
    fn refuses_tampered_and_short_input() {
        let c = Cipher::from_key([3; 32]).unwrap();
        let mut sealed = c.seal(b"x", b"hello").unwrap();
        assert_ne!(sealed, c.seal(b"x", b"hello").unwrap(), "fresh nonce");
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert_eq!(c.open(b"x", &sealed), None);
        sealed[last] ^= 1;
        sealed[NONCE_LEN] ^= 1;
        assert_eq!(c.open(b"x", &sealed), None);
        assert_eq!(c.open(b"x", &sealed[..NONCE_LEN - 1]), None);
        assert_eq!(c.open(b"x", &[]), None);
    }

    #[test]
    fn master_key_file_is_created_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let a = MasterKey::load(None, dir.path()).unwrap();
        let b = MasterKey::load(None, dir.path()).unwrap();
        assert_eq!(a.0, b.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("master.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let env = B64.encode([5u8; 32]);
        assert_eq!(
            MasterKey::load(Some(&env), dir.path()).unwrap().0,
            [5u8; 32]
        );
        assert_eq!(
            MasterKey::load(Some("short"), dir.path())
                .err()
                .map(|e| e.setting),
            Some("KEYFORT_MASTER_KEY")
        );
    }
}
