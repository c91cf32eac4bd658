//! The one evaluator: which methods apply to a user, and whether a passkey — registered,
//! being registered, or hypothetical — is good enough for them, with the reason of every
//! profile in scope.

use super::document::*;
use crate::passkey::PasskeyType;

/// Who the policy is evaluated for: the ids of the groups the user is a member of.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub groups: &'a [String],
}

impl Subject<'_> {
    fn in_group(&self, id: &str) -> bool {
        self.groups.iter().any(|g| g == id)
    }

    fn targeted_by(&self, target: &IncludeTarget) -> bool {
        target.id == ALL_USERS || self.in_group(&target.id)
    }
}

/// Whether, and how, a method applies to a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope<'a> {
    Disabled,
    /// Membership of this excluded group (exclusion beats every include).
    Excluded {
        group: &'a str,
    },
    /// No include target names the user.
    NotIncluded,
    Included {
        registration_required: bool,
        /// Passkeys: the profiles of every include target that names the user, each
        /// once, in the policy's order.
        profiles: Vec<&'a PasskeyProfile>,
    },
}

/// Whether the registration campaign is on and its targets name `s` (exclusion beats
/// every include).
pub fn campaign_targets(p: &MethodsPolicy, s: Subject<'_>) -> bool {
    let c = &p.registration_campaign;
    c.state != CampaignState::Disabled
        && !c.exclude_targets.iter().any(|e| s.in_group(&e.id))
        && c.include_targets.iter().any(|t| s.targeted_by(t))
}

/// Whether method `m` applies to `s` at all (enabled, included, not excluded).
pub fn method_applies(p: &MethodsPolicy, m: MethodId, s: Subject<'_>) -> bool {
    matches!(method_scope(p, m, s), Scope::Included { .. })
}

/// Whether, and how, method `m` applies to `s`.
pub fn method_scope<'a>(p: &'a MethodsPolicy, m: MethodId, s: Subject<'_>) -> Scope<'a> {
    let t = p.targets(m);
    if t.state == MethodState::Disabled {
        return Scope::Disabled;
    }
    if let Some(e) = t.exclude.iter().find(|e| s.in_group(&e.id)) {
        return Scope::Excluded { group: &e.id };
    }
    let mut included = false;
    let mut registration_required = false;
    let mut wanted: Vec<&str> = Vec::new();
    for target in t.include.iter().filter(|t| s.targeted_by(t)) {
        included = true;
        registration_required |= target.is_registration_required;
        if target.allowed_passkey_profiles.is_empty() {
            wanted.push(DEFAULT_PROFILE);
        } else {
            wanted.extend(target.allowed_passkey_profiles.iter().map(String::as_str));
        }
    }
    if !included {
        return Scope::NotIncluded;
    }
    let profiles = if m == MethodId::Passkey {
        p.fido2
            .passkey_profiles
            .iter()
            .filter(|x| wanted.contains(&x.id.as_str()))
            .collect()
    } else {
        Vec::new()
    };
    Scope::Included {
        registration_required,
        profiles,
    }
}

/// When a passkey is evaluated: attestation is a rule of registration only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Registration,
    SignIn,
}

/// What the policy looks at in a passkey. At sign-in these are what registration recorded
/// (an assertion carries no AAGUID), with the type from the assertion's BE flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasskeyCandidate<'a> {
    /// Lower-case, hyphenated.
    pub aaguid: &'a str,
    pub passkey_type: PasskeyType,
    /// Its attestation was verified against a trusted root.
    pub attested: bool,
}

/// The rule of a profile a passkey breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileRule {
    /// Its type (synced or device-bound) is not among the profile's `passkeyTypes`.
    PasskeyType,
    /// The profile requires a verified attestation at registration.
    Attestation,
    /// Its AAGUID is not on the profile's allow list.
    KeyNotAllowed,
    /// Its AAGUID is on the profile's block list.
    KeyBlocked,
}

