//! The authentication-methods policy: show it, apply a whole document (or a dry run of
//! one), and explain it for a user and a passkey. The rules are `keyfort_core::policy`'s;
//! this module parses, validates against the directory, stores (conditional on the
//! version the change was made from) and audits.

use super::{AppError, Result};
use keyfort_core::passkey::PasskeyType;
use keyfort_core::policy::{
    MethodId, MethodsPolicy, PasskeyCandidate, PasskeyDecision, PolicyProblem, PolicyRefusal,
    Scope, Stage, Subject, evaluate_passkey, method_scope, normalize_aaguid, validate_policy,
};
use keyfort_store::{AuditEvent, PolicyWrite, Store};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// The row the authentication-methods policy is stored under.
pub const METHODS: &str = "methods";
/// The largest policy document taken, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// The policy as of one version: what every sign-in reads (never the database).
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// 0: nothing stored yet (a fresh installation's default policy).
    pub version: i64,
    pub policy: MethodsPolicy,
    /// Whether any target names a group: only then does a sign-in need the user's groups.
    pub names_groups: bool,
    /// The ids of the groups the targets name: the only memberships the policy can see.
    pub named_groups: HashSet<String>,
}

impl Snapshot {
    /// The ids of a user's groups as far as this policy needs them: read from the store
    /// only when a target names groups, none otherwise.
    pub async fn groups_of(
        &self,
        store: &Store,
        user_id: &str,
    ) -> std::result::Result<Vec<String>, keyfort_store::StoreError> {
        if !self.names_groups {
            return Ok(Vec::new());
        }
        store.group_ids_of_user(user_id).await
    }

    pub fn new(version: i64, policy: MethodsPolicy) -> Snapshot {
        let named_groups: HashSet<String> = policy.groups().map(str::to_string).collect();
        Snapshot {
            version,
            names_groups: !named_groups.is_empty(),
            named_groups,
            policy,
        }
    }
}

/// Reads the stored policy (the default one when none is stored).
pub async fn load(store: &Store) -> Result<Snapshot> {
    match store.policy(METHODS).await? {
        None => Ok(Snapshot::new(0, MethodsPolicy::default())),
        Some(stored) => {
            let policy: MethodsPolicy = serde_json::from_str(&stored.document).map_err(|e| {
                AppError::Internal(format!("the stored policy cannot be read: {e}"))
            })?;
            Ok(Snapshot::new(stored.version, policy))
        }
    }
}

/// The groups a policy names, for people: id → name.
async fn group_names(store: &Store) -> Result<HashMap<String, String>> {
    Ok(store
        .all_groups()
        .await?
        .into_iter()
        .map(|g| (g.id, g.name))
        .collect())
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyDto {
    pub version: i64,
    pub policy: MethodsPolicy,
    /// The name of every group the policy names, by id.
    pub group_names: HashMap<String, String>,
    /// The provider name of every AAGUID a key restriction names, when known.
    pub provider_names: HashMap<String, String>,
}

/// `catalogue` names the AAGUIDs key restrictions hold.
pub async fn show(
    store: &Store,
    catalogue: &keyfort_core::providers::Providers,
) -> Result<PolicyDto> {
    let snapshot = load(store).await?;
    let names = group_names(store).await?;
    let group_names = snapshot
        .policy
        .groups()
        .filter_map(|id| Some((id.to_string(), names.get(id)?.clone())))
        .collect();
    let provider_names = snapshot
        .policy
        .fido2
        .passkey_profiles
        .iter()
        .flat_map(|p| &p.key_restrictions.aa_guids)
        .filter_map(|a| Some((a.clone(), catalogue.name(a)?.to_string())))
        .collect();
    Ok(PolicyDto {
        version: snapshot.version,
        policy: snapshot.policy,
        group_names,
        provider_names,
    })
}

/// Reads a policy document: JSON of the document's shape, each AAGUID in any accepted
/// spelling (normalised here to the stored one). A document of the wrong shape is refused
/// with the path of the field serde stopped at.
pub fn parse_document(text: &str) -> Result<MethodsPolicy> {
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(AppError::PolicyDocument(format!(
            "the document is larger than {MAX_DOCUMENT_BYTES} bytes"
        )));
    }
    let mut policy: MethodsPolicy = read_json(text)?;
    normalize_aaguids(&mut policy, "")?;
    Ok(policy)
}

