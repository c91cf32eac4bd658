//! A policy document is checked whole before it is stored: the first problem found is
//! refused with the field it is in, and nothing is stored.

use super::document::*;
use std::collections::HashSet;

/// Profiles a policy may hold (Entra caps them at 3; Keyfort needs no such cap, only a
/// bound).
pub const MAX_PROFILES: usize = 64;
/// Targets per method, and AAGUIDs per key restriction.
pub const MAX_TARGETS: usize = 256;
pub const MAX_AAGUIDS: usize = 1024;
/// Pass lifetimes, in minutes (10 minutes to 30 days).
pub const PASS_LIFETIME_MINUTES: std::ops::RangeInclusive<i64> = 10..=43_200;
/// Pass lengths, in characters.
pub const PASS_LENGTH: std::ops::RangeInclusive<i64> = 8..=48;

/// What is wrong with a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyProblem {
    /// A group id that names no group.
    UnknownGroup,
    /// `all_users` can be included, never excluded.
    AllUsersExcluded,
    DuplicateTarget,
    TooMany,
    UnknownProfile,
    /// Profiles are a passkey setting.
    ProfilesOnlyForPasskeys,
    DuplicateProfile,
    /// 1–64 characters of `a-z`, `0-9`, `-` and `_`.
    InvalidProfileId,
    /// 1–128 characters without control characters.
    InvalidName,
    DefaultProfileMissing,
    NoPasskeyTypes,
    DuplicatePasskeyType,
    /// Not an AAGUID (32 hex digits, hyphenated 8-4-4-4-12).
    InvalidAaguid,
    DuplicateAaguid,
    /// An enforced allow list with no AAGUID on it would admit no passkey.
    EmptyAllowList,
    LifetimeOutOfRange,
    /// `minimum ≤ default ≤ maximum` does not hold.
    LifetimesOutOfOrder,
    LengthOutOfRange,
    /// The default profile is removed, or a profile a target names.
    ProfileInUse,
    SnoozeOutOfRange,
}

impl PolicyProblem {
    pub fn code(self) -> &'static str {
        use PolicyProblem::*;
        match self {
            UnknownGroup => "unknown_group",
            AllUsersExcluded => "all_users_excluded",
            DuplicateTarget => "duplicate_target",
            TooMany => "too_many",
            UnknownProfile => "unknown_profile",
            ProfilesOnlyForPasskeys => "profiles_only_for_passkeys",
            DuplicateProfile => "duplicate_profile",
            InvalidProfileId => "invalid_profile_id",
            InvalidName => "invalid_name",
            DefaultProfileMissing => "default_profile_missing",
            NoPasskeyTypes => "no_passkey_types",
            DuplicatePasskeyType => "duplicate_passkey_type",
            InvalidAaguid => "invalid_aaguid",
            DuplicateAaguid => "duplicate_aaguid",
            EmptyAllowList => "empty_allow_list",
            LifetimeOutOfRange => "lifetime_out_of_range",
            LifetimesOutOfOrder => "lifetimes_out_of_order",
            LengthOutOfRange => "length_out_of_range",
            ProfileInUse => "profile_in_use",
            SnoozeOutOfRange => "snooze_out_of_range",
        }
    }

    /// What a person reads.
    pub fn message(self) -> &'static str {
        use PolicyProblem::*;
        match self {
            UnknownGroup => "names no group in the directory",
            AllUsersExcluded => "all_users can be included, not excluded",
            DuplicateTarget => "names a target twice",
            TooMany => "has too many entries",
            UnknownProfile => "names no passkey profile of this policy",
            ProfilesOnlyForPasskeys => "passkey profiles apply to fido2 targets only",
            DuplicateProfile => "repeats a profile id",
            InvalidProfileId => "must be 1-64 characters of a-z, 0-9, '-' and '_'",
            InvalidName => "must be 1-128 characters without control characters",
            DefaultProfileMissing => "the default profile cannot be removed",
            NoPasskeyTypes => "must allow deviceBound, synced, or both",
            DuplicatePasskeyType => "repeats a passkey type",
            InvalidAaguid => "is not an AAGUID (8-4-4-4-12 hexadecimal digits)",
            DuplicateAaguid => "repeats an AAGUID",
            EmptyAllowList => "an enforced allow list needs at least one AAGUID",
            LifetimeOutOfRange => "must be between 10 and 43200 minutes",
            LifetimesOutOfOrder => "must lie between the minimum and maximum lifetime",
            LengthOutOfRange => "must be between 8 and 48 characters",
            ProfileInUse => "is used by a target and cannot be removed",
            SnoozeOutOfRange => "must be between 0 and 14 days",
        }
    }
}