impl ProfileRule {
    pub fn code(self) -> &'static str {
        match self {
            ProfileRule::PasskeyType => "passkey_type_not_allowed",
            ProfileRule::Attestation => "attestation_required",
            ProfileRule::KeyNotAllowed => "passkey_model_not_allowed",
            ProfileRule::KeyBlocked => "passkey_model_blocked",
        }
    }
}

/// Why the policy does not accept a passkey for a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasskeyPolicyRefusal {
    MethodDisabled,
    Excluded,
    NotIncluded,
    /// People may not register passkeys themselves.
    SelfServiceDisabled,
    /// Every profile in scope refuses it; this is the first one's rule.
    Profile(ProfileRule),
}

impl PasskeyPolicyRefusal {
    pub fn code(self) -> &'static str {
        match self {
            PasskeyPolicyRefusal::MethodDisabled => "passkeys_disabled",
            PasskeyPolicyRefusal::Excluded => "passkeys_excluded",
            PasskeyPolicyRefusal::NotIncluded => "passkeys_not_in_scope",
            PasskeyPolicyRefusal::SelfServiceDisabled => "self_service_registration_disabled",
            PasskeyPolicyRefusal::Profile(r) => r.code(),
        }
    }
}

/// One profile's verdict on a passkey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProfileVerdict<'a> {
    pub profile: &'a PasskeyProfile,
    /// `None`: it accepts the passkey.
    pub refused: Option<ProfileRule>,
}

/// The policy's decision on a passkey, with its reasons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyDecision<'a> {
    /// The first profile that accepts it, or why none does.
    pub outcome: Result<&'a PasskeyProfile, PasskeyPolicyRefusal>,
    /// How the passkey method applies to the user.
    pub scope: Scope<'a>,
    /// Every profile in scope, with its verdict.
    pub profiles: Vec<ProfileVerdict<'a>>,
}

/// A profile's verdict on a passkey at `stage`.
pub fn check_profile(
    profile: &PasskeyProfile,
    c: PasskeyCandidate<'_>,
    stage: Stage,
) -> Option<ProfileRule> {
    if !profile.passkey_types.contains(&c.passkey_type) {
        return Some(ProfileRule::PasskeyType);
    }
    if stage == Stage::Registration
        && profile.attestation_enforcement == AttestationEnforcement::RegistrationOnly
        && !c.attested
    {
        return Some(ProfileRule::Attestation);
    }
    let k = &profile.key_restrictions;
    if k.is_enforced {
        let listed = k.aa_guids.iter().any(|a| a == c.aaguid);
        match k.enforcement_type {
            EnforcementType::Allow if !listed => return Some(ProfileRule::KeyNotAllowed),
            EnforcementType::Block if listed => return Some(ProfileRule::KeyBlocked),
            _ => {}
        }
    }
    None
}

/// Decides whether the policy accepts passkey `c` for `s` at `stage`: it must be in
/// scope of the passkey method and satisfy any one profile in scope.
pub fn evaluate_passkey<'a>(
    p: &'a MethodsPolicy,
    s: Subject<'_>,
    c: PasskeyCandidate<'_>,
    stage: Stage,
) -> PasskeyDecision<'a> {
    let scope = method_scope(p, MethodId::Passkey, s);
    let in_scope = match &scope {
        Scope::Disabled => Err(PasskeyPolicyRefusal::MethodDisabled),
        Scope::Excluded { .. } => Err(PasskeyPolicyRefusal::Excluded),
        Scope::NotIncluded => Err(PasskeyPolicyRefusal::NotIncluded),
        Scope::Included { profiles, .. } => Ok(profiles.clone()),
    };
    let profiles = match in_scope {
        Ok(profiles) => profiles,
        Err(refusal) => {
            return PasskeyDecision {
                outcome: Err(refusal),
                scope,
                profiles: Vec::new(),
            };
        }
    };
    let verdicts: Vec<ProfileVerdict<'a>> = profiles
        .into_iter()
        .map(|profile| ProfileVerdict {
            profile,
            refused: check_profile(profile, c, stage),
        })
        .collect();
    let outcome = match verdicts.iter().find(|v| v.refused.is_none()) {
        Some(v) => Ok(v.profile),
        None => Err(PasskeyPolicyRefusal::Profile(
            verdicts
                .first()
                .and_then(|v| v.refused)
                .unwrap_or(ProfileRule::PasskeyType),
        )),
    };
    PasskeyDecision {
        outcome,
        scope,
        profiles: verdicts,
    }
}

