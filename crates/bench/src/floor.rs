//! The crypto floor of one sign-in on this machine, measured in the same run:
//! one P-256 signature (the authenticator), one P-256 verification (the server)
//! and one ES256 signature (the ID token) — no HTTP, no store. Also the cost of
//! the WebAuthn assertion check as the server runs it (webauthn-rs-core).
//! The ES256 signature goes through `jsonwebtoken` with Keyfort's signer, the key
//! parsed once as the server's key ring does; the same signature with the key
//! parsed for each token (`jsonwebtoken`'s own signer) is reported beside it.

use anyhow::Result;
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};
use std::time::Instant;

pub struct Floor {
    pub iterations: u32,
    pub p256_sign_us: f64,
    pub p256_verify_us: f64,
    pub es256_jwt_us: f64,
    /// The same ES256 signature with the key parsed again for each token.
    pub es256_jwt_unparsed_us: f64,
}

impl Floor {
    /// Microseconds of unavoidable crypto per sign-in (one of each).
    pub fn per_signin_us(&self) -> f64 {
        self.p256_sign_us + self.p256_verify_us + self.es256_jwt_us
    }
}

fn time_us(iterations: u32, mut f: impl FnMut()) -> f64 {
    for _ in 0..iterations / 10 {
        f();
    }
    let t = Instant::now();
    for _ in 0..iterations {
        f();
    }
    t.elapsed().as_secs_f64() * 1e6 / iterations as f64
}

pub fn measure(iterations: u32) -> Result<Floor> {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
        .map_err(|_| anyhow::anyhow!("keygen"))?;
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
        .map_err(|_| anyhow::anyhow!("key"))?;
    let message = [7u8; 69];
    let p256_sign_us = time_us(iterations, || {
        let _ = key.sign(&rng, &message);
    });
    let sig = key
        .sign(&rng, &message)
        .map_err(|_| anyhow::anyhow!("sign"))?;
    let public =
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, key.public_key().as_ref().to_vec());
    let p256_verify_us = time_us(iterations, || {
        let _ = public.verify(&message, sig.as_ref());
    });
    let jwt_pkcs8 = aws_lc_pkcs8()?;
    let enc = jsonwebtoken::EncodingKey::from_ec_der(&jwt_pkcs8);
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    let claims = serde_json::json!({"iss": "http://localhost:8080", "sub": "00000000-0000-4000-8000-000000000000", "aud": "client", "exp": 4_000_000_000u64, "iat": 1_700_000_000u64, "nonce": "n"});
    keyfort_server::oidc::signer::install();
    let es256_jwt_unparsed_us = time_us(iterations, || {
        let _ = jsonwebtoken::encode(&header, &claims, &enc);
    });
    if !keyfort_server::oidc::signer::remember(jsonwebtoken::Algorithm::ES256, &enc) {
        anyhow::bail!("the signing key does not parse");
    }
    let es256_jwt_us = time_us(iterations, || {
        let _ = jsonwebtoken::encode(&header, &claims, &enc);
    });
    Ok(Floor {
        iterations,
        p256_sign_us,
        p256_verify_us,
        es256_jwt_us,
        es256_jwt_unparsed_us,
    })
}

fn aws_lc_pkcs8() -> Result<Vec<u8>> {
    let rng = SystemRandom::new();
    Ok(
        EcdsaKeyPair::generate_pkcs8(&ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| anyhow::anyhow!("keygen"))?
            .as_ref()
            .to_vec(),
    )
}
