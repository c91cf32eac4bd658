//! `keyfort policy …`: the authentication-methods policy, through the application layer
//! (`app::policy`).

use crate::CliError;
use crate::admin::{app_failed, store};
use crate::output;
use clap::Subcommand;
use keyfort_core::passkey::PasskeyType;
use keyfort_core::policy::{
    ALL_USERS, AttestationEnforcement, MethodId, MethodState, normalize_aaguid,
};
use keyfort_server::app::policy::{self as app_policy, AppliedDto, Hypothesis};
use keyfort_server::app::policy_edits::{
    self as edits, KeyRule, MethodInput, ProfileAction, ProfileInput,
};
use keyfort_server::app::providers;
use std::collections::HashMap;

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Print the policy in force (`--json`: the document `apply` reads).
    Show,
    /// Validate a whole policy document (JSON) and store it as the next version.
    Apply {
        /// The document; `-` reads standard input.
        file: String,
        /// Print what would change and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Refuse unless the stored policy is still at this version.
        #[arg(long)]
        if_version: Option<i64>,
    },
    /// Change one method: its state, who it applies to, who it never applies to.
    Set {
        /// fido2, temporaryAccessPass, password, softwareOath, email or sms.
        method: String,
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        #[arg(long)]
        disable: bool,
        /// Apply the method to these groups (by name) instead of its current targets.
        #[arg(long = "include", value_name = "GROUP", conflicts_with = "include_all")]
        include: Vec<String>,
        /// Apply the method to every user.
        #[arg(long)]
        include_all: bool,
        /// With --include/--include-all: ask those users to register the method.
        #[arg(long)]
        registration_required: bool,
        /// With --include/--include-all, passkeys only: the profiles for those users.
        #[arg(long = "profiles", value_name = "ID", value_delimiter = ',')]
        profiles: Vec<String>,
        /// Never apply the method to these groups (replaces the current exclusions).
        #[arg(
            long = "exclude",
            value_name = "GROUP",
            conflicts_with = "no_exclusions"
        )]
        exclude: Vec<String>,
        /// Remove every exclusion.
        #[arg(long)]
        no_exclusions: bool,
        #[arg(long)]
        dry_run: bool,
    },
    /// Add, change or remove a passkey profile.
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// The passkey provider names Keyfort knows, with their AAGUIDs (names containing
    /// NAME only, when given).
    Providers { name: Option<String> },
    /// Which methods and passkey profiles apply to a user, and whether each of their
    /// passkeys (or a hypothetical one) is accepted, with the reason of every profile.
    Explain {
        username: String,
        /// A hypothetical passkey of this model (AAGUID).
        #[arg(long, conflicts_with = "provider")]
        aaguid: Option<String>,
        /// Hypothetical passkeys of this provider ("Windows Hello": one per AAGUID).
        #[arg(long)]
        provider: Option<String>,
        #[arg(long, conflicts_with = "device_bound")]
        synced: bool,
        #[arg(long)]
        device_bound: bool,
        /// The hypothetical passkey's attestation verified.
        #[arg(long)]
        attested: bool,
    },
}

