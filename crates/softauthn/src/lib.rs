//! A software WebAuthn authenticator for Keyfort's tests and benchmarks.
//!
//! It speaks what a browser hands a relying party: it takes the JSON options a
//! server sends (`PublicKeyCredentialCreationOptionsJSON` /
//! `PublicKeyCredentialRequestOptionsJSON`) and returns the JSON that
//! `PublicKeyCredential.toJSON()` produces, with real CBOR authenticator data,
//! a COSE P-256 key and real ECDSA signatures. Its knobs (AAGUID, BE/BS flags,
//! user verification, counter, origin and RP ID overrides) let tests present
//! both honest and hostile authenticators.

mod attestation;

pub use attestation::{Attestation, TestCa};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use coset::{CborSerializable, CoseKeyBuilder, iana};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const FLAG_UP: u8 = 0x01;
const FLAG_UV: u8 = 0x04;
const FLAG_BE: u8 = 0x08;
const FLAG_BS: u8 = 0x10;
const FLAG_AT: u8 = 0x40;

#[derive(Debug)]
pub enum Error {
    Options(&'static str),
    Excluded,
    NoCredential,
    Crypto,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Options(what) => write!(f, "malformed options: {what}"),
            Error::Excluded => write!(
                f,
                "a credential in excludeCredentials is on this authenticator"
            ),
            Error::NoCredential => write!(f, "no matching credential on this authenticator"),
            Error::Crypto => write!(f, "key generation or signing failed"),
        }
    }
}
impl std::error::Error for Error {}

/// One discoverable credential held by the authenticator.
pub struct Credential {
    pub id: Vec<u8>,
    pub rp_id: String,
    pub user_handle: Vec<u8>,
    pub counter: u32,
    key: EcdsaKeyPair,
}

impl Credential {
    pub fn id_b64(&self) -> String {
        B64.encode(&self.id)
    }
}

/// What a single ceremony should misstate (for tests of hostile input).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Origin written into client data instead of the real one.
    pub origin: Option<String>,
    /// RP ID whose hash goes into authenticator data instead of the requested one.
    pub rp_id: Option<String>,
    /// Challenge written into client data instead of the server's.
    pub challenge: Option<String>,
    /// Report user verification as not performed.
    pub clear_uv: bool,
    /// Use this counter value instead of incrementing.
    pub counter: Option<u32>,
    /// Sign with this credential (by id) when several match.
    pub credential_id: Option<Vec<u8>>,
}

/// A software authenticator with its own credentials.
pub struct Authenticator {
    pub aaguid: [u8; 16],
    pub backup_eligible: bool,
    pub backup_state: bool,
    pub user_verification: bool,
    /// Counter increment per assertion (0 = an authenticator without counters, as synced passkeys are).
    pub counter_step: u32,
    pub credentials: Vec<Credential>,
    /// Packed attestation with this key and chain; `none` attestation without.
    pub attestation: Option<Attestation>,
    /// Sign the attestation over the wrong data (a forged statement).
    pub forge_attestation: bool,
    rng: SystemRandom,
}

fn b64_field(v: &Value, field: &'static str) -> Result<Vec<u8>, Error> {
    let s = v
        .get(field)
        .and_then(Value::as_str)
        .ok_or(Error::Options(field))?;
    B64.decode(s).map_err(|_| Error::Options(field))
}

fn str_field<'a>(v: &'a Value, field: &'static str) -> Result<&'a str, Error> {
    v.get(field)
        .and_then(Value::as_str)
        .ok_or(Error::Options(field))
}

/// Accepts either the options object itself or `{ "publicKey": … }` as servers send it.
fn public_key(options: &Value) -> &Value {
    options.get("publicKey").unwrap_or(options)
}

impl Authenticator {
    /// A device-bound authenticator that performs user verification and counts signatures.
    pub fn new(aaguid: [u8; 16]) -> Self {
        Authenticator {
            aaguid,
            backup_eligible: false,
            backup_state: false,
            user_verification: true,
            counter_step: 1,
            credentials: Vec::new(),
            attestation: None,
            forge_attestation: false,
            rng: SystemRandom::new(),
        }
    }

    /// A synced-passkey provider: backup eligible and backed up, no counter.
    pub fn synced(aaguid: [u8; 16]) -> Self {
        Authenticator {
            backup_eligible: true,
            backup_state: true,
            counter_step: 0,
            ..Authenticator::new(aaguid)
        }
    }

    /// The same authenticator, attesting its credentials with `attestation` (packed).
    pub fn attested_by(mut self, attestation: Attestation) -> Self {
        self.attestation = Some(attestation);
        self
    }

