//! Passkey providers by name: which product an AAGUID is ("iCloud Keychain", "YubiKey 5
//! Series"), and which AAGUIDs a name an administrator writes stands for.
//!
//! A catalogue is built from named sources — the community list of passkey-provider
//! AAGUIDs shipped with Keyfort and, when configured, the FIDO Metadata Service — and is
//! read-only afterwards. A source may be empty (the community list is retired by
//! replacing it with `{}`): names then come from the others, and an AAGUID no source
//! names is shown as itself. Policy never depends on a name: a restriction written with
//! a name is stored as the AAGUIDs it resolved to.

use crate::policy::normalize_aaguid;
use std::collections::{BTreeMap, HashMap};

/// Where a name came from; when two sources name one AAGUID, the earlier variant wins
/// (the community list names products the way people know them; metadata names models).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProviderSource {
    /// The community-maintained list of passkey-provider AAGUIDs.
    Community,
    /// The FIDO Metadata Service (`description` of a metadata statement).
    Metadata,
}

impl ProviderSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderSource::Community => "community",
            ProviderSource::Metadata => "fidoMetadata",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    pub name: String,
    pub source: ProviderSource,
}

/// The longest provider name kept; longer ones are cut (a name is for people, and a
/// source is not trusted to keep them short).
pub const MAX_NAME_CHARS: usize = 128;

/// Why a name does not resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderLookup {
    #[error("no passkey provider is named `{name}`{}", hint(.suggestions))]
    Unknown {
        name: String,
        /// Known names that contain what was written, for "did you mean".
        suggestions: Vec<String>,
    },
}

fn hint(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        String::new()
    } else {
        format!(" (did you mean: {}?)", suggestions.join(", "))
    }
}

impl ProviderLookup {
    pub fn code(&self) -> &'static str {
        "unknown_provider"
    }
}

/// What a source held that the catalogue left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Skipped {
    /// Keys that are not AAGUIDs.
    pub bad_aaguids: usize,
    /// Entries with an empty name.
    pub unnamed: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Providers {
    by_aaguid: HashMap<String, Provider>,
    /// Folded name → the AAGUIDs so named (sorted, deduplicated).
    by_name: BTreeMap<String, Vec<String>>,
}