/// Whether a user may begin registering a passkey under the policy: the method applies
/// to them, and (outside onboarding with a pass) self-service registration is allowed.
pub fn may_register_passkey(
    p: &MethodsPolicy,
    s: Subject<'_>,
    with_pass: bool,
) -> Result<(), PasskeyPolicyRefusal> {
    match method_scope(p, MethodId::Passkey, s) {
        Scope::Disabled => Err(PasskeyPolicyRefusal::MethodDisabled),
        Scope::Excluded { .. } => Err(PasskeyPolicyRefusal::Excluded),
        Scope::NotIncluded => Err(PasskeyPolicyRefusal::NotIncluded),
        Scope::Included { .. } if !with_pass && !p.fido2.is_self_service_registration_allowed => {
            Err(PasskeyPolicyRefusal::SelfServiceDisabled)
        }
        Scope::Included { .. } => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::passkey::PasskeyType::{DeviceBound, Synced};

    const YUBIKEY: &str = "cb69481e-8ff7-4039-93ec-0a2729a154a8";
    const ICLOUD: &str = "fbfc3007-154e-4ecc-8c0b-6e020557d7bd";

    fn profile(id: &str, types: &[PasskeyType], allow: &[&str], attested: bool) -> PasskeyProfile {
        PasskeyProfile {
            id: id.into(),
            name: id.into(),
            passkey_types: types.to_vec(),
            attestation_enforcement: if attested {
                AttestationEnforcement::RegistrationOnly
            } else {
                AttestationEnforcement::Disabled
            },
            key_restrictions: KeyRestrictions {
                is_enforced: !allow.is_empty(),
                enforcement_type: EnforcementType::Allow,
                aa_guids: allow.iter().map(|s| s.to_string()).collect(),
            },
        }
    }

    /// Administrators: attested device-bound YubiKeys; everyone: any passkey;
    /// contractors: no passkeys at all.
    fn policy() -> MethodsPolicy {
        let mut p = MethodsPolicy::default();
        p.fido2
            .passkey_profiles
            .push(profile("admins", &[DeviceBound], &[YUBIKEY], true));
        p.fido2.include_targets = vec![
            IncludeTarget {
                id: ALL_USERS.into(),
                is_registration_required: false,
                allowed_passkey_profiles: vec![],
            },
            IncludeTarget {
                id: "g-admins".into(),
                is_registration_required: true,
                allowed_passkey_profiles: vec!["admins".into()],
            },
        ];
        p.fido2.exclude_targets = vec![ExcludeTarget {
            id: "g-contractors".into(),
        }];
        p
    }

    fn key(aaguid: &str, passkey_type: PasskeyType, attested: bool) -> PasskeyCandidate<'_> {
        PasskeyCandidate {
            aaguid,
            passkey_type,
            attested,
        }
    }

    fn groups(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn any_one_profile_in_scope_accepts() {
        let p = policy();
        let admin = groups(&["g-admins"]);
        let s = Subject { groups: &admin };
        // An admin is in scope of both the default profile (all users) and "admins".
        let d = evaluate_passkey(&p, s, key(ICLOUD, Synced, false), Stage::SignIn);
        assert_eq!(d.outcome.map(|p| p.id.as_str()), Ok(DEFAULT_PROFILE));
        assert_eq!(d.profiles.len(), 2);
        assert_eq!(d.profiles[1].refused, Some(ProfileRule::PasskeyType));
        assert!(matches!(
            d.scope,
            Scope::Included {
                registration_required: true,
                ..
            }
        ));
    }

    #[test]
    fn each_profile_rule_refuses_with_its_reason() {
        let mut p = policy();
        // Only the "admins" profile for admins.
        p.fido2.include_targets.remove(0);
        let admin = groups(&["g-admins"]);
        let s = Subject { groups: &admin };
        let outcome = |c, stage| {
            evaluate_passkey(&p, s, c, stage)
                .outcome
                .map(|p| p.id.clone())
        };
        assert_eq!(
            outcome(key(YUBIKEY, DeviceBound, true), Stage::Registration),
            Ok("admins".into())
        );
        assert_eq!(
            outcome(key(YUBIKEY, Synced, true), Stage::SignIn),
            Err(PasskeyPolicyRefusal::Profile(ProfileRule::PasskeyType))
        );
        assert_eq!(
            outcome(key(YUBIKEY, DeviceBound, false), Stage::Registration),
            Err(PasskeyPolicyRefusal::Profile(ProfileRule::Attestation))
        );
        // Attestation is a registration rule: an unattested passkey registered earlier signs in.
        assert_eq!(
            outcome(key(YUBIKEY, DeviceBound, false), Stage::SignIn),
            Ok("admins".into())
        );
        assert_eq!(
            outcome(key(ICLOUD, DeviceBound, true), Stage::SignIn),
            Err(PasskeyPolicyRefusal::Profile(ProfileRule::KeyNotAllowed))
        );
        let mut blocking = p.clone();
        let k = &mut blocking.fido2.passkey_profiles[1].key_restrictions;
        k.enforcement_type = EnforcementType::Block;
        let blocked =
            evaluate_passkey(&blocking, s, key(YUBIKEY, DeviceBound, true), Stage::SignIn);
        assert_eq!(
            blocked.outcome,
            Err(PasskeyPolicyRefusal::Profile(ProfileRule::KeyBlocked))
        );
        let other = evaluate_passkey(&blocking, s, key(ICLOUD, DeviceBound, true), Stage::SignIn);
        assert!(other.outcome.is_ok());
    }

    #[test]
    fn exclusion_beats_every_include() {
        let p = policy();
        let both = groups(&["g-admins", "g-contractors"]);
        let s = Subject { groups: &both };
        let d = evaluate_passkey(&p, s, key(YUBIKEY, DeviceBound, true), Stage::SignIn);
        assert_eq!(d.outcome, Err(PasskeyPolicyRefusal::Excluded));
        assert_eq!(
            d.scope,
            Scope::Excluded {
                group: "g-contractors"
            }
        );
        assert_eq!(
            may_register_passkey(&p, s, true),
            Err(PasskeyPolicyRefusal::Excluded)
        );
    }

    #[test]
    fn outside_every_target_or_disabled_nothing_is_accepted() {
        let mut p = policy();
        p.fido2.include_targets.remove(0);
        let none = groups(&["g-other"]);
        let s = Subject { groups: &none };
        let c = key(YUBIKEY, DeviceBound, true);
        assert_eq!(
            evaluate_passkey(&p, s, c, Stage::SignIn).outcome,
            Err(PasskeyPolicyRefusal::NotIncluded)
        );
        p.fido2.state = MethodState::Disabled;
        assert_eq!(
            evaluate_passkey(&p, s, c, Stage::SignIn).outcome,
            Err(PasskeyPolicyRefusal::MethodDisabled)
        );
    }

    #[test]
    fn self_service_registration_can_be_turned_off_but_not_for_onboarding() {
        let mut p = MethodsPolicy::default();
        let s = Subject { groups: &[] };
        assert_eq!(may_register_passkey(&p, s, false), Ok(()));
        p.fido2.is_self_service_registration_allowed = false;
        assert_eq!(
            may_register_passkey(&p, s, false),
            Err(PasskeyPolicyRefusal::SelfServiceDisabled)
        );
        assert_eq!(may_register_passkey(&p, s, true), Ok(()));
    }

    #[test]
    fn other_methods_scope_by_targets() {
        let mut p = MethodsPolicy::default();
        let s = Subject { groups: &[] };
        assert_eq!(method_scope(&p, MethodId::Sms, s), Scope::Disabled);
        p.sms.state = MethodState::Enabled;
        assert_eq!(
            method_scope(&p, MethodId::Sms, s),
            Scope::Included {
                registration_required: false,
                profiles: vec![]
            }
        );
    }
}
