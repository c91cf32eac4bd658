//! Attestation trust anchors: the certificate authorities a new passkey's attestation
//! chain may end at. An administrator adds them as a PEM file (`attestation_ca_file`);
//! each vouches for every model it issued for. The chain itself is checked with
//! webauthn-rs-core's verifier (signatures, validity at `now`, CA constraints).

use keyfort_core::attestation::ChainCheck;
use std::time::SystemTime;
use webauthn_rs_core::attestation::verify_attestation_ca_chain;
use webauthn_rs_core::proto::{AttestationCa, AttestationCaList, ParsedAttestationData};
use x509_cert::Certificate;
use x509_cert::der::{Decode, Encode};

/// The most certificates one file may hold.
pub const MAX_ANCHORS: usize = 256;
/// The largest anchor file read.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Default, Clone)]
pub struct TrustAnchors {
    list: Option<AttestationCaList>,
}

/// An anchor vouching for every AAGUID under it (the list's serialised form is the only
/// public way to say so).
fn blanket(der: &[u8]) -> Result<AttestationCa, String> {
    use base64::Engine;
    let ca = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(der);
    serde_json::from_value(serde_json::json!({
        "ca": ca, "aaguids": {}, "blanket_allow": true,
    }))
    .map_err(|e| format!("a certificate cannot be used as an anchor: {e}"))
}

impl TrustAnchors {
    pub fn none() -> TrustAnchors {
        TrustAnchors::default()
    }

    /// Every certificate of a PEM bundle, each a CA certificate.
    pub fn from_pem(pem: &[u8]) -> Result<TrustAnchors, String> {
        let certs = Certificate::load_pem_chain(pem)
            .map_err(|e| format!("not a PEM certificate bundle: {e}"))?;
        if certs.is_empty() {
            return Err("the file holds no certificate".into());
        }
        if certs.len() > MAX_ANCHORS {
            return Err(format!("more than {MAX_ANCHORS} certificates"));
        }
        let mut list = AttestationCaList::default();
        for (i, c) in certs.iter().enumerate() {
            let is_ca = c
                .tbs_certificate()
                .get_extension::<x509_cert::ext::pkix::BasicConstraints>()
                .ok()
                .flatten()
                .is_some_and(|(_, bc)| bc.ca);
            if !is_ca {
                return Err(format!("certificate {} is not a CA certificate", i + 1));
            }
            let der = c.to_der().map_err(|e| e.to_string())?;
            list.insert(blanket(&der)?)
                .map_err(|e| format!("certificate {}: {e}", i + 1))?;
        }
        Ok(TrustAnchors { list: Some(list) })
    }

    pub fn from_file(path: &std::path::Path) -> Result<TrustAnchors, String> {
        let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
        if meta.len() > MAX_FILE_BYTES {
            return Err(format!("larger than {MAX_FILE_BYTES} bytes"));
        }
        let pem = std::fs::read(path).map_err(|e| e.to_string())?;
        TrustAnchors::from_pem(&pem)
    }

    /// Adds a model's attestation root from metadata: it vouches for that AAGUID only.
    /// A root that cannot be read is skipped (metadata is not trusted to be tidy).
    pub fn add_model_root(&mut self, der: &[u8], aaguid: &str, description: &str) {
        let Ok(uuid) = uuid::Uuid::parse_str(aaguid) else {
            return;
        };
        let mut b = webauthn_rs_core::proto::AttestationCaListBuilder::new();
        if b.insert_device_der(der, uuid, description.to_string(), Default::default())
            .is_err()
        {
            return;
        }
        let one = b.build();
        match &mut self.list {
            Some(list) => list.union(&one),
            None => self.list = Some(one),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.list.as_ref().is_none_or(|l| l.is_empty())
    }

    pub fn len(&self) -> usize {
        self.list.as_ref().map_or(0, |l| l.len())
    }

    /// Where a verified statement's chain ends.
    pub fn check(
        &self,
        data: &ParsedAttestationData,
        aaguid: &[u8; 16],
        now: SystemTime,
    ) -> ChainCheck {
        let chain = match data {
            ParsedAttestationData::Basic(c)
            | ParsedAttestationData::AttCa(c)
            | ParsedAttestationData::AnonCa(c) => c,
            _ => return ChainCheck::NoChain,
        };
        if chain.is_empty() {
            return ChainCheck::NoChain;
        }
        let Some(list) = self.list.as_ref().filter(|l| !l.is_empty()) else {
            return ChainCheck::NoAnchors;
        };
        match verify_attestation_ca_chain(data, list, now) {
            Ok(Some(ca)) => ChainCheck::Trusted {
                covers_aaguid: ca.blanket_allow()
                    || ca.aaguids().contains_key(&uuid::Uuid::from_bytes(*aaguid)),
            },
            Ok(None) | Err(_) => ChainCheck::Untrusted,
        }
    }
}

/// The chain a statement carried, DER, leaf first (recorded on the passkey).
pub fn chain_der(data: &ParsedAttestationData) -> Vec<Vec<u8>> {
    match data {
        ParsedAttestationData::Basic(c)
        | ParsedAttestationData::AttCa(c)
        | ParsedAttestationData::AnonCa(c) => c.iter().filter_map(|x| x.to_der().ok()).collect(),
        _ => Vec::new(),
    }
}

/// A certificate's DER read back (for tests and the admin's view of a chain).
pub fn parses(der: &[u8]) -> bool {
    Certificate::from_der(der).is_ok()
}
