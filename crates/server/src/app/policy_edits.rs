//! One change at a time to the authentication-methods policy — a method's state and
//! targets, a passkey profile added, changed or removed — for administrators who do not
//! edit the whole document. Each builds the next document with `keyfort_core::policy`'s
//! edits and stores it through [`super::policy::apply`], so it is validated whole,
//! conditional on the version it was made from, and audited alike.

use super::policy::{AppliedDto, apply, load};
use super::{AppError, Result};
use keyfort_core::directory::validate_group_name;
use keyfort_core::passkey::PasskeyType;
use keyfort_core::policy::{
    ALL_USERS, AttestationEnforcement, EnforcementType, ExcludeTarget, IncludeTarget,
    KeyRestrictions, MethodEdit, MethodId, MethodState, PolicyProblem, PolicyRefusal,
    ProfileChange, ProfileEdit, change_method, change_profile, normalize_aaguid,
};
use keyfort_core::providers::Providers;
use keyfort_store::Store;

/// Which models a profile accepts, as an administrator writes it: provider names (from
/// the catalogue) and AAGUIDs, on an allow or a block list — or any model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRule {
    AnyModel,
    Allow {
        providers: Vec<String>,
        aaguids: Vec<String>,
    },
    Block {
        providers: Vec<String>,
        aaguids: Vec<String>,
    },
}

/// The key restriction a rule stands for: every provider name resolved to all the
/// AAGUIDs it names, every AAGUID normalised, duplicates dropped, in the order written.
pub fn key_restrictions(rule: &KeyRule, catalogue: &Providers) -> Result<KeyRestrictions> {
    let (enforcement_type, providers, aaguids) = match rule {
        KeyRule::AnyModel => {
            return Ok(KeyRestrictions {
                is_enforced: false,
                enforcement_type: EnforcementType::Allow,
                aa_guids: Vec::new(),
            });
        }
        KeyRule::Allow { providers, aaguids } => (EnforcementType::Allow, providers, aaguids),
        KeyRule::Block { providers, aaguids } => (EnforcementType::Block, providers, aaguids),
    };
    let mut aa_guids: Vec<String> = Vec::new();
    let mut push = |a: &str| {
        if !aa_guids.iter().any(|x| x == a) {
            aa_guids.push(a.to_string());
        }
    };
    for name in providers {
        for a in catalogue.resolve(name)? {
            push(a);
        }
    }
    for (i, raw) in aaguids.iter().enumerate() {
        let a = normalize_aaguid(raw).ok_or_else(|| {
            AppError::Policy(PolicyRefusal {
                field: format!("aaguids[{i}]"),
                problem: PolicyProblem::InvalidAaguid,
            })
        })?;
        push(&a);
    }
    Ok(KeyRestrictions {
        is_enforced: true,
        enforcement_type,
        aa_guids,
    })
}

/// A profile change as an administrator writes it (names, not AAGUIDs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileInput {
    pub name: Option<String>,
    pub passkey_types: Option<Vec<PasskeyType>>,
    pub attestation_enforcement: Option<AttestationEnforcement>,
    pub keys: Option<KeyRule>,
}