#[derive(Subcommand)]
pub enum ProfileCommand {
    /// A new profile (both passkey types, attestation disabled and any model unless
    /// given).
    Add {
        id: String,
        #[command(flatten)]
        fields: ProfileFields,
    },
    /// Change the given fields of a profile.
    Set {
        id: String,
        #[command(flatten)]
        fields: ProfileFields,
    },
    /// Remove a profile (never the default one, nor one a target names).
    Remove {
        id: String,
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(clap::Args)]
pub struct ProfileFields {
    /// The name people read.
    #[arg(long)]
    name: Option<String>,
    /// deviceBound, synced or both (comma-separated).
    #[arg(long, value_delimiter = ',', value_parser = passkey_type)]
    types: Option<Vec<PasskeyType>>,
    /// disabled or registrationOnly.
    #[arg(long, value_parser = attestation)]
    attestation: Option<AttestationEnforcement>,
    /// Accept only passkeys of this provider (repeatable; see `policy providers`).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["block_provider", "block_aaguid", "any_model"])]
    allow_provider: Vec<String>,
    /// Accept only passkeys of this model.
    #[arg(long, value_name = "AAGUID", conflicts_with_all = ["block_provider", "block_aaguid", "any_model"])]
    allow_aaguid: Vec<String>,
    /// Refuse passkeys of this provider (repeatable).
    #[arg(long, value_name = "NAME", conflicts_with = "any_model")]
    block_provider: Vec<String>,
    /// Refuse passkeys of this model.
    #[arg(long, value_name = "AAGUID", conflicts_with = "any_model")]
    block_aaguid: Vec<String>,
    /// Lift the key restriction: any model.
    #[arg(long)]
    any_model: bool,
    #[arg(long)]
    dry_run: bool,
}

fn passkey_type(s: &str) -> Result<PasskeyType, String> {
    PasskeyType::parse(s).ok_or_else(|| format!("`{s}` is deviceBound or synced"))
}

fn attestation(s: &str) -> Result<AttestationEnforcement, String> {
    match s {
        "disabled" => Ok(AttestationEnforcement::Disabled),
        "registrationOnly" => Ok(AttestationEnforcement::RegistrationOnly),
        _ => Err(format!("`{s}` is disabled or registrationOnly")),
    }
}

impl ProfileFields {
    fn input(self) -> (ProfileInput, bool) {
        let keys = if self.any_model {
            Some(KeyRule::AnyModel)
        } else if !self.allow_provider.is_empty() || !self.allow_aaguid.is_empty() {
            Some(KeyRule::Allow {
                providers: self.allow_provider,
                aaguids: self.allow_aaguid,
            })
        } else if !self.block_provider.is_empty() || !self.block_aaguid.is_empty() {
            Some(KeyRule::Block {
                providers: self.block_provider,
                aaguids: self.block_aaguid,
            })
        } else {
            None
        };
        let input = ProfileInput {
            name: self.name,
            passkey_types: self.types,
            attestation_enforcement: self.attestation,
            keys,
        };
        (input, self.dry_run)
    }
}

fn print_applied(applied: &AppliedDto, as_json: bool) {
    if as_json {
        output::json(applied);
        return;
    }
    for c in &applied.changes {
        println!("  {c}");
    }
    match (applied.dry_run, applied.changes.is_empty()) {
        (_, true) => println!("No change: the policy is at version {}.", applied.version),
        (true, false) => println!(
            "Dry run: {} change(s) against version {}; nothing was stored.",
            applied.changes.len(),
            applied.version
        ),
        (false, false) => println!(
            "Applied {} change(s): the policy is at version {}.",
            applied.changes.len(),
            applied.version
        ),
    }
}

/// The provider names the CLI resolves and shows: the shipped ones and the stored FIDO
/// metadata's (verified against FIDO's root), as a node would.
pub async fn catalogue(store: &keyfort_store::Store) -> keyfort_core::providers::Providers {
    match keyfort_server::metadata::MetadataRoot::fido() {
        Ok(root) => providers::with_stored_metadata(store, &root).await,
        Err(_) => providers::shipped().clone(),
    }
}

fn read_document(file: &str) -> Result<String, CliError> {
    let read = if file == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(file)
    };
    read.map_err(|e| CliError::Usage(format!("cannot read {file}: {e}")))
}

