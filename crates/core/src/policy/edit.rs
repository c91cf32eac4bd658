//! Changes an administrator makes one at a time (`keyfort policy set`, `policy profile
//! add|set|remove`), as pure edits of a document: each returns the whole next document,
//! which is then validated and stored like any other.

use super::document::*;
use super::validate::{PolicyProblem, PolicyRefusal, may_remove_profile};
use crate::passkey::PasskeyType;

/// What a profile edit changes; `None` leaves a field as it is (or, for a new profile,
/// at its default: both passkey types, attestation disabled, any model).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileEdit {
    pub name: Option<String>,
    pub passkey_types: Option<Vec<PasskeyType>>,
    pub attestation_enforcement: Option<AttestationEnforcement>,
    pub key_restrictions: Option<KeyRestrictions>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileChange {
    Add { id: String, edit: ProfileEdit },
    Set { id: String, edit: ProfileEdit },
    Remove { id: String },
}

fn refusal(id: &str, problem: PolicyProblem) -> PolicyRefusal {
    PolicyRefusal {
        field: format!("fido2.passkeyProfiles.{id}"),
        problem,
    }
}

fn apply_edit(profile: &mut PasskeyProfile, edit: ProfileEdit) {
    if let Some(name) = edit.name {
        profile.name = name;
    }
    if let Some(types) = edit.passkey_types {
        profile.passkey_types = types;
    }
    if let Some(a) = edit.attestation_enforcement {
        profile.attestation_enforcement = a;
    }
    if let Some(k) = edit.key_restrictions {
        profile.key_restrictions = k;
    }
}

/// The policy with one profile added, changed or removed. Adding an id that exists,
/// changing one that does not, and removing the default profile or one a target names
/// are refused; everything else is left to [`super::validate_policy`].
pub fn change_profile(
    policy: &MethodsPolicy,
    change: ProfileChange,
) -> Result<MethodsPolicy, PolicyRefusal> {
    let mut next = policy.clone();
    let profiles = &mut next.fido2.passkey_profiles;
    match change {
        ProfileChange::Add { id, edit } => {
            if policy.profile(&id).is_some() {
                return Err(refusal(&id, PolicyProblem::DuplicateProfile));
            }
            let mut profile = PasskeyProfile {
                name: id.clone(),
                id,
                ..PasskeyProfile::default_profile()
            };
            apply_edit(&mut profile, edit);
            profiles.push(profile);
        }
        ProfileChange::Set { id, edit } => {
            let Some(profile) = profiles.iter_mut().find(|p| p.id == id) else {
                return Err(refusal(&id, PolicyProblem::UnknownProfile));
            };
            apply_edit(profile, edit);
        }
        ProfileChange::Remove { id } => {
            may_remove_profile(policy, &id)?;
            profiles.retain(|p| p.id != id);
        }
    }
    Ok(next)
}

/// What a method edit changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MethodEdit {
    pub state: Option<MethodState>,
    pub include_targets: Option<Vec<IncludeTarget>>,
    pub exclude_targets: Option<Vec<ExcludeTarget>>,
}

/// The policy with one method's state or targets replaced.
pub fn change_method(policy: &MethodsPolicy, method: MethodId, edit: MethodEdit) -> MethodsPolicy {
    let mut next = policy.clone();
    let (state, include, exclude) = next.parts_mut(method);
    if let Some(s) = edit.state {
        *state = s;
    }
    if let Some(i) = edit.include_targets {
        *include = i;
    }
    if let Some(e) = edit.exclude_targets {
        *exclude = e;
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admins_profile() -> ProfileChange {
        ProfileChange::Add {
            id: "admins".into(),
            edit: ProfileEdit {
                name: Some("Administrators".into()),
                passkey_types: Some(vec![PasskeyType::DeviceBound]),
                attestation_enforcement: Some(AttestationEnforcement::RegistrationOnly),
                key_restrictions: None,
            },
        }
    }

    #[test]
    fn a_profile_is_added_changed_and_removed() {
        let p = MethodsPolicy::default();
        let added = change_profile(&p, admins_profile()).unwrap();
        let admins = added.profile("admins").unwrap();
        assert_eq!(admins.name, "Administrators");
        assert_eq!(admins.passkey_types, [PasskeyType::DeviceBound]);
        assert!(!admins.key_restrictions.is_enforced);
        assert_eq!(
            change_profile(&added, admins_profile())
                .unwrap_err()
                .problem,
            PolicyProblem::DuplicateProfile
        );
        let keys = KeyRestrictions {
            is_enforced: true,
            enforcement_type: EnforcementType::Allow,
            aa_guids: vec!["cb69481e-8ff7-4039-93ec-0a2729a154a8".into()],
        };
        let set = change_profile(
            &added,
            ProfileChange::Set {
                id: "admins".into(),
                edit: ProfileEdit {
                    key_restrictions: Some(keys.clone()),
                    ..ProfileEdit::default()
                },
            },
        )
        .unwrap();
        let admins = set.profile("admins").unwrap();
        assert_eq!(admins.key_restrictions, keys);
        assert_eq!(admins.name, "Administrators", "untouched fields stay");
        let removed = change_profile(
            &set,
            ProfileChange::Remove {
                id: "admins".into(),
            },
        )
        .unwrap();
        assert_eq!(removed, p);
    }

    #[test]
    fn unknown_default_and_used_profiles_are_refused() {
        let p = MethodsPolicy::default();
        let set_unknown = ProfileChange::Set {
            id: "nope".into(),
            edit: ProfileEdit::default(),
        };
        assert_eq!(
            change_profile(&p, set_unknown).unwrap_err().problem,
            PolicyProblem::UnknownProfile
        );
        let remove_default = ProfileChange::Remove {
            id: DEFAULT_PROFILE.into(),
        };
        assert_eq!(
            change_profile(&p, remove_default).unwrap_err().problem,
            PolicyProblem::DefaultProfileMissing
        );
        let mut used = change_profile(&p, admins_profile()).unwrap();
        used.fido2.include_targets[0].allowed_passkey_profiles = vec!["admins".into()];
        let remove_used = ProfileChange::Remove {
            id: "admins".into(),
        };
        assert_eq!(
            change_profile(&used, remove_used).unwrap_err().problem,
            PolicyProblem::ProfileInUse
        );
    }

    #[test]
    fn a_method_edit_replaces_only_what_it_names() {
        let p = MethodsPolicy::default();
        let sms = change_method(
            &p,
            MethodId::Sms,
            MethodEdit {
                state: Some(MethodState::Enabled),
                exclude_targets: Some(vec![ExcludeTarget {
                    id: "contractors".into(),
                }]),
                ..MethodEdit::default()
            },
        );
        assert_eq!(sms.sms.state, MethodState::Enabled);
        assert_eq!(sms.sms.exclude_targets[0].id, "contractors");
        assert_eq!(sms.sms.include_targets, p.sms.include_targets);
        assert_eq!(sms.password, p.password);
        let passkeys = change_method(
            &p,
            MethodId::Passkey,
            MethodEdit {
                state: Some(MethodState::Disabled),
                ..MethodEdit::default()
            },
        );
        assert_eq!(passkeys.fido2.state, MethodState::Disabled);
        assert_eq!(passkeys.fido2.passkey_profiles, p.fido2.passkey_profiles);
    }
}
