//! The provider-name catalogue every node starts with: the community list shipped in
//! `data/passkey-providers.json` (its source and licence are recorded beside it). Names
//! from FIDO metadata are added to a copy when a metadata BLOB is configured.

use keyfort_core::providers::{ProviderSource, Providers, Skipped};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::LazyLock;

const SHIPPED: &str = include_str!("../../data/passkey-providers.json");

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    name: String,
}

/// Reads a copy of the community list (`{ "<aaguid>": { "name": … }, … }`, other fields
/// ignored; `{}` once the list is retired) into `providers`.
pub fn add_community(providers: &mut Providers, text: &str) -> Result<Skipped, serde_json::Error> {
    let entries: BTreeMap<String, Entry> = serde_json::from_str(text)?;
    Ok(providers.add(
        ProviderSource::Community,
        entries.iter().map(|(a, e)| (a.as_str(), e.name.as_str())),
    ))
}

static CATALOGUE: LazyLock<Providers> = LazyLock::new(|| {
    let mut providers = Providers::default();
    if let Err(e) = add_community(&mut providers, SHIPPED) {
        // The shipped file is checked by a test; names are a convenience, never a rule.
        tracing::error!(error = %e, "the shipped passkey-provider names cannot be read");
    }
    providers
});

/// The names every node knows without metadata.
pub fn shipped() -> &'static Providers {
    &CATALOGUE
}

/// The names a node would use: the shipped ones and those of the stored FIDO metadata
/// (verified against `root`). A stored copy that does not verify adds nothing.
pub async fn with_stored_metadata(
    store: &keyfort_store::Store,
    root: &crate::metadata::MetadataRoot,
) -> Providers {
    let stored = match super::metadata::stored(store, root).await {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(error = %e, "the stored FIDO metadata adds no names");
            None
        }
    };
    crate::metadata::Derived::new(&crate::passkeys::anchors::TrustAnchors::none(), stored).providers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_list_reads_whole() {
        let mut p = Providers::default();
        let skipped = add_community(&mut p, SHIPPED).unwrap();
        assert_eq!(skipped, Skipped::default());
        assert_eq!(p.len(), shipped().len());
        assert!(p.len() >= 40, "{}", p.len());
        assert_eq!(
            p.name("ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4"),
            Some("Google Password Manager")
        );
        assert!(p.resolve("Windows Hello").unwrap().len() >= 3);
    }

    #[test]
    fn a_retired_list_or_icons_change_nothing() {
        let mut p = Providers::default();
        assert_eq!(add_community(&mut p, "{}").unwrap(), Skipped::default());
        assert!(p.is_empty());
        let with_icons = r#"{"fbfc3007-154e-4ecc-8c0b-6e020557d7bd":
            {"name": "Apple Passwords", "icon_dark": "data:…", "icon_light": "data:…"}}"#;
        add_community(&mut p, with_icons).unwrap();
        assert_eq!(
            p.name("fbfc3007-154e-4ecc-8c0b-6e020557d7bd"),
            Some("Apple Passwords")
        );
        assert!(add_community(&mut p, "[]").is_err());
    }
}