/// A refused document: the field (a JSON path such as `fido2.passkeyProfiles[1].name`)
/// and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRefusal {
    pub field: String,
    pub problem: PolicyProblem,
}

impl std::fmt::Display for PolicyRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.field, self.problem.message())
    }
}

fn refuse<T>(field: impl Into<String>, problem: PolicyProblem) -> Result<T, PolicyRefusal> {
    Err(PolicyRefusal {
        field: field.into(),
        problem,
    })
}

/// An AAGUID in the one form Keyfort stores: lower-case, hyphenated 8-4-4-4-12.
pub fn normalize_aaguid(s: &str) -> Option<String> {
    let s = s.trim();
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    let shaped = s.len() == 36
        && s.char_indices()
            .all(|(i, c)| matches!(i, 8 | 13 | 18 | 23) == (c == '-'));
    if !(shaped || s.len() == 32) || hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(crate::passkey::format_aaguid(&bytes))
}

fn valid_profile_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn valid_name(name: &str) -> bool {
    let n = name.trim().chars().count();
    (1..=128).contains(&n) && !name.chars().any(char::is_control)
}

/// Checks a whole policy. `group_exists` answers whether a group id names a group.
/// AAGUIDs must already be in normalised form (`normalize_aaguid`; the application layer
/// normalises what an administrator typed before validating).
pub fn validate_policy(
    p: &MethodsPolicy,
    group_exists: impl Fn(&str) -> bool,
) -> Result<(), PolicyRefusal> {
    let profiles: HashSet<&str> = p
        .fido2
        .passkey_profiles
        .iter()
        .map(|x| x.id.as_str())
        .collect();
    for m in MethodId::ALL {
        validate_targets(m, p.targets(m), &profiles, &group_exists)?;
    }
    validate_profiles(&p.fido2.passkey_profiles)?;
    validate_campaign(&p.registration_campaign, &group_exists)?;
    validate_pass(&p.temporary_access_pass)
}

fn validate_campaign(
    c: &RegistrationCampaign,
    group_exists: &impl Fn(&str) -> bool,
) -> Result<(), PolicyRefusal> {
    const F: &str = "registrationCampaign";
    if !(0..=14).contains(&c.snooze_duration_in_days) {
        return refuse(
            format!("{F}.snoozeDurationInDays"),
            PolicyProblem::SnoozeOutOfRange,
        );
    }
    if c.include_targets.len() > MAX_TARGETS {
        return refuse(format!("{F}.includeTargets"), PolicyProblem::TooMany);
    }
    if c.exclude_targets.len() > MAX_TARGETS {
        return refuse(format!("{F}.excludeTargets"), PolicyProblem::TooMany);
    }
    for (i, t) in c.include_targets.iter().enumerate() {
        if t.id != ALL_USERS && !group_exists(&t.id) {
            return refuse(
                format!("{F}.includeTargets[{i}]"),
                PolicyProblem::UnknownGroup,
            );
        }
        if !t.allowed_passkey_profiles.is_empty() {
            return refuse(
                format!("{F}.includeTargets[{i}]"),
                PolicyProblem::ProfilesOnlyForPasskeys,
            );
        }
    }
    for (i, t) in c.exclude_targets.iter().enumerate() {
        if t.id == ALL_USERS {
            return refuse(
                format!("{F}.excludeTargets[{i}]"),
                PolicyProblem::AllUsersExcluded,
            );
        }
        if !group_exists(&t.id) {
            return refuse(
                format!("{F}.excludeTargets[{i}]"),
                PolicyProblem::UnknownGroup,
            );
        }
    }
    Ok(())
}

