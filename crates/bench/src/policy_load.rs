//! A directory and policy of the size the policy's performance budget names: `groups`
//! groups, each signing-in user a member of 50 of them, and a policy of 3 passkey
//! profiles and 20 include targets (plus an exclusion), so that every sign-in loads the
//! user's groups and evaluates every profile in scope. The bench's passkeys are synced
//! with AAGUID 4242…: the first two profiles refuse them and the third accepts them.

use anyhow::{Context, Result, anyhow};
use keyfort_core::passkey::PasskeyType;
use keyfort_core::policy::{
    ALL_USERS, AttestationEnforcement, EnforcementType, ExcludeTarget, IncludeTarget,
    KeyRestrictions, MethodsPolicy, PasskeyProfile,
};
use keyfort_server::app;
use keyfort_store::Store;

/// Groups each signing-in user is a member of.
pub const MEMBERSHIPS: usize = 50;
/// Include targets in the policy.
pub const TARGETS: usize = 20;

const YUBIKEY: &str = "cb69481e-8ff7-4039-93ec-0a2729a154a8";
const BLOCKED: &str = "00000000-0000-0000-0000-000000000001";

fn group_name(i: usize) -> String {
    format!("bench-group-{i:05}")
}

/// Creates the groups, the memberships and the policy. `users` are the usernames that
/// sign in during the run. With `name_groups` false the policy's targets are all users
/// only (the same directory, but no sign-in reads memberships): the control that tells
/// the cost of the membership read from the cost of the larger database.
pub async fn provision(
    store: &Store,
    users: &[String],
    groups: usize,
    name_groups: bool,
) -> Result<()> {
    if groups < TARGETS + 1 {
        return Err(anyhow!(
            "--policy-groups needs at least {} groups",
            TARGETS + 1
        ));
    }
    let now = keyfort_server::state::now_ms();
    let mut ids = Vec::with_capacity(groups);
    for chunk in (0..groups).collect::<Vec<_>>().chunks(256) {
        let mut set = tokio::task::JoinSet::new();
        for &i in chunk {
            let store = store.clone();
            set.spawn(async move {
                app::directory::add_group(&store, &group_name(i), "bench", now).await
            });
        }
        while let Some(g) = set.join_next().await {
            ids.push(g?.map_err(|e| anyhow!("{e}"))?);
        }
    }
    ids.sort_by(|a, b| a.name.cmp(&b.name));
    // User u is in group 0 (everyone: the target of the accepting profile) and in 49
    // more spread over the directory.
    let mut memberships = Vec::with_capacity(users.len() * MEMBERSHIPS);
    for (u, name) in users.iter().enumerate() {
        memberships.push((group_name(0), name.clone()));
        for k in 1..MEMBERSHIPS {
            let g = 1 + (u * 7919 + k * 104_729) % (groups - 1);
            memberships.push((group_name(g), name.clone()));
        }
    }
    memberships.sort();
    memberships.dedup();
    for chunk in memberships.chunks(512) {
        let mut set = tokio::task::JoinSet::new();
        for (g, u) in chunk {
            let (store, g, u) = (store.clone(), g.clone(), u.clone());
            set.spawn(
                async move { app::directory::add_member(&store, &g, &u, "bench", now).await },
            );
        }
        while let Some(r) = set.join_next().await {
            r?.map_err(|e| anyhow!("{e}"))?;
        }
    }
    // A group nobody signing in is a member of.
    let nobody = app::directory::add_group(store, "bench-contractors", "bench", now)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let ids: Vec<String> = ids.into_iter().map(|g| g.id).collect();
    let mut p = policy(&ids, nobody.id);
    if !name_groups {
        p.fido2.include_targets = vec![IncludeTarget {
            id: ALL_USERS.into(),
            is_registration_required: false,
            allowed_passkey_profiles: vec!["default".into(), "admins".into(), "staff".into()],
        }];
        p.fido2.exclude_targets.clear();
    }
    app::policy::apply(store, p, None, false, "bench", now)
        .await
        .map_err(|e| anyhow!("{e}"))
        .context("applying the bench policy")?;
    Ok(())
}

