//! Reading an MDS3 BLOB (FIDO Metadata Service v3.0 §3.1): a JWS in compact form whose
//! header carries the signing certificate chain (`x5c`); the chain must end at the
//! metadata root, the signature must verify with the first certificate's key, and the
//! payload must be a metadata BLOB. Only then is anything in it used.

use keyfort_core::metadata::{BlobEdition, ReportedStatus, StatusReport};
use serde::Deserialize;
use std::collections::HashMap;
use x509_cert::Certificate;
use x509_cert::der::{Decode, Encode};

/// The largest BLOB read (the published one is a few megabytes).
pub const MAX_BLOB_BYTES: usize = 32 * 1024 * 1024;
/// Certificates a BLOB's header may carry.
const MAX_CHAIN: usize = 8;

/// FIDO's metadata root (GlobalSign Root CA - R3), shipped in `data/`.
pub const FIDO_ROOT_PEM: &str = include_str!("../../data/fido-mds-root.pem");

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    #[error("the BLOB is larger than {MAX_BLOB_BYTES} bytes")]
    TooLarge,
    #[error("the BLOB is not a signed JWT: {0}")]
    Malformed(String),
    #[error("the BLOB's signing chain does not end at the metadata root: {0}")]
    UntrustedChain(String),
    #[error("the BLOB's signature does not verify")]
    BadSignature,
    #[error("the BLOB's payload is not metadata: {0}")]
    Payload(String),
}

impl BlobError {
    pub fn code(&self) -> &'static str {
        match self {
            BlobError::TooLarge => "metadata_too_large",
            BlobError::Malformed(_) => "metadata_malformed",
            BlobError::UntrustedChain(_) => "metadata_untrusted_chain",
            BlobError::BadSignature => "metadata_bad_signature",
            BlobError::Payload(_) => "metadata_bad_payload",
        }
    }
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    x5c: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    no: i64,
    next_update: String,
    #[serde(default)]
    entries: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    aaguid: Option<String>,
    metadata_statement: Option<Statement>,
    #[serde(default)]
    status_reports: Vec<Report>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Statement {
    description: Option<String>,
    #[serde(default)]
    attestation_root_certificates: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    status: String,
    effective_date: Option<String>,
}

/// What the metadata says of one FIDO2 model (an AAGUID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    pub description: Option<String>,
    /// Its attestation roots, DER.
    pub roots: Vec<Vec<u8>>,
    pub reports: Vec<StatusReport>,
}

/// A verified BLOB: its edition and its FIDO2 models by AAGUID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    pub edition: BlobEdition,
    pub models: HashMap<String, Model>,
}

/// Unix milliseconds at 00:00 UTC of an ISO 8601 date (`2026-12-01`).
pub fn date_ms(s: &str) -> Option<i64> {
    let mut parts = s.trim().splitn(3, '-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let day: u8 = parts.next()?.parse().ok()?;
    let month = time::Month::try_from(month).ok()?;
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    date.midnight()
        .assume_utc()
        .unix_timestamp()
        .checked_mul(1000)
}

fn b64url(part: &str) -> Result<Vec<u8>, BlobError> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| BlobError::Malformed("a part is not base64url".into()))
}

fn b64(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .ok()
}

