//! What a registered passkey is, derived from what the authenticator reported.

use serde::{Deserialize, Serialize};

/// Synced (backup-eligible) or bound to one device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum PasskeyType {
    DeviceBound,
    Synced,
}

impl PasskeyType {
    /// WebAuthn L3 §6.1 (flags): BE set means the credential may be backed up
    /// (synced); clear means it can never leave the authenticator. Without a
    /// verified attestation this is only the authenticator's claim.
    pub fn from_backup_eligible(backup_eligible: bool) -> Self {
        if backup_eligible {
            PasskeyType::Synced
        } else {
            PasskeyType::DeviceBound
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PasskeyType::DeviceBound => "deviceBound",
            PasskeyType::Synced => "synced",
        }
    }

    /// What a person reads on "My security".
    pub fn label(self) -> &'static str {
        match self {
            PasskeyType::DeviceBound => "device-bound",
            PasskeyType::Synced => "synced",
        }
    }

    /// What the label means, in a person's words.
    pub fn explanation(self) -> &'static str {
        match self {
            PasskeyType::DeviceBound => {
                "It stays on one device or security key and cannot be copied off it."
            }
            PasskeyType::Synced => {
                "Your passkey provider keeps it and offers it on your other devices signed in to that provider."
            }
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "deviceBound" => Some(PasskeyType::DeviceBound),
            "synced" => Some(PasskeyType::Synced),
            _ => None,
        }
    }
}

/// The authenticator data flags and counter relevant to policy, parsed from
/// the raw bytes (WebAuthn L3 §6.1: rpIdHash(32) | flags(1) | signCount(4) |
/// attestedCredentialData...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthenticatorDataSummary {
    pub user_present: bool,
    pub user_verified: bool,
    pub backup_eligible: bool,
    pub backup_state: bool,
    pub sign_count: u32,
    /// Present only when the attested-credential-data flag (AT) is set.
    pub aaguid: Option<[u8; 16]>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("authenticator data is truncated or malformed")]
pub struct MalformedAuthenticatorData;

impl AuthenticatorDataSummary {
    /// Reads the fixed-layout header of authenticator data. The AAGUID is the
    /// first 16 bytes of the attested credential data (WebAuthn L3 §6.5.1),
    /// present even when the attestation statement is `none`.
    pub fn parse(auth_data: &[u8]) -> Result<Self, MalformedAuthenticatorData> {
        const FLAG_UP: u8 = 0x01;
        const FLAG_UV: u8 = 0x04;
        const FLAG_BE: u8 = 0x08;
        const FLAG_BS: u8 = 0x10;
        const FLAG_AT: u8 = 0x40;
        if auth_data.len() < 37 {
            return Err(MalformedAuthenticatorData);
        }
        let flags = auth_data[32];
        let sign_count =
            u32::from_be_bytes([auth_data[33], auth_data[34], auth_data[35], auth_data[36]]);
        let aaguid = if flags & FLAG_AT != 0 {
            let raw = auth_data.get(37..53).ok_or(MalformedAuthenticatorData)?;
            let mut a = [0u8; 16];
            a.copy_from_slice(raw);
            Some(a)
        } else {
            None
        };
        Ok(AuthenticatorDataSummary {
            user_present: flags & FLAG_UP != 0,
            user_verified: flags & FLAG_UV != 0,
            backup_eligible: flags & FLAG_BE != 0,
            backup_state: flags & FLAG_BS != 0,
            sign_count,
            aaguid,
        })
    }
}

/// Formats an AAGUID the way metadata services and admins write it.
pub fn format_aaguid(a: &[u8; 16]) -> String {
    let h: String = a.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Recommended ceiling of passkeys per user (docs/semantics.md: 20).
pub const MAX_PASSKEYS_PER_USER: usize = 20;

/// Longest display name a user may give a passkey.
pub const MAX_PASSKEY_NAME_CHARS: usize = 64;

/// Validates and normalises a passkey display name.
pub fn normalize_passkey_name(name: &str) -> Option<String> {
    let trimmed = name.trim();
    if trimmed.is_empty()
        || trimmed.chars().count() > MAX_PASSKEY_NAME_CHARS
        || trimmed.chars().any(char::is_control)
    {
        return None;
    }
    Some(trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth_data(flags: u8, count: u32, aaguid: Option<[u8; 16]>) -> Vec<u8> {
        let mut v = vec![7u8; 32];
        v.push(flags);
        v.extend_from_slice(&count.to_be_bytes());
        if let Some(a) = aaguid {
            v.extend_from_slice(&a);
            v.extend_from_slice(&[0, 1, 9]);
        }
        v
    }

    #[test]
    fn type_follows_backup_eligibility() {
        assert_eq!(PasskeyType::from_backup_eligible(true), PasskeyType::Synced);
        assert_eq!(
            PasskeyType::from_backup_eligible(false),
            PasskeyType::DeviceBound
        );
        assert_eq!(
            PasskeyType::parse(PasskeyType::Synced.as_str()),
            Some(PasskeyType::Synced)
        );
        assert_eq!(PasskeyType::DeviceBound.label(), "device-bound");
    }

    #[test]
    fn parses_flags_counter_and_aaguid() {
        let a = [0xAB; 16];
        let s = AuthenticatorDataSummary::parse(&auth_data(0x01 | 0x04 | 0x08 | 0x40, 42, Some(a)))
            .unwrap();
        assert!(s.user_present && s.user_verified && s.backup_eligible && !s.backup_state);
        assert_eq!(s.sign_count, 42);
        assert_eq!(s.aaguid, Some(a));
        let s = AuthenticatorDataSummary::parse(&auth_data(0x01 | 0x18, 0, None)).unwrap();
        assert!(s.backup_state && s.backup_eligible && !s.user_verified);
        assert_eq!(s.aaguid, None);
    }

    #[test]
    fn rejects_truncated_data() {
        assert!(AuthenticatorDataSummary::parse(&[0u8; 36]).is_err());
        let mut d = auth_data(0x41, 1, None);
        d.extend_from_slice(&[1, 2, 3]);
        assert!(AuthenticatorDataSummary::parse(&d).is_err());
    }

    #[test]
    fn formats_aaguid() {
        let a = [
            0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0, 1, 2, 3, 4, 5, 6, 7,
        ];
        assert_eq!(format_aaguid(&a), "01234567-89ab-cdef-0001-020304050607");
    }

    #[test]
    fn passkey_names() {
        assert_eq!(
            normalize_passkey_name("  Laptop  ").as_deref(),
            Some("Laptop")
        );
        assert_eq!(normalize_passkey_name("   "), None);
        assert_eq!(normalize_passkey_name(&"x".repeat(65)), None);
        assert_eq!(normalize_passkey_name("a\u{7}b"), None);
    }
}

#[cfg(test)]
mod properties {
    use super::AuthenticatorDataSummary;
    use proptest::prelude::*;

    proptest! {
        /// Any bytes at all: parsed or refused, never a panic; a parse reads the counter
        /// and flags from where WebAuthn L3 §6.1 puts them.
        #[test]
        fn authenticator_data_parse_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            if let Ok(s) = AuthenticatorDataSummary::parse(&bytes) {
                prop_assert!(bytes.len() >= 37);
                let count = u32::from_be_bytes([bytes[33], bytes[34], bytes[35], bytes[36]]);
                prop_assert_eq!(s.sign_count, count);
                prop_assert_eq!(s.user_present, bytes[32] & 0x01 != 0);
                prop_assert_eq!(s.aaguid.is_some(), bytes[32] & 0x40 != 0);
            } else {
                prop_assert!(bytes.len() < 53);
            }
        }
    }
}