/// The bench policy over groups `ids` (`ids[0]`: everyone's), excluding group `nobody`.
pub fn policy(ids: &[String], nobody: String) -> MethodsPolicy {
    let id = |i: usize| ids[i].clone();
    let mut p = MethodsPolicy::default();
    p.fido2.passkey_profiles = vec![
        PasskeyProfile {
            passkey_types: vec![PasskeyType::DeviceBound],
            ..PasskeyProfile::default_profile()
        },
        PasskeyProfile {
            id: "admins".into(),
            name: "Administrators".into(),
            passkey_types: vec![PasskeyType::DeviceBound],
            attestation_enforcement: AttestationEnforcement::RegistrationOnly,
            key_restrictions: KeyRestrictions {
                is_enforced: true,
                enforcement_type: EnforcementType::Allow,
                aa_guids: vec![YUBIKEY.into()],
            },
        },
        PasskeyProfile {
            id: "staff".into(),
            name: "Staff".into(),
            passkey_types: vec![PasskeyType::DeviceBound, PasskeyType::Synced],
            attestation_enforcement: AttestationEnforcement::Disabled,
            key_restrictions: KeyRestrictions {
                is_enforced: true,
                enforcement_type: EnforcementType::Block,
                aa_guids: vec![BLOCKED.into()],
            },
        },
    ];
    let mut include = vec![IncludeTarget {
        id: ALL_USERS.into(),
        is_registration_required: false,
        allowed_passkey_profiles: vec!["default".into()],
    }];
    for i in 1..TARGETS - 1 {
        include.push(IncludeTarget {
            id: id(i),
            is_registration_required: true,
            allowed_passkey_profiles: vec!["admins".into()],
        });
    }
    include.push(IncludeTarget {
        id: id(0),
        is_registration_required: false,
        allowed_passkey_profiles: vec!["staff".into()],
    });
    p.fido2.include_targets = include;
    p.fido2.exclude_targets = vec![ExcludeTarget { id: nobody }];
    p
}

/// Times the evaluator on the bench policy for a user in 50 groups (the bench's synced
/// passkey: two profiles refuse it, the third accepts it). Returns the median and the
/// 99th percentile, in nanoseconds per evaluation.
pub fn measure_evaluator(evaluations: usize) -> Result<(f64, f64)> {
    use keyfort_core::policy::{PasskeyCandidate, Stage, Subject, evaluate_passkey};
    let ids: Vec<String> = (0..5_000).map(uuid_like).collect();
    let p = policy(&ids, uuid_like(9_999));
    let groups: Vec<String> = std::iter::once(ids[0].clone())
        .chain((1..MEMBERSHIPS).map(|k| ids[1 + (k * 104_729) % 4_999].clone()))
        .collect();
    let subject = Subject { groups: &groups };
    let candidate = PasskeyCandidate {
        aaguid: "42424242-4242-4242-4242-424242424242",
        passkey_type: PasskeyType::Synced,
        attested: false,
    };
    // Batches of 100, timed each: one evaluation is below the clock's resolution.
    let mut per = Vec::with_capacity(evaluations / 100 + 1);
    for _ in 0..(evaluations / 100).max(1) {
        let t = std::time::Instant::now();
        for _ in 0..100 {
            let d = evaluate_passkey(&p, subject, candidate, Stage::SignIn);
            if std::hint::black_box(&d).outcome.is_err() {
                return Err(anyhow!("the bench policy refused the bench passkey"));
            }
        }
        per.push(t.elapsed().as_nanos() as f64 / 100.0);
    }
    per.sort_by(f64::total_cmp);
    let at = |q: f64| per[((per.len() - 1) as f64 * q) as usize];
    Ok((at(0.5), at(0.99)))
}

fn uuid_like(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012}")
}

#[cfg(test)]
mod tests {
    /// The bench policy accepts the bench's passkeys (the third profile), so a run with
    /// `--policy-groups` measures sign-ins, not refusals.
    #[test]
    fn the_bench_policy_accepts_the_bench_passkey() {
        let (median, p99) = super::measure_evaluator(200).unwrap();
        assert!(median > 0.0 && p99 >= median);
    }
}
