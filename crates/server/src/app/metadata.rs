//! FIDO metadata as an operation: load a BLOB (from a file, a URL or text), verify it,
//! judge it against the copy in use and store it as the last good copy; show what is in
//! use. The server's scheduled refresh and `keyfort metadata load` call the same code.

use super::{AppError, Result};
use crate::metadata::{Metadata, MetadataRoot, blob};
use keyfort_core::metadata::{BlobEdition, BlobVerdict, assess_blob};
use keyfort_store::{AuditEvent, Store, StoredBlob};
use serde::Serialize;
use std::sync::Arc;

fn refused(code: &'static str, message: impl Into<String>) -> AppError {
    AppError::Metadata {
        code,
        message: message.into(),
    }
}

/// Whether a BLOB may come from `source`: a file, an `https://` URL, or `http://` only for
/// this machine (a BLOB is verified either way; plain HTTP elsewhere would let anyone on
/// the path withhold updates unnoticed).
pub fn source_allowed(source: &str) -> std::result::Result<(), &'static str> {
    let local = ["http://localhost", "http://127.0.0.1", "http://[::1]"];
    if source.starts_with("http://") && !local.iter().any(|l| source.starts_with(l)) {
        return Err("a URL must be https (http only for localhost)");
    }
    Ok(())
}

/// Reads a BLOB from a file or an `http(s)://` URL, at most [`blob::MAX_BLOB_BYTES`].
pub async fn read_source(source: &str) -> Result<String> {
    let too_large = || refused("metadata_too_large", blob::BlobError::TooLarge.to_string());
    source_allowed(source).map_err(|why| refused("metadata_unreachable", why))?;
    if source.starts_with("https://") || source.starts_with("http://") {
        let mut r = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(|e| refused("metadata_unreachable", e.to_string()))?
            .get(source)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| refused("metadata_unreachable", format!("{source}: {e}")))?;
        let mut body: Vec<u8> = Vec::new();
        while let Some(chunk) = r
            .chunk()
            .await
            .map_err(|e| refused("metadata_unreachable", format!("{source}: {e}")))?
        {
            if body.len().saturating_add(chunk.len()) > blob::MAX_BLOB_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        return String::from_utf8(body)
            .map_err(|_| refused("metadata_malformed", "the BLOB is not text"));
    }
    let meta = tokio::fs::metadata(source)
        .await
        .map_err(|e| refused("metadata_unreachable", format!("{source}: {e}")))?;
    if meta.len() > blob::MAX_BLOB_BYTES as u64 {
        return Err(too_large());
    }
    tokio::fs::read_to_string(source)
        .await
        .map_err(|e| refused("metadata_unreachable", format!("{source}: {e}")))
}

/// The metadata in use, for people.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetadataDto {
    /// The BLOB's serial number (`no`).
    pub serial: i64,
    pub next_update_date_time: String,
    pub stored_date_time: String,
    /// FIDO2 models (AAGUIDs) it describes.
    pub models: usize,
    /// Whether `nextUpdate` has passed (a refresh is overdue; the copy stays in use).
    pub outdated: bool,
}

fn dto(m: &Metadata, stored_at: i64, now: i64) -> MetadataDto {
    MetadataDto {
        serial: m.edition.no,
        next_update_date_time: super::dto::iso(m.edition.next_update),
        stored_date_time: super::dto::iso(stored_at),
        models: m.models.len(),
        outdated: m.edition.next_update < now,
    }
}

/// What loading a BLOB did.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoadedDto {
    /// Stored as the copy in use (false: the same edition was already in use).
    pub stored: bool,
    pub metadata: MetadataDto,
}

/// Verifies `text` and, when it is newer than the stored copy, stores it (audited as
/// `metadata.updated` in the same commit). Any refusal leaves the stored copy as it was.
pub async fn load(
    store: &Store,
    root: &MetadataRoot,
    text: &str,
    actor: &str,
    now: i64,
) -> Result<(LoadedDto, Arc<Metadata>)> {
    let metadata =
        blob::verify(text, &root.0, now).map_err(|e| refused(e.code(), e.to_string()))?;
    let current = store.metadata_blob().await?;
    let current_edition = current.as_ref().map(|c| BlobEdition {
        no: c.serial,
        next_update: c.next_update,
    });
    let verdict = assess_blob(metadata.edition, current_edition, now)
        .map_err(|r| refused(r.code(), r.to_string()))?;
    let stored = match verdict {
        BlobVerdict::Unchanged => false,
        BlobVerdict::Newer => {
            let ev = AuditEvent::new(now, actor, "metadata.updated", keyfort_store::MDS)
                .before(serde_json::json!({ "serial": current_edition.map(|e| e.no) }))
                .after(serde_json::json!({
                    "serial": metadata.edition.no,
                    "nextUpdate": super::dto::iso(metadata.edition.next_update),
                    "models": metadata.models.len(),
                }));
            let row = StoredBlob {
                blob: text.trim().to_string(),
                serial: metadata.edition.no,
                next_update: metadata.edition.next_update,
                stored_at: now,
            };
            if !store.put_metadata_blob(row, ev).await? {
                // Another node stored this edition (or a newer one) meanwhile.
                return Err(refused(
                    "metadata_rollback",
                    "a newer BLOB was stored meanwhile",
                ));
            }
            true
        }
    };
    let stored_at = if stored {
        now
    } else {
        current.map_or(now, |c| c.stored_at)
    };
    Ok((
        LoadedDto {
            stored,
            metadata: dto(&metadata, stored_at, now),
        },
        Arc::new(metadata),
    ))
}

/// A stored copy verified again as of when it was stored (its certificates may have
/// expired since; it stays the copy in use until a newer one verifies).
fn verify_stored(b: &StoredBlob, root: &MetadataRoot) -> Result<Metadata> {
    blob::verify(&b.blob, &root.0, b.stored_at)
        .map_err(|e| AppError::Internal(format!("the stored metadata BLOB does not verify: {e}")))
}

/// The last good copy.
pub async fn stored(store: &Store, root: &MetadataRoot) -> Result<Option<Arc<Metadata>>> {
    match store.metadata_blob().await? {
        None => Ok(None),
        Some(b) => Ok(Some(Arc::new(verify_stored(&b, root)?))),
    }
}

/// The metadata an administrator reads: the copy in use, if any, and what Keyfort does
/// with a passkey whose model was reported since it was registered.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetadataStatusDto {
    /// A BLOB was loaded and verified.
    pub loaded: bool,
    /// The copy in use, when one was loaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<MetadataDto>,
    /// A passkey whose model is reported revoked or compromised is refused at sign-in
    /// (`KEYFORT_METADATA_REFUSE_REPORTED`); otherwise it is flagged and let in.
    pub refuse_reported_models: bool,
}

/// [`show`], with the setting that says what a reported model means at sign-in.
pub async fn status(
    store: &Store,
    root: &MetadataRoot,
    refuse_reported_models: bool,
    now: i64,
) -> Result<MetadataStatusDto> {
    let metadata = show(store, root, now).await?;
    Ok(MetadataStatusDto {
        loaded: metadata.is_some(),
        metadata,
        refuse_reported_models,
    })
}

/// The copy in use, for people (none when no BLOB was ever loaded).
pub async fn show(store: &Store, root: &MetadataRoot, now: i64) -> Result<Option<MetadataDto>> {
    match store.metadata_blob().await? {
        None => Ok(None),
        Some(b) => Ok(Some(dto(&verify_stored(&b, root)?, b.stored_at, now))),
    }
}