fn validate_targets(
    m: MethodId,
    t: Targets<'_>,
    profiles: &HashSet<&str>,
    group_exists: &impl Fn(&str) -> bool,
) -> Result<(), PolicyRefusal> {
    let at = |kind: &str, i: usize| format!("{}.{kind}[{i}]", m.as_str());
    if t.include.len() > MAX_TARGETS {
        return refuse(
            format!("{}.includeTargets", m.as_str()),
            PolicyProblem::TooMany,
        );
    }
    if t.exclude.len() > MAX_TARGETS {
        return refuse(
            format!("{}.excludeTargets", m.as_str()),
            PolicyProblem::TooMany,
        );
    }
    let mut seen = HashSet::new();
    for (i, target) in t.include.iter().enumerate() {
        if target.id != ALL_USERS && !group_exists(&target.id) {
            return refuse(at("includeTargets", i) + ".id", PolicyProblem::UnknownGroup);
        }
        if !seen.insert(target.id.as_str()) {
            return refuse(
                at("includeTargets", i) + ".id",
                PolicyProblem::DuplicateTarget,
            );
        }
        for (j, profile) in target.allowed_passkey_profiles.iter().enumerate() {
            let field = format!("{}.allowedPasskeyProfiles[{j}]", at("includeTargets", i));
            if m != MethodId::Passkey {
                return refuse(field, PolicyProblem::ProfilesOnlyForPasskeys);
            }
            if !profiles.contains(profile.as_str()) {
                return refuse(field, PolicyProblem::UnknownProfile);
            }
        }
    }
    let mut seen = HashSet::new();
    for (i, target) in t.exclude.iter().enumerate() {
        let field = at("excludeTargets", i) + ".id";
        if target.id == ALL_USERS {
            return refuse(field, PolicyProblem::AllUsersExcluded);
        }
        if !group_exists(&target.id) {
            return refuse(field, PolicyProblem::UnknownGroup);
        }
        if !seen.insert(target.id.as_str()) {
            return refuse(field, PolicyProblem::DuplicateTarget);
        }
    }
    Ok(())
}

fn validate_profiles(profiles: &[PasskeyProfile]) -> Result<(), PolicyRefusal> {
    if profiles.len() > MAX_PROFILES {
        return refuse("fido2.passkeyProfiles", PolicyProblem::TooMany);
    }
    if !profiles.iter().any(|p| p.id == DEFAULT_PROFILE) {
        return refuse(
            "fido2.passkeyProfiles",
            PolicyProblem::DefaultProfileMissing,
        );
    }
    let mut ids = HashSet::new();
    for (i, p) in profiles.iter().enumerate() {
        let at = |f: &str| format!("fido2.passkeyProfiles[{i}].{f}");
        if !valid_profile_id(&p.id) {
            return refuse(at("id"), PolicyProblem::InvalidProfileId);
        }
        if !ids.insert(p.id.as_str()) {
            return refuse(at("id"), PolicyProblem::DuplicateProfile);
        }
        if !valid_name(&p.name) {
            return refuse(at("name"), PolicyProblem::InvalidName);
        }
        if p.passkey_types.is_empty() {
            return refuse(at("passkeyTypes"), PolicyProblem::NoPasskeyTypes);
        }
        if p.passkey_types.len() == 2 && p.passkey_types[0] == p.passkey_types[1]
            || p.passkey_types.len() > 2
        {
            return refuse(at("passkeyTypes"), PolicyProblem::DuplicatePasskeyType);
        }
        let k = &p.key_restrictions;
        if k.aa_guids.len() > MAX_AAGUIDS {
            return refuse(at("keyRestrictions.aaGuids"), PolicyProblem::TooMany);
        }
        let mut seen = HashSet::new();
        for (j, a) in k.aa_guids.iter().enumerate() {
            let field = at(&format!("keyRestrictions.aaGuids[{j}]"));
            if normalize_aaguid(a).as_deref() != Some(a.as_str()) {
                return refuse(field, PolicyProblem::InvalidAaguid);
            }
            if !seen.insert(a.as_str()) {
                return refuse(field, PolicyProblem::DuplicateAaguid);
            }
        }
        if k.is_enforced && k.enforcement_type == EnforcementType::Allow && k.aa_guids.is_empty() {
            return refuse(at("keyRestrictions.aaGuids"), PolicyProblem::EmptyAllowList);
        }
    }
    Ok(())
}