    /// The attestation statement (WebAuthn L3 §8.2 packed, or §8.7 none).
    fn statement(
        &self,
        auth_data: &[u8],
        client_data: &str,
    ) -> Result<(&'static str, ciborium::Value), Error> {
        let Some(a) = &self.attestation else {
            return Ok(("none", ciborium::Value::Map(vec![])));
        };
        let mut signed = auth_data.to_vec();
        signed.extend_from_slice(&Sha256::digest(client_data.as_bytes()));
        if self.forge_attestation {
            signed.push(0);
        }
        let sig = a.key.sign(&self.rng, &signed).map_err(|_| Error::Crypto)?;
        let x5c = a
            .chain
            .iter()
            .map(|c| ciborium::Value::Bytes(c.clone()))
            .collect();
        let text = |s: &str| ciborium::Value::Text(s.into());
        Ok((
            "packed",
            ciborium::Value::Map(vec![
                (text("alg"), ciborium::Value::Integer((-7).into())),
                (text("sig"), ciborium::Value::Bytes(sig.as_ref().to_vec())),
                (text("x5c"), ciborium::Value::Array(x5c)),
            ]),
        ))
    }

    fn flags(&self, uv: bool) -> u8 {
        let mut f = FLAG_UP;
        if uv {
            f |= FLAG_UV;
        }
        if self.backup_eligible {
            f |= FLAG_BE;
        }
        if self.backup_state {
            f |= FLAG_BS;
        }
        f
    }

    /// `navigator.credentials.create()`: makes a resident P-256 credential.
    pub fn create(&mut self, options: &Value, origin: &str) -> Result<Value, Error> {
        self.create_with(options, origin, &Overrides::default())
    }

    pub fn create_with(
        &mut self,
        options: &Value,
        origin: &str,
        o: &Overrides,
    ) -> Result<Value, Error> {
        let pk = public_key(options);
        let rp_id = pk
            .get("rp")
            .and_then(|rp| rp.get("id"))
            .and_then(Value::as_str)
            .ok_or(Error::Options("rp.id"))?;
        let user = pk.get("user").ok_or(Error::Options("user"))?;
        let user_handle = b64_field(user, "id")?;
        let challenge = str_field(pk, "challenge")?.to_string();
        if !pk
            .get("pubKeyCredParams")
            .and_then(Value::as_array)
            .is_some_and(|a| {
                a.iter()
                    .any(|p| p.get("alg").and_then(Value::as_i64) == Some(-7))
            })
        {
            return Err(Error::Options("pubKeyCredParams without ES256"));
        }
        if let Some(excluded) = pk.get("excludeCredentials").and_then(Value::as_array) {
            for e in excluded {
                let id = b64_field(e, "id")?;
                if self
                    .credentials
                    .iter()
                    .any(|c| c.id == id && c.rp_id == rp_id)
                {
                    return Err(Error::Excluded);
                }
            }
        }
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &self.rng)
            .map_err(|_| Error::Crypto)?;
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &self.rng)
                .map_err(|_| Error::Crypto)?;
        let mut id = vec![0u8; 32];
        self.rng.fill(&mut id).map_err(|_| Error::Crypto)?;

        // COSE_Key (RFC 9053 §7.1.1): EC2, P-256, ES256, from the uncompressed point 04||x||y.
        let point = key.public_key().as_ref();
        let cose = CoseKeyBuilder::new_ec2_pub_key(
            iana::EllipticCurve::P_256,
            point[1..33].to_vec(),
            point[33..65].to_vec(),
        )
        .algorithm(iana::Algorithm::ES256)
        .build()
        .to_vec()
        .map_err(|_| Error::Crypto)?;

        let uv = self.user_verification && !o.clear_uv;
        let counter = o.counter.unwrap_or(0);
        // WebAuthn L3 §6.1: authenticator data with attested credential data (§6.5.1).
        let mut auth_data = Sha256::digest(o.rp_id.as_deref().unwrap_or(rp_id).as_bytes()).to_vec();
        auth_data.push(self.flags(uv) | FLAG_AT);
        auth_data.extend_from_slice(&counter.to_be_bytes());
        auth_data.extend_from_slice(&self.aaguid);
        auth_data.extend_from_slice(&(id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&id);
        auth_data.extend_from_slice(&cose);

        let client_data = client_data(
            "webauthn.create",
            o.challenge.as_deref().unwrap_or(&challenge),
            o.origin.as_deref().unwrap_or(origin),
        );
        // WebAuthn L3 §6.5.4: the attestation object.
        let (fmt, statement) = self.statement(&auth_data, &client_data)?;
        let att_obj = ciborium::Value::Map(vec![
            (
                ciborium::Value::Text("fmt".into()),
                ciborium::Value::Text(fmt.into()),
            ),
            (ciborium::Value::Text("attStmt".into()), statement),
            (
                ciborium::Value::Text("authData".into()),
                ciborium::Value::Bytes(auth_data),
            ),
        ]);
        let mut att_bytes = Vec::new();
        ciborium::into_writer(&att_obj, &mut att_bytes).map_err(|_| Error::Crypto)?;
        let id_b64 = B64.encode(&id);
        self.credentials.push(Credential {
            id,
            rp_id: rp_id.to_string(),
            user_handle,
            counter,
            key,
        });
        Ok(json!({
            "id": id_b64,
            "rawId": id_b64,
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "response": {
                "clientDataJSON": B64.encode(client_data.as_bytes()),
                "attestationObject": B64.encode(&att_bytes),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
        }))
    }

    /// `navigator.credentials.get()`: signs an assertion with a matching credential.
    pub fn get(&mut self, options: &Value, origin: &str) -> Result<Value, Error> {
        self.get_with(options, origin, &Overrides::default())
    }

    pub fn get_with(
        &mut self,
        options: &Value,
        origin: &str,
        o: &Overrides,
    ) -> Result<Value, Error> {
        let pk = public_key(options);
        let rp_id = str_field(pk, "rpId")?.to_string();
        let challenge = str_field(pk, "challenge")?.to_string();
        let allowed: Vec<Vec<u8>> = match pk.get("allowCredentials").and_then(Value::as_array) {
            Some(list) => list
                .iter()
                .map(|c| b64_field(c, "id"))
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        let uv = self.user_verification && !o.clear_uv;
        let flags = self.flags(uv);
        let step = self.counter_step;
        let cred = self
            .credentials
            .iter_mut()
            .find(|c| {
                c.rp_id == rp_id
                    && (allowed.is_empty() || allowed.contains(&c.id))
                    && o.credential_id.as_ref().is_none_or(|want| *want == c.id)
            })
            .ok_or(Error::NoCredential)?;
        cred.counter = match o.counter {
            Some(c) => c,
            None => cred.counter.wrapping_add(step),
        };
        let mut auth_data =
            Sha256::digest(o.rp_id.as_deref().unwrap_or(&rp_id).as_bytes()).to_vec();
        auth_data.push(flags);
        auth_data.extend_from_slice(&cred.counter.to_be_bytes());
        let client_data = client_data(
            "webauthn.get",
            o.challenge.as_deref().unwrap_or(&challenge),
            o.origin.as_deref().unwrap_or(origin),
        );
        // WebAuthn L3 §6.3.3 step 11: sign authenticatorData || SHA-256(clientDataJSON).
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(client_data.as_bytes()));
        let sig = cred
            .key
            .sign(&self.rng, &signed)
            .map_err(|_| Error::Crypto)?;
        let id_b64 = B64.encode(&cred.id);
        Ok(json!({
            "id": id_b64,
            "rawId": id_b64,
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "response": {
                "clientDataJSON": B64.encode(client_data.as_bytes()),
                "authenticatorData": B64.encode(&auth_data),
                "signature": B64.encode(sig.as_ref()),
                "userHandle": B64.encode(&cred.user_handle),
            },
            "clientExtensionResults": {},
        }))
    }
}

