//! Token signatures through key pairs parsed once.
//!
//! `jsonwebtoken` asks its process-wide [`CryptoProvider`] for a signer for every
//! token it signs, and its own provider builds one from the key's bytes each time:
//! an ES256 key is parsed and checked again (a scalar multiplication, about as much
//! work as the signature itself), an RS256 key far more. Keyfort installs a provider
//! whose signer factory uses the key pairs the key ring parsed when it loaded them,
//! and hands any other key to `jsonwebtoken`'s own provider. Verification is
//! `jsonwebtoken`'s own, unchanged.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, aws_lc};
use jsonwebtoken::signature::{Error as SignatureError, Signer};
use jsonwebtoken::{Algorithm, EncodingKey};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

/// Parsed key pairs kept at most; a key ring holds a handful. Past this the cache
/// starts over, and the key ring's next reload parses its keys again.
const MAX_PARSED: usize = 64;

#[derive(Clone)]
enum KeyPair {
    Ecdsa(Arc<EcdsaKeyPair>),
    Ed25519(Arc<Ed25519KeyPair>),
    Rsa(Arc<RsaKeyPair>),
}

/// Parsed key pairs by the exact bytes `jsonwebtoken` holds in the `EncodingKey`.
type Parsed = HashMap<Vec<u8>, (Algorithm, KeyPair)>;

static PARSED: LazyLock<RwLock<Parsed>> = LazyLock::new(|| RwLock::new(HashMap::new()));

static PROVIDER: LazyLock<CryptoProvider> = LazyLock::new(|| CryptoProvider {
    signer_factory: signer_for,
    ..aws_lc::DEFAULT_PROVIDER.clone()
});

/// Makes `jsonwebtoken` sign through the parsed key pairs, once per process. Returns
/// false when another provider was installed first; signing then still works, with
/// the key parsed per signature.
pub fn install() -> bool {
    let provider: &'static CryptoProvider = &PROVIDER;
    match provider.install_default() {
        Ok(()) => true,
        Err(installed) => std::ptr::eq(installed, provider),
    }
}

/// Parses `key` for `alg` once and keeps it for every later signature with it.
/// Returns false for an algorithm Keyfort does not sign with or a key that does not
/// parse (signing with it then fails as it would have).
pub fn remember(alg: Algorithm, key: &EncodingKey) -> bool {
    let bytes = key.as_bytes();
    let parsed = match alg {
        Algorithm::ES256 => EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, bytes)
            .map(|k| KeyPair::Ecdsa(Arc::new(k)))
            .ok(),
        Algorithm::EdDSA => Ed25519KeyPair::from_pkcs8(bytes)
            .map(|k| KeyPair::Ed25519(Arc::new(k)))
            .ok(),
        Algorithm::RS256 => RsaKeyPair::from_der(bytes)
            .map(|k| KeyPair::Rsa(Arc::new(k)))
            .ok(),
        _ => None,
    };
    let Some(parsed) = parsed else {
        return false;
    };
    let mut map = PARSED.write().unwrap_or_else(|p| p.into_inner());
    if map.len() >= MAX_PARSED && !map.contains_key(bytes) {
        map.clear();
    }
    map.insert(bytes.to_vec(), (alg, parsed));
    true
}

fn parsed(alg: Algorithm, bytes: &[u8]) -> Option<KeyPair> {
    let map = PARSED.read().unwrap_or_else(|p| p.into_inner());
    match map.get(bytes) {
        Some((a, k)) if *a == alg => Some(k.clone()),
        _ => None,
    }
}