impl ProfileInput {
    fn edit(self, catalogue: &Providers) -> Result<ProfileEdit> {
        Ok(ProfileEdit {
            name: self.name,
            passkey_types: self.passkey_types,
            attestation_enforcement: self.attestation_enforcement,
            key_restrictions: match &self.keys {
                Some(rule) => Some(key_restrictions(rule, catalogue)?),
                None => None,
            },
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileAction {
    Add,
    Set,
    Remove,
}

/// Adds, changes or removes one passkey profile (`input` is ignored for a removal).
#[allow(clippy::too_many_arguments)]
pub async fn change_passkey_profile(
    store: &Store,
    catalogue: &Providers,
    action: ProfileAction,
    id: &str,
    input: ProfileInput,
    dry_run: bool,
    actor: &str,
    now: i64,
) -> Result<AppliedDto> {
    let current = load(store).await?;
    let id = id.trim().to_string();
    let change = match action {
        ProfileAction::Add => ProfileChange::Add {
            id,
            edit: input.edit(catalogue)?,
        },
        ProfileAction::Set => ProfileChange::Set {
            id,
            edit: input.edit(catalogue)?,
        },
        ProfileAction::Remove => ProfileChange::Remove { id },
    };
    let next = change_profile(&current.policy, change).map_err(AppError::Policy)?;
    apply(store, next, Some(current.version), dry_run, actor, now).await
}

/// A method change as an administrator writes it: groups by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MethodInput {
    pub state: Option<MethodState>,
    /// Replaces the include targets: every user, or these groups.
    pub include: Option<Vec<String>>,
    pub include_all_users: bool,
    /// With `include`: users in these targets are asked to register the method.
    pub registration_required: bool,
    /// With `include`, passkeys only: the profiles that apply to these targets.
    pub profiles: Vec<String>,
    /// Replaces the exclude targets (an empty list clears them).
    pub exclude: Option<Vec<String>>,
}

async fn group_id(store: &Store, raw: &str) -> Result<String> {
    let name = validate_group_name(raw)?;
    Ok(store
        .group_by_name(&name)
        .await?
        .ok_or(AppError::NotFound("group"))?
        .id)
}

/// Changes one method's state and targets.
pub async fn change_method_targets(
    store: &Store,
    method: MethodId,
    input: MethodInput,
    dry_run: bool,
    actor: &str,
    now: i64,
) -> Result<AppliedDto> {
    let current = load(store).await?;
    let target = |id: String| IncludeTarget {
        id,
        is_registration_required: input.registration_required,
        allowed_passkey_profiles: input.profiles.clone(),
    };
    let include_targets = match (&input.include, input.include_all_users) {
        (_, true) => Some(vec![target(ALL_USERS.to_string())]),
        (Some(groups), false) => {
            let mut targets = Vec::with_capacity(groups.len());
            for g in groups {
                targets.push(target(group_id(store, g).await?));
            }
            Some(targets)
        }
        (None, false) => None,
    };
    let exclude_targets = match &input.exclude {
        Some(groups) => {
            let mut targets = Vec::with_capacity(groups.len());
            for g in groups {
                targets.push(ExcludeTarget {
                    id: group_id(store, g).await?,
                });
            }
            Some(targets)
        }
        None => None,
    };
    let edit = MethodEdit {
        state: input.state,
        include_targets,
        exclude_targets,
    };
    let next = change_method(&current.policy, method, edit);
    apply(store, next, Some(current.version), dry_run, actor, now).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyfort_core::providers::ProviderSource;

    const HELLO_A: &str = "08987058-cadc-4b81-b6e1-30de50dcbe96";
    const HELLO_B: &str = "9ddd1817-af5a-4672-a2b9-3e3dd95000a9";

    fn catalogue() -> Providers {
        let mut p = Providers::default();
        p.add(
            ProviderSource::Community,
            [(HELLO_A, "Windows Hello"), (HELLO_B, "Windows Hello")],
        );
        p
    }

    #[test]
    fn provider_names_are_stored_as_the_aaguids_they_resolve_to() {
        let rule = KeyRule::Allow {
            providers: vec!["windows hello".into()],
            aaguids: vec!["08987058CADC4B81B6E130DE50DCBE96".into()],
        };
        let k = key_restrictions(&rule, &catalogue()).unwrap();
        assert!(k.is_enforced);
        assert_eq!(k.enforcement_type, EnforcementType::Allow);
        assert_eq!(k.aa_guids, [HELLO_A, HELLO_B], "resolved, normalised, once");
        let any = key_restrictions(&KeyRule::AnyModel, &catalogue()).unwrap();
        assert!(!any.is_enforced);
    }

    #[test]
    fn an_unknown_name_or_a_bad_aaguid_is_refused() {
        let unknown = KeyRule::Block {
            providers: vec!["Windows".into()],
            aaguids: vec![],
        };
        let e = key_restrictions(&unknown, &catalogue()).unwrap_err();
        assert_eq!(e.code(), "unknown_provider");
        assert!(e.to_string().contains("did you mean: Windows Hello"), "{e}");
        let bad = KeyRule::Allow {
            providers: vec![],
            aaguids: vec!["yubikey".into()],
        };
        assert_eq!(
            key_restrictions(&bad, &catalogue()).unwrap_err().code(),
            "invalid_aaguid"
        );
    }
}
