//! FIDO metadata on a node: the verified BLOB in use (`blob`), what it adds to the
//! attestation trust anchors and the provider names, and each model's standing.
//!
//! A BLOB comes from a file or a URL (`metadata_blob`), is verified against FIDO's root
//! (shipped in `data/`; tests inject their own through [`MetadataRoot`]), judged by
//! `keyfort_core::metadata::assess_blob`, and kept in the store as the last good copy
//! every node starts from. A refresh that fails for any reason leaves the copy in use.

pub mod blob;

pub use blob::{BlobError, Metadata, Model};

use crate::passkeys::anchors::TrustAnchors;
use keyfort_core::metadata::Standing;
use keyfort_core::providers::{ProviderSource, Providers};
use std::sync::Arc;
use x509_cert::Certificate;

/// The root a BLOB's signing chain must end at.
#[derive(Debug, Clone)]
pub struct MetadataRoot(pub Certificate);

impl MetadataRoot {
    /// FIDO's root, as shipped.
    pub fn fido() -> Result<MetadataRoot, String> {
        blob::fido_root().map(MetadataRoot)
    }
}

/// What a node derives from the metadata in use (and the administrator's anchors).
#[derive(Debug, Default)]
pub struct Derived {
    pub metadata: Option<Arc<Metadata>>,
    /// The administrator's anchors and every model's attestation roots.
    pub anchors: TrustAnchors,
    /// The shipped names, and the metadata's for models the community list lacks.
    pub providers: Providers,
}

impl Derived {
    pub fn new(admin: &TrustAnchors, metadata: Option<Arc<Metadata>>) -> Derived {
        let mut providers = crate::app::providers::shipped().clone();
        let mut anchors = admin.clone();
        if let Some(m) = &metadata {
            providers.add(
                ProviderSource::Metadata,
                m.models
                    .iter()
                    .filter_map(|(a, model)| Some((a.as_str(), model.description.as_deref()?))),
            );
            for (aaguid, model) in &m.models {
                for root in &model.roots {
                    anchors.add_model_root(
                        root,
                        aaguid,
                        model.description.as_deref().unwrap_or(aaguid),
                    );
                }
            }
        }
        Derived {
            metadata,
            anchors,
            providers,
        }
    }

    /// What the metadata in use says of a model today (good when there is none).
    pub fn standing(&self, aaguid: &str, now: i64) -> Standing {
        match self.metadata.as_ref().and_then(|m| m.models.get(aaguid)) {
            Some(model) => keyfort_core::metadata::standing(&model.reports, now),
            None => Standing::Good,
        }
    }
}