/// Verifies a BLOB against `root` as of `now` (Unix milliseconds) and reads it.
pub fn verify(text: &str, root: &Certificate, now: i64) -> Result<Metadata, BlobError> {
    if text.len() > MAX_BLOB_BYTES {
        return Err(BlobError::TooLarge);
    }
    let text = text.trim();
    let mut parts = text.split('.');
    let (Some(h), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(BlobError::Malformed("not three dot-separated parts".into()));
    };
    let header: Header = serde_json::from_slice(&b64url(h)?)
        .map_err(|e| BlobError::Malformed(format!("header: {e}")))?;
    let alg = match header.alg.as_str() {
        "RS256" => jsonwebtoken::Algorithm::RS256,
        "PS256" => jsonwebtoken::Algorithm::PS256,
        "ES256" => jsonwebtoken::Algorithm::ES256,
        other => return Err(BlobError::Malformed(format!("algorithm {other:?}"))),
    };
    if header.x5c.is_empty() || header.x5c.len() > MAX_CHAIN {
        return Err(BlobError::Malformed(format!(
            "x5c must hold 1 to {MAX_CHAIN} certificates"
        )));
    }
    let chain = header
        .x5c
        .iter()
        .map(|c| {
            let der = b64(c).ok_or_else(|| BlobError::Malformed("x5c is not base64".into()))?;
            Certificate::from_der(&der)
                .map_err(|e| BlobError::Malformed(format!("x5c certificate: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (leaf, intermediates) = chain
        .split_first()
        .ok_or_else(|| BlobError::Malformed("x5c is empty".into()))?;
    let store = crypto_glue::x509::X509Store::new(std::slice::from_ref(root));
    store
        .verify(leaf, intermediates, keyfort_core::time::system_time(now))
        .map_err(|e| BlobError::UntrustedChain(format!("{e:?}")))?;

    let spki = &leaf.tbs_certificate().subject_public_key_info();
    let key_bytes = spki.subject_public_key.raw_bytes();
    let key = match alg {
        jsonwebtoken::Algorithm::ES256 => jsonwebtoken::DecodingKey::from_ec_der(key_bytes),
        _ => jsonwebtoken::DecodingKey::from_rsa_der(key_bytes),
    };
    let mut validation = jsonwebtoken::Validation::new(alg);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    let token = jsonwebtoken::decode::<serde_json::Value>(text, &key, &validation)
        .map_err(|_| BlobError::BadSignature)?;
    let payload: Payload =
        serde_json::from_value(token.claims).map_err(|e| BlobError::Payload(e.to_string()))?;
    let next_update = date_ms(&payload.next_update)
        .ok_or_else(|| BlobError::Payload(format!("nextUpdate {:?}", payload.next_update)))?;
    let mut models = HashMap::new();
    for e in payload.entries {
        // FIDO2 models carry an AAGUID; U2F and UAF entries do not concern passkeys.
        let Some(aaguid) = e
            .aaguid
            .as_deref()
            .and_then(keyfort_core::policy::normalize_aaguid)
        else {
            continue;
        };
        let (description, roots) = match e.metadata_statement {
            Some(s) => (
                s.description,
                s.attestation_root_certificates
                    .iter()
                    .filter_map(|c| b64(c))
                    .filter(|der| Certificate::from_der(der).is_ok())
                    .collect(),
            ),
            None => (None, Vec::new()),
        };
        let reports = e
            .status_reports
            .iter()
            .map(|r| StatusReport {
                status: ReportedStatus::parse(&r.status),
                effective: r.effective_date.as_deref().and_then(date_ms),
            })
            .collect();
        models.insert(
            aaguid,
            Model {
                description,
                roots,
                reports,
            },
        );
    }
    Ok(Metadata {
        edition: BlobEdition {
            no: payload.no,
            next_update,
        },
        models,
    })
}

/// The shipped FIDO root.
pub fn fido_root() -> Result<Certificate, String> {
    let mut certs = Certificate::load_pem_chain(FIDO_ROOT_PEM.as_bytes())
        .map_err(|e| format!("the shipped metadata root cannot be read: {e}"))?;
    certs
        .pop()
        .ok_or_else(|| "the shipped metadata root is missing".to_string())
}

/// A root from PEM (tests inject their own).
pub fn root_from_pem(pem: &[u8]) -> Result<Certificate, String> {
    Certificate::load_pem_chain(pem)
        .map_err(|e| e.to_string())?
        .pop()
        .ok_or_else(|| "no certificate".to_string())
}

/// A certificate's DER (the anchors module takes DER).
pub fn der(c: &Certificate) -> Option<Vec<u8>> {
    c.to_der().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_read_as_midnight_utc() {
        assert_eq!(date_ms("1970-01-02"), Some(86_400_000));
        assert_eq!(date_ms("2026-12-01"), Some(1_796_083_200_000));
        for bad in ["", "2026-13-01", "2026-02-30", "yesterday", "2026-1"] {
            assert_eq!(date_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_shipped_root_is_globalsign_r3() {
        let root = fido_root().unwrap();
        let subject = root.tbs_certificate().subject().to_string();
        assert!(subject.contains("GlobalSign Root CA - R3"), "{subject}");
    }
}
