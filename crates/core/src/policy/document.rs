//! The policy document: what `keyfort policy show --json` prints and `policy apply` reads.

use crate::passkey::PasskeyType;
use serde::{Deserialize, Serialize};

/// The id of the passkey profile that always exists.
pub const DEFAULT_PROFILE: &str = "default";
/// The include target that names every user.
pub const ALL_USERS: &str = "all_users";

/// A sign-in method the policy governs. The ids are Entra's method configuration ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum MethodId {
    #[serde(rename = "fido2")]
    Passkey,
    TemporaryAccessPass,
    Password,
    SoftwareOath,
    Email,
    Sms,
}

impl MethodId {
    pub const ALL: [MethodId; 6] = [
        MethodId::Passkey,
        MethodId::TemporaryAccessPass,
        MethodId::Password,
        MethodId::SoftwareOath,
        MethodId::Email,
        MethodId::Sms,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MethodId::Passkey => "fido2",
            MethodId::TemporaryAccessPass => "temporaryAccessPass",
            MethodId::Password => "password",
            MethodId::SoftwareOath => "softwareOath",
            MethodId::Email => "email",
            MethodId::Sms => "sms",
        }
    }

    pub fn parse(s: &str) -> Option<MethodId> {
        MethodId::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// Whether an attacker who controls a look-alike site can capture it (every method
    /// but a passkey and a pass, which is issued by an administrator and used once or
    /// briefly).
    pub fn phishable(self) -> bool {
        !matches!(self, MethodId::Passkey | MethodId::TemporaryAccessPass)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum MethodState {
    Enabled,
    Disabled,
}

/// Who a method applies to: `all_users` or a group id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IncludeTarget {
    pub id: String,
    /// Whether users in this target are asked to register the method.
    #[serde(default)]
    pub is_registration_required: bool,
    /// Passkeys only: the profiles that apply to this target (empty: the default profile).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_passkey_profiles: Vec<String>,
}

/// A group the method never applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExcludeTarget {
    pub id: String,
}

/// What every method has: its state and its targets, borrowed from its configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Targets<'a> {
    pub state: MethodState,
    pub include: &'a [IncludeTarget],
    pub exclude: &'a [ExcludeTarget],
}

fn everyone() -> Vec<IncludeTarget> {
    vec![IncludeTarget {
        id: ALL_USERS.into(),
        is_registration_required: false,
        allowed_passkey_profiles: Vec::new(),
    }]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum AttestationEnforcement {
    Disabled,
    /// A passkey must come with an attestation verified against a trusted root when it
    /// is registered; passkeys registered before this was set are not affected.
    RegistrationOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum EnforcementType {
    Allow,
    Block,
}

impl AttestationEnforcement {
    /// The document's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AttestationEnforcement::Disabled => "disabled",
            AttestationEnforcement::RegistrationOnly => "registrationOnly",
        }
    }
}