fn signer_for(
    alg: &Algorithm,
    key: &EncodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtSigner>> {
    match parsed(*alg, key.as_bytes()) {
        Some(key) => Ok(Box::new(ParsedSigner { alg: *alg, key })),
        None => (aws_lc::DEFAULT_PROVIDER.signer_factory)(alg, key),
    }
}

struct ParsedSigner {
    alg: Algorithm,
    key: KeyPair,
}

impl Signer<Vec<u8>> for ParsedSigner {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignatureError> {
        match &self.key {
            KeyPair::Ecdsa(k) => k
                .sign(&SystemRandom::new(), msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(SignatureError::from_source),
            KeyPair::Ed25519(k) => Ok(k.sign(msg).as_ref().to_vec()),
            KeyPair::Rsa(k) => {
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), msg, &mut sig)
                    .map_err(SignatureError::from_source)?;
                Ok(sig)
            }
        }
    }
}

impl JwtSigner for ParsedSigner {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::encoding::AsDer;
    use jsonwebtoken::jwk::Jwk;
    use jsonwebtoken::{DecodingKey, Header, Validation};
    use serde_json::{Value, json};

    fn pkcs8(alg: Algorithm) -> Vec<u8> {
        let rng = SystemRandom::new();
        match alg {
            Algorithm::ES256 => {
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .unwrap()
                    .as_ref()
                    .to_vec()
            }
            Algorithm::EdDSA => Ed25519KeyPair::generate_pkcs8v1(&rng)
                .unwrap()
                .as_ref()
                .to_vec(),
            _ => {
                let kp =
                    aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
                AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&kp)
                    .unwrap()
                    .as_ref()
                    .to_vec()
            }
        }
    }

    fn encoding(alg: Algorithm, der: &[u8]) -> EncodingKey {
        match alg {
            Algorithm::ES256 => EncodingKey::from_ec_der(der),
            Algorithm::EdDSA => EncodingKey::from_ed_der(der),
            _ => {
                let pem = pem::encode(&pem::Pem::new("PRIVATE KEY", der.to_vec()));
                EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap()
            }
        }
    }

    /// Signs through `jsonwebtoken::encode` and verifies with the key's public JWK.
    fn round_trip(alg: Algorithm, key: &EncodingKey) -> Value {
        let claims = json!({"sub": "u1", "exp": 4_000_000_000u64, "aud": "a"});
        let token = jsonwebtoken::encode(&Header::new(alg), &claims, key).unwrap();
        let jwk = Jwk::from_encoding_key(key, alg).unwrap();
        let mut v = Validation::new(alg);
        v.set_audience(&["a"]);
        jsonwebtoken::decode::<Value>(&token, &DecodingKey::from_jwk(&jwk).unwrap(), &v)
            .unwrap()
            .claims
    }

    #[test]
    fn remembered_keys_sign_tokens_that_verify() {
        assert!(install());
        assert!(install(), "installing twice is harmless");
        for alg in [Algorithm::ES256, Algorithm::EdDSA, Algorithm::RS256] {
            let key = encoding(alg, &pkcs8(alg));
            assert!(remember(alg, &key), "{alg:?}");
            assert!(parsed(alg, key.as_bytes()).is_some(), "{alg:?}");
            assert_eq!(round_trip(alg, &key)["sub"], "u1", "{alg:?}");
        }
    }

    #[test]
    fn other_keys_still_sign_through_jsonwebtoken() {
        assert!(install());
        let key = encoding(Algorithm::ES256, &pkcs8(Algorithm::ES256));
        assert!(parsed(Algorithm::ES256, key.as_bytes()).is_none());
        assert_eq!(round_trip(Algorithm::ES256, &key)["sub"], "u1");
    }

    #[test]
    fn a_key_is_used_only_for_its_own_algorithm() {
        let key = encoding(Algorithm::ES256, &pkcs8(Algorithm::ES256));
        assert!(remember(Algorithm::ES256, &key));
        assert!(parsed(Algorithm::ES384, key.as_bytes()).is_none());
        assert!(
            !remember(Algorithm::ES384, &key),
            "not an algorithm Keyfort signs with"
        );
        let garbage = EncodingKey::from_ec_der(b"not a key");
        assert!(!remember(Algorithm::ES256, &garbage));
        assert!(parsed(Algorithm::ES256, garbage.as_bytes()).is_none());
    }
}