/// WebAuthn L3 §5.8.1: CollectedClientData, serialised as browsers do.
fn client_data(kind: &str, challenge: &str, origin: &str) -> String {
    json!({ "type": kind, "challenge": challenge, "origin": origin, "crossOrigin": false })
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creation_options() -> Value {
        json!({"publicKey": {
            "rp": {"id": "localhost", "name": "Keyfort"},
            "user": {"id": B64.encode([1u8; 16]), "name": "alice", "displayName": "Alice"},
            "challenge": B64.encode([9u8; 32]),
            "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
        }})
    }

    #[test]
    fn creates_and_asserts_with_counter() {
        let mut a = Authenticator::new([5u8; 16]);
        let reg = a
            .create(&creation_options(), "http://localhost:8080")
            .unwrap();
        assert_eq!(reg["type"], "public-key");
        let att = B64
            .decode(reg["response"]["attestationObject"].as_str().unwrap())
            .unwrap();
        let v: ciborium::Value = ciborium::from_reader(att.as_slice()).unwrap();
        let map = v.as_map().unwrap();
        let auth = map
            .iter()
            .find(|(k, _)| k.as_text() == Some("authData"))
            .unwrap()
            .1
            .as_bytes()
            .unwrap();
        assert_eq!(auth[32] & FLAG_AT, FLAG_AT);
        assert_eq!(&auth[37..53], &[5u8; 16]);
        let req = json!({"publicKey": {"rpId": "localhost", "challenge": B64.encode([3u8; 32]), "allowCredentials": []}});
        let first = a.get(&req, "http://localhost:8080").unwrap();
        let ad = B64
            .decode(first["response"]["authenticatorData"].as_str().unwrap())
            .unwrap();
        assert_eq!(u32::from_be_bytes([ad[33], ad[34], ad[35], ad[36]]), 1);
        assert_eq!(ad[32] & FLAG_UV, FLAG_UV);
    }

    #[test]
    fn refuses_excluded_and_missing_credentials() {
        let mut a = Authenticator::synced([0u8; 16]);
        let reg = a
            .create(&creation_options(), "http://localhost:8080")
            .unwrap();
        let mut opts = creation_options();
        opts["publicKey"]["excludeCredentials"] = json!([{"type": "public-key", "id": reg["id"]}]);
        assert!(matches!(
            a.create(&opts, "http://localhost:8080"),
            Err(Error::Excluded)
        ));
        let req = json!({"publicKey": {"rpId": "example.com", "challenge": "AAAA"}});
        assert!(matches!(
            a.get(&req, "https://example.com"),
            Err(Error::NoCredential)
        ));
    }
}