impl EnforcementType {
    pub fn as_str(self) -> &'static str {
        match self {
            EnforcementType::Allow => "allow",
            EnforcementType::Block => "block",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyRestrictions {
    pub is_enforced: bool,
    pub enforcement_type: EnforcementType,
    /// Lower-case, hyphenated AAGUIDs.
    #[serde(default)]
    pub aa_guids: Vec<String>,
}

/// Which passkeys are good enough.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PasskeyProfile {
    pub id: String,
    pub name: String,
    pub passkey_types: Vec<PasskeyType>,
    pub attestation_enforcement: AttestationEnforcement,
    pub key_restrictions: KeyRestrictions,
}

impl PasskeyProfile {
    /// The default profile of a fresh installation: any passkey, synced or not.
    pub fn default_profile() -> PasskeyProfile {
        PasskeyProfile {
            id: DEFAULT_PROFILE.into(),
            name: "Default".into(),
            passkey_types: vec![PasskeyType::DeviceBound, PasskeyType::Synced],
            attestation_enforcement: AttestationEnforcement::Disabled,
            key_restrictions: KeyRestrictions {
                is_enforced: false,
                enforcement_type: EnforcementType::Allow,
                aa_guids: Vec::new(),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PasskeyMethod {
    pub state: MethodState,
    pub include_targets: Vec<IncludeTarget>,
    #[serde(default)]
    pub exclude_targets: Vec<ExcludeTarget>,
    /// Whether people may register passkeys themselves (on "My security").
    pub is_self_service_registration_allowed: bool,
    pub passkey_profiles: Vec<PasskeyProfile>,
}

/// Temporary Access Pass settings (lifetimes in minutes, within 10–43,200).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PassMethod {
    pub state: MethodState,
    pub include_targets: Vec<IncludeTarget>,
    #[serde(default)]
    pub exclude_targets: Vec<ExcludeTarget>,
    pub minimum_lifetime_in_minutes: i64,
    pub maximum_lifetime_in_minutes: i64,
    pub default_lifetime_in_minutes: i64,
    /// Characters in a pass, 8–48.
    pub default_length: i64,
    /// Every pass is one-time.
    pub is_usable_once: bool,
}

/// A method with no settings beyond its targets (its ceremony settings live elsewhere).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlainMethod {
    pub state: MethodState,
    pub include_targets: Vec<IncludeTarget>,
    #[serde(default)]
    pub exclude_targets: Vec<ExcludeTarget>,
}

macro_rules! targets_of {
    ($($t:ty),*) => {$(
        impl $t {
            pub fn targets(&self) -> Targets<'_> {
                Targets {
                    state: self.state,
                    include: &self.include_targets,
                    exclude: &self.exclude_targets,
                }
            }
        }
    )*};
}
targets_of!(PasskeyMethod, PassMethod, PlainMethod);

/// The whole authentication-methods policy, keyed by method id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MethodsPolicy {
    pub fido2: PasskeyMethod,
    pub temporary_access_pass: PassMethod,
    pub password: PlainMethod,
    pub software_oath: PlainMethod,
    pub email: PlainMethod,
    pub sms: PlainMethod,
    /// Asking people without a passkey to register one (absent in documents written
    /// before it existed: the defaults).
    #[serde(default)]
    pub registration_campaign: RegistrationCampaign,
    /// Where the sign-in page leads with the strongest method a person holds.
    #[serde(default)]
    pub preferred_method_ranking: PreferredMethodRanking,
}

/// Where the preferred-method ranking applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum PreferredMethodRanking {
    /// The strongest way in is started at once, and the strongest second factor.
    #[default]
    FirstAndSecondFactor,
    /// The person picks how to sign in; after a password, the strongest second factor.
    SecondFactorOnly,
    /// The person picks every step.
    Off,
}

impl PreferredMethodRanking {
    pub fn first_factor(self) -> bool {
        self == PreferredMethodRanking::FirstAndSecondFactor
    }

    pub fn second_factor(self) -> bool {
        self != PreferredMethodRanking::Off
    }
}

/// The registration campaign's state (Graph's `advancedConfigState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum CampaignState {
    /// Keyfort's choice: on, for everyone in its targets.
    #[default]
    Default,
    Enabled,
    Disabled,
}

/// After a sign-in, a person in scope without a passkey is asked to register one; they
/// may snooze the question, and after the allowed snoozes must register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegistrationCampaign {
    #[serde(default)]
    pub state: CampaignState,
    /// 0–14; 0 asks at every sign-in.
    #[serde(default = "one_day")]
    pub snooze_duration_in_days: i64,
    /// After 3 snoozes the person must register.
    #[serde(default = "yes")]
    pub enforce_registration_after_allowed_snoozes: bool,
    #[serde(default = "everyone")]
    pub include_targets: Vec<IncludeTarget>,
    #[serde(default)]
    pub exclude_targets: Vec<ExcludeTarget>,
}

fn one_day() -> i64 {
    1
}

fn yes() -> bool {
    true
}

impl Default for RegistrationCampaign {
    fn default() -> Self {
        RegistrationCampaign {
            state: CampaignState::Default,
            snooze_duration_in_days: one_day(),
            enforce_registration_after_allowed_snoozes: true,
            include_targets: everyone(),
            exclude_targets: Vec::new(),
        }
    }
}

