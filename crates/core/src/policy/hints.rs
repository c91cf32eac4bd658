//! WebAuthn Level 3 hints (§5.4.7 `PublicKeyCredentialHint`) derived from the passkey
//! profiles in a user's scope, so the browser leads them to a kind of authenticator the
//! policy will accept instead of one it would refuse after the ceremony.

use super::{MethodId, MethodsPolicy, Scope, Subject, method_scope};
use crate::passkey::PasskeyType;

/// A hint to the browser about which class of authenticator to offer first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hint {
    /// A removable security key.
    SecurityKey,
    /// The device's own platform authenticator.
    ClientDevice,
    /// A phone or tablet, reached by a QR code.
    Hybrid,
}

impl Hint {
    /// The value WebAuthn defines.
    pub fn as_str(self) -> &'static str {
        match self {
            Hint::SecurityKey => "security-key",
            Hint::ClientDevice => "client-device",
            Hint::Hybrid => "hybrid",
        }
    }
}

/// The hints for registering a passkey: when no profile in the user's scope accepts a
/// synced passkey, the device-bound classes (a security key first, then the device's
/// own authenticator) and never `hybrid`, where a phone would most often offer a synced
/// passkey the policy refuses. Otherwise none: the browser's own order serves.
pub fn registration_hints(p: &MethodsPolicy, s: Subject<'_>) -> Vec<Hint> {
    match method_scope(p, MethodId::Passkey, s) {
        Scope::Included { profiles, .. }
            if !profiles.is_empty()
                && profiles
                    .iter()
                    .all(|profile| !profile.passkey_types.contains(&PasskeyType::Synced)) =>
        {
            vec![Hint::SecurityKey, Hint::ClientDevice]
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PasskeyProfile;

    fn policy_with(types: &[PasskeyType]) -> MethodsPolicy {
        let mut p = MethodsPolicy::default();
        p.fido2.passkey_profiles = vec![PasskeyProfile {
            passkey_types: types.to_vec(),
            ..PasskeyProfile::default_profile()
        }];
        p
    }

    #[test]
    fn device_bound_only_leads_to_a_security_key() {
        let p = policy_with(&[PasskeyType::DeviceBound]);
        let hints = registration_hints(&p, Subject { groups: &[] });
        assert_eq!(hints, [Hint::SecurityKey, Hint::ClientDevice]);
        assert_eq!(hints[0].as_str(), "security-key");
    }

    #[test]
    fn a_profile_that_takes_synced_passkeys_leaves_the_choice_to_the_browser() {
        let p = policy_with(&[PasskeyType::DeviceBound, PasskeyType::Synced]);
        assert!(registration_hints(&p, Subject { groups: &[] }).is_empty());
        assert!(registration_hints(&MethodsPolicy::default(), Subject { groups: &[] }).is_empty());
    }
}