fn validate_pass(t: &PassMethod) -> Result<(), PolicyRefusal> {
    let f = |name: &str| format!("temporaryAccessPass.{name}");
    for (name, v) in [
        ("minimumLifetimeInMinutes", t.minimum_lifetime_in_minutes),
        ("maximumLifetimeInMinutes", t.maximum_lifetime_in_minutes),
        ("defaultLifetimeInMinutes", t.default_lifetime_in_minutes),
    ] {
        if !PASS_LIFETIME_MINUTES.contains(&v) {
            return refuse(f(name), PolicyProblem::LifetimeOutOfRange);
        }
    }
    if t.minimum_lifetime_in_minutes > t.maximum_lifetime_in_minutes {
        return refuse(
            f("minimumLifetimeInMinutes"),
            PolicyProblem::LifetimesOutOfOrder,
        );
    }
    if !(t.minimum_lifetime_in_minutes..=t.maximum_lifetime_in_minutes)
        .contains(&t.default_lifetime_in_minutes)
    {
        return refuse(
            f("defaultLifetimeInMinutes"),
            PolicyProblem::LifetimesOutOfOrder,
        );
    }
    if !PASS_LENGTH.contains(&t.default_length) {
        return refuse(f("defaultLength"), PolicyProblem::LengthOutOfRange);
    }
    Ok(())
}