pub async fn policy(cmd: PolicyCommand, as_json: bool, actor: &str) -> Result<(), CliError> {
    let store = store().await?;
    let now = keyfort_server::state::now_ms();
    let names = catalogue(&store).await;
    match cmd {
        PolicyCommand::Show => {
            let shown = app_policy::show(&store, &names).await.map_err(app_failed)?;
            if as_json {
                output::json(&shown);
            } else {
                print_policy(&shown);
            }
        }
        PolicyCommand::Apply {
            file,
            dry_run,
            if_version,
        } => {
            let text = read_document(&file)?;
            let document = app_policy::parse_document(&text).map_err(app_failed)?;
            let applied = app_policy::apply(&store, document, if_version, dry_run, actor, now)
                .await
                .map_err(app_failed)?;
            print_applied(&applied, as_json);
        }
        PolicyCommand::Set {
            method,
            enable,
            disable,
            include,
            include_all,
            registration_required,
            profiles,
            exclude,
            no_exclusions,
            dry_run,
        } => {
            let m = MethodId::parse(&method).ok_or_else(|| {
                let all: Vec<&str> = MethodId::ALL.iter().map(|m| m.as_str()).collect();
                CliError::Usage(format!("`{method}` is not a method: {}", all.join(", ")))
            })?;
            let retargets = include_all || !include.is_empty();
            if !retargets && (registration_required || !profiles.is_empty()) {
                return Err(CliError::Usage(
                    "--registration-required and --profiles describe new targets: give --include or --include-all".into(),
                ));
            }
            let input = MethodInput {
                state: match (enable, disable) {
                    (true, _) => Some(MethodState::Enabled),
                    (_, true) => Some(MethodState::Disabled),
                    _ => None,
                },
                include: (!include.is_empty()).then_some(include),
                include_all_users: include_all,
                registration_required,
                profiles,
                exclude: match (no_exclusions, exclude.is_empty()) {
                    (true, _) => Some(Vec::new()),
                    (false, false) => Some(exclude),
                    (false, true) => None,
                },
            };
            let applied = edits::change_method_targets(&store, m, input, dry_run, actor, now)
                .await
                .map_err(app_failed)?;
            print_applied(&applied, as_json);
        }
        PolicyCommand::Profile(cmd) => {
            let (action, id, input, dry_run) = match cmd {
                ProfileCommand::Add { id, fields } => {
                    let (input, dry_run) = fields.input();
                    (ProfileAction::Add, id, input, dry_run)
                }
                ProfileCommand::Set { id, fields } => {
                    let (input, dry_run) = fields.input();
                    (ProfileAction::Set, id, input, dry_run)
                }
                ProfileCommand::Remove { id, dry_run } => {
                    (ProfileAction::Remove, id, ProfileInput::default(), dry_run)
                }
            };
            let applied = edits::change_passkey_profile(
                &store, &names, action, &id, input, dry_run, actor, now,
            )
            .await
            .map_err(app_failed)?;
            print_applied(&applied, as_json);
        }
        PolicyCommand::Providers { name } => {
            let listed: Vec<(&str, &[String])> = names.matching(name.as_deref()).collect();
            if as_json {
                let rows: Vec<serde_json::Value> = listed
                    .iter()
                    .map(|(n, ids)| serde_json::json!({ "name": n, "aaguids": ids }))
                    .collect();
                output::json(&rows);
            } else if listed.is_empty() {
                println!("No provider name matches.");
            } else {
                for (n, ids) in listed {
                    println!("{n:<36} {}", ids.join(", "));
                }
            }
        }
        PolicyCommand::Explain {
            username,
            aaguid,
            provider,
            synced,
            device_bound,
            attested,
        } => {
            let passkey_type = if synced {
                PasskeyType::Synced
            } else {
                PasskeyType::DeviceBound
            };
            let hypotheses = if let Some(name) = provider {
                app_policy::provider_hypotheses(&names, &name, passkey_type, attested)
                    .map_err(app_failed)?
            } else if aaguid.is_some() || synced || device_bound || attested {
                let aaguid = match aaguid {
                    Some(a) => normalize_aaguid(&a).ok_or_else(|| {
                        CliError::Usage(format!("--aaguid: `{a}` is not an AAGUID"))
                    })?,
                    None => "00000000-0000-0000-0000-000000000000".into(),
                };
                vec![Hypothesis {
                    aaguid,
                    passkey_type,
                    attested,
                }]
            } else {
                Vec::new()
            };
            let e = app_policy::explain(&store, &names, &username, hypotheses)
                .await
                .map_err(app_failed)?;
            if as_json {
                output::json(&e);
                return Ok(());
            }
            println!(
                "{} (policy version {}), groups: {}",
                e.username,
                e.policy_version,
                if e.groups.is_empty() {
                    "none".to_string()
                } else {
                    e.groups.join(", ")
                }
            );
            for m in &e.methods {
                let extra = match (&m.excluded_by, m.is_registration_required) {
                    (Some(g), _) => format!(" (by group {g})"),
                    (None, true) => " (registration required)".into(),
                    _ => String::new(),
                };
                println!("  {:<20} {}{extra}", m.method, m.scope);
            }
            println!(
                "  passkey profiles in scope: {}",
                or_none(&e.passkey_profiles)
            );
            if e.passkeys.is_empty() {
                println!("  no passkeys");
            }
            for k in &e.passkeys {
                println!(
                    "  passkey {} ({}, {}, {}): registration {}, sign-in {}",
                    k.display_name.as_deref().unwrap_or("(hypothetical)"),
                    match &k.provider_name {
                        Some(n) => format!("{n}, {}", k.aaguid),
                        None => k.aaguid.clone(),
                    },
                    k.passkey_type.label(),
                    if k.attested {
                        "attested"
                    } else {
                        "not attested"
                    },
                    yes_no(k.registration_accepted),
                    match k.sign_in_reason {
                        Some(r) => format!("refused: {r}"),
                        None => "accepted".into(),
                    }
                );
                for p in &k.profiles {
                    println!(
                        "    profile {} ({}): {}",
                        p.profile_id,
                        p.profile_name,
                        p.reason.unwrap_or("accepts")
                    );
                }
            }
        }
    }
    Ok(())
}