impl Default for MethodsPolicy {
    /// A fresh installation: passkeys and passes for everyone, every phishable method off.
    fn default() -> MethodsPolicy {
        let off = || PlainMethod {
            state: MethodState::Disabled,
            include_targets: everyone(),
            exclude_targets: Vec::new(),
        };
        MethodsPolicy {
            fido2: PasskeyMethod {
                state: MethodState::Enabled,
                include_targets: everyone(),
                exclude_targets: Vec::new(),
                is_self_service_registration_allowed: true,
                passkey_profiles: vec![PasskeyProfile::default_profile()],
            },
            temporary_access_pass: PassMethod {
                state: MethodState::Enabled,
                include_targets: everyone(),
                exclude_targets: Vec::new(),
                minimum_lifetime_in_minutes: 60,
                maximum_lifetime_in_minutes: 480,
                default_lifetime_in_minutes: 60,
                default_length: 8,
                is_usable_once: false,
            },
            password: off(),
            software_oath: off(),
            email: off(),
            sms: off(),
            registration_campaign: RegistrationCampaign::default(),
            preferred_method_ranking: PreferredMethodRanking::default(),
        }
    }
}

impl MethodsPolicy {
    pub fn targets(&self, m: MethodId) -> Targets<'_> {
        match m {
            MethodId::Passkey => self.fido2.targets(),
            MethodId::TemporaryAccessPass => self.temporary_access_pass.targets(),
            MethodId::Password => self.password.targets(),
            MethodId::SoftwareOath => self.software_oath.targets(),
            MethodId::Email => self.email.targets(),
            MethodId::Sms => self.sms.targets(),
        }
    }

    /// One method's state and targets, to change them.
    pub fn parts_mut(
        &mut self,
        m: MethodId,
    ) -> (
        &mut MethodState,
        &mut Vec<IncludeTarget>,
        &mut Vec<ExcludeTarget>,
    ) {
        macro_rules! parts {
            ($x:expr) => {
                (
                    &mut $x.state,
                    &mut $x.include_targets,
                    &mut $x.exclude_targets,
                )
            };
        }
        match m {
            MethodId::Passkey => parts!(self.fido2),
            MethodId::TemporaryAccessPass => parts!(self.temporary_access_pass),
            MethodId::Password => parts!(self.password),
            MethodId::SoftwareOath => parts!(self.software_oath),
            MethodId::Email => parts!(self.email),
            MethodId::Sms => parts!(self.sms),
        }
    }

    pub fn profile(&self, id: &str) -> Option<&PasskeyProfile> {
        self.fido2.passkey_profiles.iter().find(|p| p.id == id)
    }

    /// Every group the policy names, in any method's targets.
    pub fn groups(&self) -> impl Iterator<Item = &str> {
        MethodId::ALL.into_iter().flat_map(move |m| {
            let t = self.targets(m);
            t.include
                .iter()
                .map(|i| i.id.as_str())
                .filter(|id| *id != ALL_USERS)
                .chain(t.exclude.iter().map(|e| e.id.as_str()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_policy_enables_passkeys_and_passes_only() {
        let p = MethodsPolicy::default();
        for m in MethodId::ALL {
            let enabled = p.targets(m).state == MethodState::Enabled;
            assert_eq!(enabled, !m.phishable(), "{m:?}");
            assert_eq!(MethodId::parse(m.as_str()), Some(m));
        }
        assert!(p.profile(DEFAULT_PROFILE).is_some());
        assert_eq!(p.groups().count(), 0);
    }

    #[test]
    fn the_document_round_trips_with_entra_field_names() {
        let p = MethodsPolicy::default();
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["fido2"]["state"], "enabled");
        assert_eq!(json["fido2"]["includeTargets"][0]["id"], "all_users");
        assert_eq!(
            json["fido2"]["passkeyProfiles"][0]["passkeyTypes"],
            serde_json::json!(["deviceBound", "synced"])
        );
        assert_eq!(
            json["fido2"]["passkeyProfiles"][0]["keyRestrictions"]["aaGuids"],
            serde_json::json!([])
        );
        assert_eq!(json["temporaryAccessPass"]["defaultLifetimeInMinutes"], 60);
        let back: MethodsPolicy = serde_json::from_value(json).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn the_spelled_out_names_are_the_documents() {
        for a in [
            AttestationEnforcement::Disabled,
            AttestationEnforcement::RegistrationOnly,
        ] {
            assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
        }
        for e in [EnforcementType::Allow, EnforcementType::Block] {
            assert_eq!(serde_json::to_value(e).unwrap(), e.as_str());
        }
    }
}