/// A change of the policy as the admin API takes it: the version it was made from, and
/// the whole new document.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyChange {
    /// The version this change was made from (409 when the stored one moved on).
    pub version: i64,
    pub policy: MethodsPolicy,
}

/// Reads a [`PolicyChange`], as [`parse_document`] reads a document.
pub fn parse_change(text: &str) -> Result<PolicyChange> {
    if text.len() > MAX_DOCUMENT_BYTES + 64 {
        return Err(AppError::PolicyDocument(format!(
            "the document is larger than {MAX_DOCUMENT_BYTES} bytes"
        )));
    }
    let mut change: PolicyChange = read_json(text)?;
    normalize_aaguids(&mut change.policy, "policy.")?;
    Ok(change)
}

fn read_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        AppError::PolicyDocument(format!("{path}: {}", e.inner()))
    })
}

/// Each AAGUID in the stored spelling; `prefix` is the document's path in the request.
fn normalize_aaguids(policy: &mut MethodsPolicy, prefix: &str) -> Result<()> {
    for (i, profile) in policy.fido2.passkey_profiles.iter_mut().enumerate() {
        for (j, a) in profile.key_restrictions.aa_guids.iter_mut().enumerate() {
            *a = normalize_aaguid(a).ok_or_else(|| {
                AppError::Policy(PolicyRefusal {
                    field: format!(
                        "{prefix}fido2.passkeyProfiles[{i}].keyRestrictions.aaGuids[{j}]"
                    ),
                    problem: PolicyProblem::InvalidAaguid,
                })
            })?;
        }
    }
    Ok(())
}

/// What applying a document did (or, in a dry run, would do).
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppliedDto {
    /// The version stored (a dry run: the version it was checked against).
    pub version: i64,
    pub dry_run: bool,
    /// Each field that differs, as `path: before → after`.
    pub changes: Vec<String>,
}

/// Validates `policy` whole and, unless `dry_run`, stores it as the next version —
/// provided the stored policy is still at `if_version` when given (409 otherwise), and
/// audited with before and after in the same commit. Nothing is stored when any part is
/// refused.
pub async fn apply(
    store: &Store,
    policy: MethodsPolicy,
    if_version: Option<i64>,
    dry_run: bool,
    actor: &str,
    now: i64,
) -> Result<AppliedDto> {
    let current = load(store).await?;
    if let Some(v) = if_version
        && v != current.version
    {
        return Err(AppError::Stale {
            current: current.version,
        });
    }
    let groups = group_names(store).await?;
    validate_policy(&policy, |id| groups.contains_key(id)).map_err(AppError::Policy)?;
    let before = serde_json::to_value(&current.policy).map_err(internal)?;
    let after = serde_json::to_value(&policy).map_err(internal)?;
    let mut changes = Vec::new();
    diff("", &before, &after, &mut changes);
    if dry_run || changes.is_empty() {
        return Ok(AppliedDto {
            version: current.version,
            dry_run,
            changes,
        });
    }
    let document = after.to_string();
    let ev = AuditEvent::new(now, actor, "policy.updated", METHODS)
        .before(serde_json::json!({ "version": current.version, "document": before }))
        .after(serde_json::json!({ "document": after }));
    match store
        .put_policy(METHODS, current.version, &document, ev, now)
        .await?
    {
        PolicyWrite::Stored { version } => Ok(AppliedDto {
            version,
            dry_run,
            changes,
        }),
        PolicyWrite::Stale { current } => Err(AppError::Stale { current }),
    }
}

fn internal(e: serde_json::Error) -> AppError {
    AppError::Internal(e.to_string())
}

/// Every leaf that differs between two JSON values, as `path: before → after`.
fn diff(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                diff(
                    &p,
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        _ if a == b => {}
        _ => out.push(format!("{path}: {a} → {b}")),
    }
}