/// A name as compared: trimmed, inner whitespace collapsed, case folded.
fn fold(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// A name as kept: trimmed, whitespace collapsed, control characters dropped, bounded.
fn clean(name: &str) -> String {
    let joined = name.split_whitespace().collect::<Vec<_>>().join(" ");
    joined
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect()
}

impl Providers {
    /// Adds a source's `(aaguid, name)` entries. An AAGUID another source already named
    /// keeps the name of the source that wins (see [`ProviderSource`]).
    pub fn add<'a>(
        &mut self,
        source: ProviderSource,
        entries: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Skipped {
        let mut skipped = Skipped::default();
        for (raw_aaguid, raw_name) in entries {
            let Some(aaguid) = normalize_aaguid(raw_aaguid) else {
                skipped.bad_aaguids = skipped.bad_aaguids.saturating_add(1);
                continue;
            };
            let name = clean(raw_name);
            if name.is_empty() {
                skipped.unnamed = skipped.unnamed.saturating_add(1);
                continue;
            }
            let replaces = match self.by_aaguid.get(&aaguid) {
                None => true,
                Some(held) => source < held.source,
            };
            if !replaces {
                continue;
            }
            if let Some(old) = self.by_aaguid.remove(&aaguid) {
                self.forget_name(&old.name, &aaguid);
            }
            let ids = self.by_name.entry(fold(&name)).or_default();
            if let Err(at) = ids.binary_search(&aaguid) {
                ids.insert(at, aaguid.clone());
            }
            self.by_aaguid.insert(aaguid, Provider { name, source });
        }
        skipped
    }

    fn forget_name(&mut self, name: &str, aaguid: &str) {
        let key = fold(name);
        if let Some(ids) = self.by_name.get_mut(&key) {
            ids.retain(|a| a != aaguid);
            if ids.is_empty() {
                self.by_name.remove(&key);
            }
        }
    }

    /// The provider an AAGUID (in any accepted spelling) is, when a source names it.
    pub fn get(&self, aaguid: &str) -> Option<&Provider> {
        match self.by_aaguid.get(aaguid) {
            Some(p) => Some(p),
            None => self.by_aaguid.get(&normalize_aaguid(aaguid)?),
        }
    }

    /// The name an AAGUID is shown with.
    pub fn name(&self, aaguid: &str) -> Option<&str> {
        self.get(aaguid).map(|p| p.name.as_str())
    }

    /// The AAGUIDs a provider name stands for (several products ship under one name:
    /// "Windows Hello" is three). Case and spacing do not matter; the name must be whole.
    pub fn resolve(&self, name: &str) -> Result<&[String], ProviderLookup> {
        if name.chars().count() > MAX_NAME_CHARS {
            // No name is that long; the refusal does not echo it whole.
            return Err(ProviderLookup::Unknown {
                name: name.chars().take(MAX_NAME_CHARS).collect(),
                suggestions: Vec::new(),
            });
        }
        let key = fold(name);
        if let Some(ids) = self.by_name.get(&key) {
            return Ok(ids);
        }
        let mut suggestions: Vec<String> = if key.is_empty() {
            Vec::new()
        } else {
            self.by_name
                .iter()
                .filter(|(k, _)| k.contains(&key))
                .filter_map(|(_, ids)| Some(self.by_aaguid.get(ids.first()?)?.name.clone()))
                .collect()
        };
        suggestions.truncate(5);
        Err(ProviderLookup::Unknown {
            name: name.trim().to_string(),
            suggestions,
        })
    }

    /// How many AAGUIDs the catalogue names.
    pub fn len(&self) -> usize {
        self.by_aaguid.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_aaguid.is_empty()
    }

    /// The names containing `part` (case does not matter; every name without one), with
    /// their AAGUIDs, in name order.
    pub fn matching<'a>(
        &'a self,
        part: Option<&str>,
    ) -> impl Iterator<Item = (&'a str, &'a [String])> + 'a {
        let part = part.map(fold);
        self.names()
            .filter(move |(n, _)| part.as_ref().is_none_or(|p| fold(n).contains(p.as_str())))
    }

    /// Every name with its AAGUIDs, in name order.
    pub fn names(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.by_name.values().filter_map(|ids| {
            let first = self.by_aaguid.get(ids.first()?)?;
            Some((first.name.as_str(), ids.as_slice()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO_A: &str = "08987058-cadc-4b81-b6e1-30de50dcbe96";
    const HELLO_B: &str = "9ddd1817-af5a-4672-a2b9-3e3dd95000a9";
    const YUBIKEY: &str = "cb69481e-8ff7-4039-93ec-0a2729a154a8";

    fn catalogue() -> Providers {
        let mut p = Providers::default();
        p.add(
            ProviderSource::Community,
            [(HELLO_A, "Windows Hello"), (HELLO_B, "Windows  Hello ")],
        );
        p.add(
            ProviderSource::Metadata,
            [
                (YUBIKEY, "YubiKey 5 Series"),
                (HELLO_A, "Windows Hello Hardware Authenticator"),
            ],
        );
        p
    }

    #[test]
    fn a_name_resolves_to_every_aaguid_it_stands_for() {
        let p = catalogue();
        assert_eq!(p.resolve("windows hello").unwrap(), [HELLO_A, HELLO_B]);
        assert_eq!(p.resolve("  YubiKey   5 series").unwrap(), [YUBIKEY]);
        assert_eq!(p.len(), 3);
    }

    #[test]
    fn the_community_name_wins_over_the_metadata_name() {
        let p = catalogue();
        assert_eq!(p.name(HELLO_A), Some("Windows Hello"));
        assert!(p.resolve("Windows Hello Hardware Authenticator").is_err());
        // Added in the other order, the same outcome.
        let mut q = Providers::default();
        q.add(
            ProviderSource::Metadata,
            [(HELLO_A, "Windows Hello Hardware Authenticator")],
        );
        q.add(ProviderSource::Community, [(HELLO_A, "Windows Hello")]);
        assert_eq!(q.name(HELLO_A), Some("Windows Hello"));
        assert_eq!(q.resolve("Windows Hello").unwrap(), [HELLO_A]);
        assert!(q.resolve("Windows Hello Hardware Authenticator").is_err());
    }

    #[test]
    fn an_unknown_name_is_refused_with_suggestions() {
        let p = catalogue();
        let e = p.resolve("yubikey").unwrap_err();
        assert_eq!(
            e,
            ProviderLookup::Unknown {
                name: "yubikey".into(),
                suggestions: vec!["YubiKey 5 Series".into()]
            }
        );
        assert!(e.to_string().contains("did you mean: YubiKey 5 Series"));
        let long = "y".repeat(MAX_NAME_CHARS * 4);
        let Err(ProviderLookup::Unknown { name, suggestions }) = p.resolve(&long) else {
            panic!("a name longer than any resolved");
        };
        assert_eq!((name.len(), suggestions.len()), (MAX_NAME_CHARS, 0));
        let hello: Vec<&str> = p.matching(Some("HELLO")).map(|(n, _)| n).collect();
        assert_eq!(hello, ["Windows Hello"]);
        assert_eq!(p.matching(None).count(), 2);
        assert!(matches!(
            p.resolve(""),
            Err(ProviderLookup::Unknown { suggestions, .. }) if suggestions.is_empty()
        ));
    }

    #[test]
    fn an_empty_source_breaks_nothing() {
        let mut p = Providers::default();
        assert_eq!(
            p.add(ProviderSource::Community, std::iter::empty()),
            Skipped::default()
        );
        assert!(p.is_empty());
        assert_eq!(p.name(YUBIKEY), None);
        p.add(ProviderSource::Metadata, [(YUBIKEY, "YubiKey 5 Series")]);
        assert_eq!(p.name(YUBIKEY), Some("YubiKey 5 Series"));
    }

    #[test]
    fn bad_entries_are_skipped_and_counted() {
        let mut p = Providers::default();
        let long = "n".repeat(MAX_NAME_CHARS + 50);
        let skipped = p.add(
            ProviderSource::Community,
            [
                ("not-an-aaguid", "X"),
                (HELLO_A, " \u{7}\t"),
                ("CB69481E8FF7403993EC0A2729A154A8", long.as_str()),
            ],
        );
        assert_eq!(
            skipped,
            Skipped {
                bad_aaguids: 1,
                unnamed: 1
            }
        );
        assert_eq!(
            p.name(YUBIKEY).map(|n| n.chars().count()),
            Some(MAX_NAME_CHARS)
        );
        assert_eq!(p.name("cb69481e8ff7403993ec0a2729a154a8"), p.name(YUBIKEY));
        assert_eq!(p.names().count(), 1);
    }
}
