//! Token signing keys: generated at first start, stored encrypted (AES-256-GCM)
//! under the master key, published in the JWKS until every token they signed expired.

pub use crate::aead::MasterKey;
use crate::aead::{Cipher, CipherError, Purpose};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use keyfort_store::{Reseal, SigningKeyRecord, Store, StoreError};

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
    #[error("the key cipher failed")]
    Cipher(#[from] CipherError),
}

/// Sealed signing keys carry this prefix. Rows without it were sealed under the master key
/// itself, before every purpose had its own subkey, and are sealed again at start
/// (`reseal_legacy`).
const SEALED_PREFIX: &str = "v2:";

fn seal_private(cipher: &Cipher, kid: &str, pkcs8: &[u8]) -> Result<String, KeyError> {
    Ok(format!(
        "{SEALED_PREFIX}{}",
        B64.encode(cipher.seal(kid.as_bytes(), pkcs8)?)
    ))
}

fn open_private(cipher: &Cipher, kid: &str, stored: &str) -> Option<Vec<u8>> {
    let raw = B64.decode(stored.strip_prefix(SEALED_PREFIX)?).ok()?;
    cipher.open(kid.as_bytes(), &raw)
}

/// Seals every signing key still stored under the master key itself again, under the
/// signing-key subkey, in one transaction with an audit row per key. Rows that do not
/// open are left as they are (`KeyRing::load` names the published ones).
pub async fn reseal_legacy(store: &Store, master: &MasterKey, now: i64) -> Result<usize, KeyError> {
    let legacy = master.legacy_cipher()?;
    let current = master.cipher(Purpose::SigningKeysAtRest)?;
    let mut updates = Vec::new();
    for keyfort_store::SealedKey {
        kid,
        sealed: stored,
    } in store.sealed_signing_keys().await?
    {
        if stored.starts_with(SEALED_PREFIX) {
            continue;
        }
        let Some(pkcs8) = B64
            .decode(&stored)
            .ok()
            .and_then(|raw| legacy.open(kid.as_bytes(), &raw))
        else {
            continue;
        };
        let new = seal_private(&current, &kid, &pkcs8)?;
        updates.push(Reseal {
            kid,
            old: stored,
            new,
        });
    }
    if updates.is_empty() {
        return Ok(0);
    }
    Ok(store.reseal_signing_keys(&updates, "system", now).await?)
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
        private_key: seal_private(&master.cipher(Purpose::SigningKeysAtRest)?, &kid, &pkcs8)?,
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
        let resealed = reseal_legacy(store, master, now).await?;
        if resealed > 0 {
            tracing::info!(resealed, "signing keys sealed again under their own subkey");
        }
        let cipher = master.cipher(Purpose::SigningKeysAtRest)?;
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
            let pkcs8 = open_private(&cipher, &r.kid, &r.private_key)
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
        let c = MasterKey::from_bytes([7; 32])
            .cipher(Purpose::SigningKeysAtRest)
            .unwrap();
        let sealed = seal_private(&c, "kid-1", b"secret key").unwrap();
        assert!(sealed.starts_with(SEALED_PREFIX));
        assert_eq!(
            open_private(&c, "kid-1", &sealed).as_deref(),
            Some(&b"secret key"[..])
        );
        assert_eq!(
            open_private(&c, "kid-2", &sealed),
            None,
            "moved to another key id"
        );
        let other = MasterKey::from_bytes([8; 32])
            .cipher(Purpose::SigningKeysAtRest)
            .unwrap();
        assert_eq!(
            open_private(&other, "kid-1", &sealed),
            None,
            "another master key"
        );
        assert_eq!(
            open_private(&c, "kid-1", sealed.trim_start_matches(SEALED_PREFIX)),
            None,
            "an unprefixed value is never opened with the subkey"
        );
    }

    /// A key sealed the old way (under the master key itself) is sealed again under the
    /// subkey at load, audited, and still signs; a second load changes nothing.
    #[tokio::test]
    async fn legacy_keys_are_sealed_again_at_load() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("k.db").display());
        let store = Store::open(&url).await.unwrap();
        let master = MasterKey::from_bytes([7; 32]);
        let pkcs8 = generate_pkcs8(Algorithm::ES256).unwrap();
        let enc = encoding_key(Algorithm::ES256, &pkcs8).unwrap();
        let mut jwk = Jwk::from_encoding_key(&enc, Algorithm::ES256).unwrap();
        jwk.common.key_id = Some("old-kid".into());
        let legacy = B64.encode(
            master
                .legacy_cipher()
                .unwrap()
                .seal(b"old-kid", &pkcs8)
                .unwrap(),
        );
        let record = SigningKeyRecord {
            kid: "old-kid".into(),
            alg: "ES256".into(),
            private_key: legacy.clone(),
            public_jwk: serde_json::to_string(&jwk).unwrap(),
            created_at: 1_000,
            retired_at: None,
        };
        store.add_signing_key(&record, "test").await.unwrap();

        let ring = KeyRing::load(&store, &master, 2_000).await.unwrap();
        assert!(
            ring.by_kid("old-kid").is_some(),
            "the old key is still published"
        );
        let stored = store.sealed_signing_keys().await.unwrap();
        assert!(stored.iter().all(|k| k.sealed.starts_with(SEALED_PREFIX)));
        let now_sealed = &stored.iter().find(|k| k.kid == "old-kid").unwrap().sealed;
        let cipher = master.cipher(Purpose::SigningKeysAtRest).unwrap();
        assert_eq!(
            open_private(&cipher, "old-kid", now_sealed).as_deref(),
            Some(&pkcs8[..])
        );
        let audited = store.audit_log(50).await.unwrap();
        assert_eq!(
            audited
                .iter()
                .filter(|r| r.action == "signing_key.resealed")
                .count(),
            1
        );
        assert_eq!(reseal_legacy(&store, &master, 3_000).await.unwrap(), 0);
        // Another master key opens nothing: the load names the key it cannot read.
        let wrong = MasterKey::from_bytes([8; 32]);
        assert!(matches!(
            KeyRing::load(&store, &wrong, 4_000).await,
            Err(KeyError::WrongMasterKey(_))
        ));
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
}