/// Whether a profile may be removed from `p`: never the default one, nor one a target
/// names.
pub fn may_remove_profile(p: &MethodsPolicy, id: &str) -> Result<(), PolicyRefusal> {
    let field = || format!("fido2.passkeyProfiles.{id}");
    if id == DEFAULT_PROFILE {
        return refuse(field(), PolicyProblem::DefaultProfileMissing);
    }
    if p.profile(id).is_none() {
        return refuse(field(), PolicyProblem::UnknownProfile);
    }
    let used = p
        .fido2
        .include_targets
        .iter()
        .any(|t| t.allowed_passkey_profiles.iter().any(|x| x == id));
    if used {
        return refuse(field(), PolicyProblem::ProfileInUse);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::passkey::PasskeyType;

    const YUBIKEY: &str = "cb69481e-8ff7-4039-93ec-0a2729a154a8";

    fn groups(id: &str) -> bool {
        matches!(id, "g-admins" | "g-contractors")
    }

    fn field_of(p: &MethodsPolicy) -> (String, PolicyProblem) {
        let r = validate_policy(p, groups).unwrap_err();
        (r.field, r.problem)
    }

    #[test]
    fn the_default_policy_is_valid() {
        assert_eq!(validate_policy(&MethodsPolicy::default(), groups), Ok(()));
    }

    #[test]
    fn aaguids_are_normalised_or_refused() {
        assert_eq!(
            normalize_aaguid(" CB69481E-8FF7-4039-93EC-0A2729A154A8 ").as_deref(),
            Some(YUBIKEY)
        );
        assert_eq!(
            normalize_aaguid("cb69481e8ff7403993ec0a2729a154a8").as_deref(),
            Some(YUBIKEY)
        );
        for bad in [
            "",
            "cb69481e-8ff7-4039-93ec-0a2729a154a",
            "cb69481e-8ff74039-93ec-0a2729a154a8-",
            "zb69481e-8ff7-4039-93ec-0a2729a154a8",
            "cb69481e8-ff7-4039-93ec-0a2729a154a8",
            "ä".repeat(32).as_str(),
        ] {
            assert_eq!(normalize_aaguid(bad), None, "{bad}");
        }
    }

    #[test]
    fn each_problem_names_its_field() {
        let mut p = MethodsPolicy::default();
        p.fido2
            .exclude_targets
            .push(ExcludeTarget { id: "nope".into() });
        assert_eq!(
            field_of(&p),
            (
                "fido2.excludeTargets[0].id".into(),
                PolicyProblem::UnknownGroup
            )
        );

        let mut p = MethodsPolicy::default();
        p.sms.exclude_targets.push(ExcludeTarget {
            id: ALL_USERS.into(),
        });
        assert_eq!(
            field_of(&p),
            (
                "sms.excludeTargets[0].id".into(),
                PolicyProblem::AllUsersExcluded
            )
        );

        let mut p = MethodsPolicy::default();
        p.fido2.include_targets[0].allowed_passkey_profiles = vec!["admins".into()];
        assert_eq!(
            field_of(&p),
            (
                "fido2.includeTargets[0].allowedPasskeyProfiles[0]".into(),
                PolicyProblem::UnknownProfile
            )
        );

        let mut p = MethodsPolicy::default();
        p.password.include_targets[0].allowed_passkey_profiles = vec![DEFAULT_PROFILE.into()];
        assert_eq!(field_of(&p).1, PolicyProblem::ProfilesOnlyForPasskeys);

        let mut p = MethodsPolicy::default();
        p.fido2
            .include_targets
            .push(p.fido2.include_targets[0].clone());
        assert_eq!(field_of(&p).1, PolicyProblem::DuplicateTarget);

        let mut p = MethodsPolicy::default();
        p.fido2.passkey_profiles[0].id = "admins".into();
        assert_eq!(field_of(&p).1, PolicyProblem::DefaultProfileMissing);

        let mut p = MethodsPolicy::default();
        p.fido2.passkey_profiles.push(PasskeyProfile {
            id: "Admins!".into(),
            ..PasskeyProfile::default_profile()
        });
        assert_eq!(
            field_of(&p),
            (
                "fido2.passkeyProfiles[1].id".into(),
                PolicyProblem::InvalidProfileId
            )
        );

        let mut p = MethodsPolicy::default();
        p.fido2
            .passkey_profiles
            .push(PasskeyProfile::default_profile());
        assert_eq!(field_of(&p).1, PolicyProblem::DuplicateProfile);

        let mut p = MethodsPolicy::default();
        p.fido2.passkey_profiles[0].name = " ".into();
        assert_eq!(field_of(&p).1, PolicyProblem::InvalidName);

        let mut p = MethodsPolicy::default();
        p.fido2.passkey_profiles[0].passkey_types = vec![];
        assert_eq!(field_of(&p).1, PolicyProblem::NoPasskeyTypes);
        p.fido2.passkey_profiles[0].passkey_types = vec![PasskeyType::Synced; 2];
        assert_eq!(field_of(&p).1, PolicyProblem::DuplicatePasskeyType);

        let mut p = MethodsPolicy::default();
        let k = &mut p.fido2.passkey_profiles[0].key_restrictions;
        k.is_enforced = true;
        assert_eq!(field_of(&p).1, PolicyProblem::EmptyAllowList);
        let k = &mut p.fido2.passkey_profiles[0].key_restrictions;
        k.aa_guids = vec![YUBIKEY.to_ascii_uppercase()];
        assert_eq!(
            field_of(&p),
            (
                "fido2.passkeyProfiles[0].keyRestrictions.aaGuids[0]".into(),
                PolicyProblem::InvalidAaguid
            )
        );
        let k = &mut p.fido2.passkey_profiles[0].key_restrictions;
        k.aa_guids = vec![YUBIKEY.into(), YUBIKEY.into()];
        assert_eq!(field_of(&p).1, PolicyProblem::DuplicateAaguid);

        let mut p = MethodsPolicy::default();
        p.temporary_access_pass.maximum_lifetime_in_minutes = 43_201;
        assert_eq!(field_of(&p).1, PolicyProblem::LifetimeOutOfRange);
        let mut p = MethodsPolicy::default();
        p.temporary_access_pass.default_lifetime_in_minutes = 500;
        assert_eq!(
            field_of(&p),
            (
                "temporaryAccessPass.defaultLifetimeInMinutes".into(),
                PolicyProblem::LifetimesOutOfOrder
            )
        );
        let mut p = MethodsPolicy::default();
        p.temporary_access_pass.default_length = 49;
        assert_eq!(field_of(&p).1, PolicyProblem::LengthOutOfRange);
    }

    #[test]
    fn the_default_profile_and_profiles_in_use_stay() {
        let mut p = MethodsPolicy::default();
        p.fido2.passkey_profiles.push(PasskeyProfile {
            id: "admins".into(),
            ..PasskeyProfile::default_profile()
        });
        p.fido2.passkey_profiles.push(PasskeyProfile {
            id: "spare".into(),
            ..PasskeyProfile::default_profile()
        });
        p.fido2.include_targets.push(IncludeTarget {
            id: "g-admins".into(),
            is_registration_required: true,
            allowed_passkey_profiles: vec!["admins".into()],
        });
        assert_eq!(validate_policy(&p, groups), Ok(()));
        let problem = |id| may_remove_profile(&p, id).map_err(|r| r.problem);
        assert_eq!(
            problem(DEFAULT_PROFILE),
            Err(PolicyProblem::DefaultProfileMissing)
        );
        assert_eq!(problem("admins"), Err(PolicyProblem::ProfileInUse));
        assert_eq!(problem("ghost"), Err(PolicyProblem::UnknownProfile));
        assert_eq!(problem("spare"), Ok(()));
    }
}
