//! Token signing keys: generated at first start, stored encrypted (AES-256-GCM)
//! under the master key, published in the JWKS until every token they signed expired.

use crate::config::ConfigError;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use keyfort_store::{SigningKeyRecord, Store, StoreError};
use std::path::Path;

/// The algorithms Keyfort signs with; the first is the default.
pub const ALGORITHMS: [Algorithm; 3] = [Algorithm::ES256, Algorithm::EdDSA, Algorithm::RS256];
/// Longest lifetime of any JWT Keyfort signs; retired keys stay published this long.
pub const MAX_JWT_LIFETIME_MS: i64 = 60 * 60 * 1000;

pub fn alg_name(a: Algorithm) -> &'static str {
    match a {
        Algorithm::ES256 => "ES256",
        Algorithm::EdDSA => "EdDSA",
        Algorithm::RS256 => "RS256",
        _ => "unsupported",
    }
}

pub fn parse_alg(s: &str) -> Option<Algorithm> {
    ALGORITHMS.into_iter().find(|a| alg_name(*a) == s)
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "signing key {0} cannot be decrypted: it was stored under another master key (set KEYFORT_MASTER_KEY to the key the other nodes use)"
    )]
    WrongMasterKey(String),
    #[error("signing key {0} is corrupt")]
    Corrupt(String),
    #[error("key generation failed")]
    Generation,
}

/// The key that encrypts signing keys at rest.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl MasterKey {
    /// `KEYFORT_MASTER_KEY` (base64url, 32 bytes) when given, else `master.key` in the
    /// data directory, created on first start readable only by its owner.
    pub fn load(from_env: Option<&str>, data_dir: &Path) -> Result<MasterKey, ConfigError> {
        let err = |setting: &'static str, message: String| ConfigError { setting, message };
        let decode = |setting: &'static str, text: &str| -> Result<MasterKey, ConfigError> {
            let bytes = B64.decode(text.trim()).map_err(|_| {
                err(
                    setting,
                    "the master key must be 32 bytes, base64url without padding".into(),
                )
            })?;
            let arr: [u8; 32] = bytes.try_into().map_err(|_| {
                err(
                    setting,
                    "the master key must be 32 bytes, base64url without padding".into(),
                )
            })?;
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
                let key: [u8; 32] = crate::crypto::random_bytes(32)
                    .try_into()
                    .expect("32 bytes");
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

    /// A key for one purpose, derived from the master key (HMAC-SHA256 over a label), so
    /// every node that shares the master key derives the same one.
    pub fn derive(&self, label: &str) -> [u8; 32] {
        use hmac::{Hmac, Mac};
        let mut mac =
            Hmac::<sha2::Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(b"keyfort derived key\0");
        mac.update(label.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn aead(&self) -> LessSafeKey {
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.0).expect("a 32-byte AES-256 key"))
    }

    /// nonce ‖ ciphertext ‖ tag, base64url; the key id is bound as associated data.
    fn seal(&self, kid: &str, plaintext: &[u8]) -> String {
        let nonce_bytes: [u8; NONCE_LEN] = crate::crypto::random_bytes(NONCE_LEN)
            .try_into()
            .expect("nonce length");
        let mut buf = plaintext.to_vec();
        self.aead()
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(kid.as_bytes()),
                &mut buf,
            )
            .expect("AES-GCM sealing cannot fail for small inputs");
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&buf);
        B64.encode(out)
    }

    fn open(&self, kid: &str, sealed: &str) -> Option<Vec<u8>> {
        let raw = B64.decode(sealed).ok()?;
        if raw.len() < NONCE_LEN {
            return None;
        }
        let (nonce, rest) = raw.split_at(NONCE_LEN);
        let mut buf = rest.to_vec();
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let plain = self
            .aead()
            .open_in_place(nonce, Aad::from(kid.as_bytes()), &mut buf)
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

/// A usable signing key.
pub struct SigningKey {
    pub kid: String,
    pub alg: Algorithm,
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
    pub jwk: Jwk,
    pub active: bool,
}

/// Every key currently published, the active one per algorithm first.
pub struct KeyRing {
    pub keys: Vec<SigningKey>,
}

fn encoding_key(alg: Algorithm, pkcs8: &[u8]) -> Option<EncodingKey> {
    match alg {
        Algorithm::ES256 => Some(EncodingKey::from_ec_der(pkcs8)),
        Algorithm::EdDSA => Some(EncodingKey::from_ed_der(pkcs8)),
        Algorithm::RS256 => {
            let pem = pem::encode(&pem::Pem::new("PRIVATE KEY", pkcs8.to_vec()));
            EncodingKey::from_rsa_pem(pem.as_bytes()).ok()
        }
        _ => None,
    }
}

fn generate_pkcs8(alg: Algorithm) -> Result<Vec<u8>, KeyError> {
    let rng = SystemRandom::new();
    match alg {
        Algorithm::ES256 => EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map(|d| d.as_ref().to_vec())
            .map_err(|_| KeyError::Generation),
        Algorithm::EdDSA => Ed25519KeyPair::generate_pkcs8v1(&rng)
            .map(|d| d.as_ref().to_vec())
            .map_err(|_| KeyError::Generation),
        Algorithm::RS256 => {
            let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .map_err(|_| KeyError::Generation)?;
            let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&kp)
                .map_err(|_| KeyError::Generation)?;
            Ok(der.as_ref().to_vec())
        }
        _ => Err(KeyError::Generation),
    }
}