/// A passkey to explain the policy for: one the user registered, or a hypothetical one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hypothesis {
    pub aaguid: String,
    pub passkey_type: PasskeyType,
    pub attested: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfileVerdictDto {
    pub profile_id: String,
    pub profile_name: String,
    pub accepted: bool,
    /// The rule it breaks (`passkey_type_not_allowed`, …), when refused.
    pub reason: Option<&'static str>,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyVerdictDto {
    /// The registered passkey's name; absent for a hypothetical one.
    pub display_name: Option<String>,
    pub aaguid: String,
    /// The product the AAGUID is, when known.
    pub provider_name: Option<String>,
    pub passkey_type: PasskeyType,
    pub attested: bool,
    /// At registration and at sign-in (attestation is a registration rule only).
    pub registration_accepted: bool,
    pub sign_in_accepted: bool,
    /// Why the policy refuses it at sign-in, when it does.
    pub sign_in_reason: Option<&'static str>,
    pub profiles: Vec<ProfileVerdictDto>,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MethodScopeDto {
    pub method: &'static str,
    /// `enabled`, `disabled`, `excluded` or `notIncluded`.
    pub scope: &'static str,
    pub is_registration_required: bool,
    /// The excluded group it is excluded by.
    pub excluded_by: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExplanationDto {
    pub username: String,
    pub policy_version: i64,
    pub groups: Vec<String>,
    pub methods: Vec<MethodScopeDto>,
    /// Profiles in the user's passkey scope.
    pub passkey_profiles: Vec<String>,
    pub passkeys: Vec<PasskeyVerdictDto>,
}

fn verdict(
    catalogue: &keyfort_core::providers::Providers,
    display_name: Option<String>,
    c: PasskeyCandidate<'_>,
    registration: &PasskeyDecision<'_>,
    sign_in: &PasskeyDecision<'_>,
) -> PasskeyVerdictDto {
    PasskeyVerdictDto {
        display_name,
        aaguid: c.aaguid.to_string(),
        provider_name: catalogue.name(c.aaguid).map(str::to_string),
        passkey_type: c.passkey_type,
        attested: c.attested,
        registration_accepted: registration.outcome.is_ok(),
        sign_in_accepted: sign_in.outcome.is_ok(),
        sign_in_reason: sign_in.outcome.err().map(|r| r.code()),
        profiles: registration
            .profiles
            .iter()
            .zip(&sign_in.profiles)
            .map(|(r, s)| ProfileVerdictDto {
                profile_id: r.profile.id.clone(),
                profile_name: r.profile.name.clone(),
                accepted: r.refused.is_none() && s.refused.is_none(),
                reason: r.refused.or(s.refused).map(|x| x.code()),
            })
            .collect(),
    }
}

/// Hypothetical passkeys of a provider: one per AAGUID its name stands for.
pub fn provider_hypotheses(
    catalogue: &keyfort_core::providers::Providers,
    name: &str,
    passkey_type: PasskeyType,
    attested: bool,
) -> Result<Vec<Hypothesis>> {
    Ok(catalogue
        .resolve(name)?
        .iter()
        .map(|aaguid| Hypothesis {
            aaguid: aaguid.clone(),
            passkey_type,
            attested,
        })
        .collect())
}

/// The policy's answer for a user: which methods apply to them, which passkey profiles
/// are in their scope, and for each of their passkeys (or each hypothetical one) which
/// profiles accept it and the reason each other one refuses.
pub async fn explain(
    store: &Store,
    catalogue: &keyfort_core::providers::Providers,
    raw_username: &str,
    hypotheses: Vec<Hypothesis>,
) -> Result<ExplanationDto> {
    let snapshot = load(store).await?;
    let user = super::directory::find_user(store, raw_username).await?;
    let groups = store.group_ids_of_user(&user.id).await?;
    let names = group_names(store).await?;
    let subject = Subject { groups: &groups };
    let p = &snapshot.policy;
    let methods = MethodId::ALL
        .into_iter()
        .map(|m| {
            let (scope, required, excluded_by) = match method_scope(p, m, subject) {
                Scope::Disabled => ("disabled", false, None),
                Scope::Excluded { group } => (
                    "excluded",
                    false,
                    Some(names.get(group).cloned().unwrap_or_else(|| group.into())),
                ),
                Scope::NotIncluded => ("notIncluded", false, None),
                Scope::Included {
                    registration_required,
                    ..
                } => ("enabled", registration_required, None),
            };
            MethodScopeDto {
                method: m.as_str(),
                scope,
                is_registration_required: required,
                excluded_by,
            }
        })
        .collect();
    let passkey_profiles = match method_scope(p, MethodId::Passkey, subject) {
        Scope::Included { profiles, .. } => profiles.iter().map(|x| x.id.clone()).collect(),
        _ => Vec::new(),
    };
    let judge = |name: Option<String>, c: PasskeyCandidate<'_>| {
        verdict(
            catalogue,
            name,
            c,
            &evaluate_passkey(p, subject, c, Stage::Registration),
            &evaluate_passkey(p, subject, c, Stage::SignIn),
        )
    };
    let passkeys = if !hypotheses.is_empty() {
        hypotheses
            .iter()
            .map(|h| {
                judge(
                    None,
                    PasskeyCandidate {
                        aaguid: &h.aaguid,
                        passkey_type: h.passkey_type,
                        attested: h.attested,
                    },
                )
            })
            .collect()
    } else {
        store
            .passkeys_of_user(&user.id)
            .await?
            .iter()
            .map(|k| {
                judge(
                    Some(k.display_name.clone()),
                    PasskeyCandidate {
                        aaguid: &k.aaguid,
                        passkey_type: k.passkey_type,
                        attested: k.attested,
                    },
                )
            })
            .collect()
    };
    let mut group_list: Vec<String> = groups
        .iter()
        .map(|g| names.get(g).cloned().unwrap_or_else(|| g.clone()))
        .collect();
    group_list.sort();
    Ok(ExplanationDto {
        username: user.username,
        policy_version: snapshot.version,
        groups: group_list,
        methods,
        passkey_profiles,
        passkeys,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misshapen_document_names_the_field() {
        let mut doc = serde_json::to_value(MethodsPolicy::default()).unwrap();
        doc["fido2"]["passkeyProfiles"][0]["passkeyTypes"] = serde_json::json!(["cloud"]);
        let e = parse_document(&doc.to_string()).unwrap_err();
        assert!(
            e.to_string()
                .contains("fido2.passkeyProfiles[0].passkeyTypes[0]"),
            "{e}"
        );
        let mut doc = serde_json::to_value(MethodsPolicy::default()).unwrap();
        doc["sms"]["colour"] = "blue".into();
        let e = parse_document(&doc.to_string()).unwrap_err();
        assert!(e.to_string().contains("colour"), "{e}");
        let big = " ".repeat(MAX_DOCUMENT_BYTES + 1);
        assert!(matches!(
            parse_document(&big),
            Err(AppError::PolicyDocument(_))
        ));
    }

    #[test]
    fn aaguids_are_read_in_any_spelling() {
        let mut doc = serde_json::to_value(MethodsPolicy::default()).unwrap();
        doc["fido2"]["passkeyProfiles"][0]["keyRestrictions"]["aaGuids"] =
            serde_json::json!(["CB69481E8FF7403993EC0A2729A154A8"]);
        let p = parse_document(&doc.to_string()).unwrap();
        assert_eq!(
            p.fido2.passkey_profiles[0].key_restrictions.aa_guids,
            vec!["cb69481e-8ff7-4039-93ec-0a2729a154a8".to_string()]
        );
        doc["fido2"]["passkeyProfiles"][0]["keyRestrictions"]["aaGuids"] =
            serde_json::json!(["yubikey"]);
        let e = parse_document(&doc.to_string()).unwrap_err();
        assert!(matches!(e, AppError::Policy(r) if r.problem == PolicyProblem::InvalidAaguid));
    }

    #[test]
    fn the_difference_lists_each_changed_leaf() {
        let a = serde_json::json!({ "x": { "y": 1, "z": [1] }, "w": true });
        let b = serde_json::json!({ "x": { "y": 2, "z": [1] }, "w": true, "v": 3 });
        let mut out = Vec::new();
        diff("", &a, &b, &mut out);
        assert_eq!(
            out,
            vec!["v: null → 3".to_string(), "x.y: 1 → 2".to_string()]
        );
    }
}
