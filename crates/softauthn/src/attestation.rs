//! Packed attestation (WebAuthn L3 §8.2) signed by a test certificate authority: a
//! self-signed root issues attestation certificates for chosen AAGUIDs, with the fields
//! §8.2.1 requires (version 3; subject C, O, OU "Authenticator Attestation" and CN;
//! basic constraints CA false; the `id-fido-gen-ce-aaguid` extension).

use crate::Error;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};

/// `id-fido-gen-ce-aaguid` (1.3.6.1.4.1.45724.1.1.4).
const AAGUID_EXTENSION: &[u64] = &[1, 3, 6, 1, 4, 1, 45724, 1, 1, 4];

/// A root that issues attestation certificates.
pub struct TestCa {
    params: CertificateParams,
    key: KeyPair,
    /// The root certificate, DER.
    pub der: Vec<u8>,
}

/// What an authenticator signs its attestation with: the attestation key and the
/// certificate chain it sends (`x5c`: the attestation certificate first).
pub struct Attestation {
    pub(crate) key: EcdsaKeyPair,
    pub chain: Vec<Vec<u8>>,
}

fn crypto<E>(_: E) -> Error {
    Error::Crypto
}

impl TestCa {
    /// A new root named `name`.
    pub fn new(name: &str) -> Result<TestCa, Error> {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(crypto)?;
        params.distinguished_name.push(DnType::CountryName, "SE");
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Keyfort test vendor");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().map_err(crypto)?;
        let der = params.self_signed(&key).map_err(crypto)?.der().to_vec();
        Ok(TestCa { params, key, der })
    }

    /// The root as PEM, as an administrator's CA file holds it.
    pub fn pem(&self) -> String {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&self.der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .filter_map(|c| std::str::from_utf8(c).ok())
            .collect();
        format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            lines.join("\n")
        )
    }

    /// A signing certificate (not a CA) this root issued, and its PKCS#8 key: what a
    /// test metadata BLOB is signed with. `expired`: valid only in 2000.
    pub fn signer(&self, name: &str, expired: bool) -> Result<(Vec<u8>, Vec<u8>), Error> {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(crypto)?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        if expired {
            params.not_before = rcgen::date_time_ymd(2000, 1, 1);
            params.not_after = rcgen::date_time_ymd(2000, 12, 31);
        }
        let key = KeyPair::generate().map_err(crypto)?;
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).map_err(crypto)?;
        Ok((cert.der().to_vec(), key.serialize_der()))
    }

    /// An attestation certificate for authenticators of model `aaguid`, and its key.
    pub fn attestation(&self, aaguid: [u8; 16]) -> Result<Attestation, Error> {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(crypto)?;
        params.distinguished_name.push(DnType::CountryName, "SE");
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Keyfort test vendor");
        params
            .distinguished_name
            .push(DnType::OrganizationalUnitName, "Authenticator Attestation");
        params
            .distinguished_name
            .push(DnType::CommonName, "Keyfort test authenticator");
        params.is_ca = IsCa::ExplicitNoCa;
        // The extension's value is an OCTET STRING holding the 16 bytes.
        let mut value = vec![0x04, 0x10];
        value.extend_from_slice(&aaguid);
        params.custom_extensions = vec![CustomExtension::from_oid_content(AAGUID_EXTENSION, value)];
        let leaf_key = KeyPair::generate().map_err(crypto)?;
        let issuer = Issuer::from_params(&self.params, &self.key);
        let leaf = params.signed_by(&leaf_key, &issuer).map_err(crypto)?;
        let key = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_ASN1_SIGNING,
            &leaf_key.serialize_der(),
            &SystemRandom::new(),
        )
        .map_err(crypto)?;
        Ok(Attestation {
            key,
            chain: vec![leaf.der().to_vec()],
        })
    }
}