fn yes_no(b: bool) -> &'static str {
    if b { "accepted" } else { "refused" }
}

fn or_none(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

fn print_policy(shown: &app_policy::PolicyDto) {
    let name = |id: &str, names: &HashMap<String, String>| -> String {
        if id == ALL_USERS {
            "all users".into()
        } else {
            names.get(id).cloned().unwrap_or_else(|| id.to_string())
        }
    };
    let p = &shown.policy;
    println!("Authentication-methods policy, version {}", shown.version);
    for m in MethodId::ALL {
        let t = p.targets(m);
        let include: Vec<String> = t
            .include
            .iter()
            .map(|i| {
                let mut s = name(&i.id, &shown.group_names);
                if !i.allowed_passkey_profiles.is_empty() {
                    s.push_str(&format!(" [{}]", i.allowed_passkey_profiles.join(", ")));
                }
                if i.is_registration_required {
                    s.push_str(" (registration required)");
                }
                s
            })
            .collect();
        let exclude: Vec<String> = t
            .exclude
            .iter()
            .map(|e| name(&e.id, &shown.group_names))
            .collect();
        println!(
            "  {:<20} {:<9} include: {}; exclude: {}",
            m.as_str(),
            format!("{:?}", t.state).to_lowercase(),
            or_none(&include),
            or_none(&exclude)
        );
    }
    println!(
        "  self-service passkey registration: {}",
        if p.fido2.is_self_service_registration_allowed {
            "allowed"
        } else {
            "not allowed"
        }
    );
    for profile in &p.fido2.passkey_profiles {
        let types: Vec<&str> = profile.passkey_types.iter().map(|t| t.label()).collect();
        let k = &profile.key_restrictions;
        let keys = if k.is_enforced {
            let models: Vec<String> = k
                .aa_guids
                .iter()
                .map(|a| match shown.provider_names.get(a) {
                    Some(n) => format!("{n} ({a})"),
                    None => a.clone(),
                })
                .collect();
            format!("{} {}", k.enforcement_type.as_str(), models.join(", "))
        } else {
            "any model".into()
        };
        println!(
            "  profile {} ({}): {}; attestation {}; keys: {}",
            profile.id,
            profile.name,
            types.join(" or "),
            profile.attestation_enforcement.as_str(),
            keys
        );
    }
}