/// Generates a key for `alg`, stores it encrypted, and retires the previous one of that algorithm.
pub async fn add_key(
    store: &Store,
    master: &MasterKey,
    alg: Algorithm,
    actor: &str,
    now: i64,
) -> Result<String, KeyError> {
    let pkcs8 = generate_pkcs8(alg)?;
    let kid = B64.encode(crate::crypto::random_bytes(12));
    let enc = encoding_key(alg, &pkcs8).ok_or(KeyError::Generation)?;
    let mut jwk = Jwk::from_encoding_key(&enc, alg).map_err(|_| KeyError::Generation)?;
    jwk.common.key_id = Some(kid.clone());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    let record = SigningKeyRecord {
        kid: kid.clone(),
        alg: alg_name(alg).into(),
        private_key: master.seal(&kid, &pkcs8),
        public_jwk: serde_json::to_string(&jwk).map_err(|_| KeyError::Generation)?,
        created_at: now,
        retired_at: None,
    };
    store.add_signing_key(&record, actor).await?;
    Ok(kid)
}

impl KeyRing {
    /// Loads the published keys, generating any algorithm that has no active key yet.
    pub async fn load(store: &Store, master: &MasterKey, now: i64) -> Result<KeyRing, KeyError> {
        let mut records = store.signing_keys(now - MAX_JWT_LIFETIME_MS).await?;
        let missing: Vec<Algorithm> = ALGORITHMS
            .into_iter()
            .filter(|a| {
                !records
                    .iter()
                    .any(|r| r.alg == alg_name(*a) && r.retired_at.is_none())
            })
            .collect();
        if !missing.is_empty() {
            for alg in missing {
                add_key(store, master, alg, "system", now).await?;
            }
            records = store.signing_keys(now - MAX_JWT_LIFETIME_MS).await?;
        }
        let mut keys = Vec::with_capacity(records.len());
        for r in records {
            let Some(alg) = parse_alg(&r.alg) else {
                continue;
            };
            let pkcs8 = master
                .open(&r.kid, &r.private_key)
                .ok_or_else(|| KeyError::WrongMasterKey(r.kid.clone()))?;
            let encoding =
                encoding_key(alg, &pkcs8).ok_or_else(|| KeyError::Corrupt(r.kid.clone()))?;
            if !super::signer::remember(alg, &encoding) {
                return Err(KeyError::Corrupt(r.kid));
            }
            let jwk: Jwk = serde_json::from_str(&r.public_jwk)
                .map_err(|_| KeyError::Corrupt(r.kid.clone()))?;
            let decoding =
                DecodingKey::from_jwk(&jwk).map_err(|_| KeyError::Corrupt(r.kid.clone()))?;
            keys.push(SigningKey {
                kid: r.kid,
                alg,
                encoding,
                decoding,
                jwk,
                active: r.retired_at.is_none(),
            });
        }
        Ok(KeyRing { keys })
    }

    /// The key that signs new tokens of `alg`.
    pub fn active(&self, alg: Algorithm) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.active && k.alg == alg)
    }

    pub fn by_kid(&self, kid: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: self.keys.iter().map(|k| k.jwk.clone()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealing_binds_the_key_id() {
        let m = MasterKey::from_bytes([7; 32]);
        let sealed = m.seal("kid-1", b"secret key");
        assert_eq!(
            m.open("kid-1", &sealed).as_deref(),
            Some(&b"secret key"[..])
        );
        assert_eq!(m.open("kid-2", &sealed), None, "moved to another key id");
        assert_eq!(
            MasterKey::from_bytes([8; 32]).open("kid-1", &sealed),
            None,
            "another master key"
        );
        assert_ne!(
            m.seal("kid-1", b"secret key"),
            sealed,
            "fresh nonce each time"
        );
    }

    #[test]
    fn every_algorithm_signs_and_verifies() {
        for alg in ALGORITHMS {
            let pkcs8 = generate_pkcs8(alg).unwrap();
            let enc = encoding_key(alg, &pkcs8).unwrap();
            let jwk = Jwk::from_encoding_key(&enc, alg).unwrap();
            let dec = DecodingKey::from_jwk(&jwk).unwrap();
            let token = jsonwebtoken::encode(
                &jsonwebtoken::Header::new(alg),
                &serde_json::json!({"sub": "x", "exp": 4_000_000_000u64}),
                &enc,
            )
            .unwrap();
            let mut v = jsonwebtoken::Validation::new(alg);
            v.validate_aud = false;
            assert!(
                jsonwebtoken::decode::<serde_json::Value>(&token, &dec, &v).is_ok(),
                "{alg:?}"
            );
        }
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
        let env = B64.encode([1u8; 32]);
        assert_eq!(
            MasterKey::load(Some(&env), dir.path()).unwrap().0,
            [1u8; 32]
        );
        assert_eq!(
            MasterKey::load(Some("short"), dir.path())
                .err()
                .unwrap()
                .setting,
            "KEYFORT_MASTER_KEY"
        );
    }
}
