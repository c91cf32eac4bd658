//! `keyfort policy …`: the authentication-methods policy, through the application layer
//! (`app::policy`).

use crate::CliError;
use crate::admin::{app_failed, store};
use crate::output;
use clap::Subcommand;
use keyfort_core::passkey::PasskeyType;
use keyfort_core::policy::{ALL_USERS, MethodId, normalize_aaguid};
use keyfort_server::app::policy::{self as app_policy, Hypothesis};
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
    /// Which methods and passkey profiles apply to a user, and whether each of their
    /// passkeys (or a hypothetical one) is accepted, with the reason of every profile.
    Explain {
        username: String,
        /// A hypothetical passkey of this model (AAGUID).
        #[arg(long)]
        aaguid: Option<String>,
        #[arg(long, conflicts_with = "device_bound")]
        synced: bool,
        #[arg(long)]
        device_bound: bool,
        /// The hypothetical passkey's attestation verified.
        #[arg(long)]
        attested: bool,
    },
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
    match cmd {
        PolicyCommand::Show => {
            let shown = app_policy::show(&store).await.map_err(app_failed)?;
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
            if as_json {
                output::json(&applied);
            } else {
                for c in &applied.changes {
                    println!("  {c}");
                }
                match (applied.dry_run, applied.changes.is_empty()) {
                    (_, true) => {
                        println!("No change: the policy is at version {}.", applied.version)
                    }
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
        }
        PolicyCommand::Explain {
            username,
            aaguid,
            synced,
            device_bound,
            attested,
        } => {
            let hypothesis = if aaguid.is_some() || synced || device_bound || attested {
                let aaguid = match aaguid {
                    Some(a) => normalize_aaguid(&a).ok_or_else(|| {
                        CliError::Usage(format!("--aaguid: `{a}` is not an AAGUID"))
                    })?,
                    None => "00000000-0000-0000-0000-000000000000".into(),
                };
                let passkey_type = if synced {
                    PasskeyType::Synced
                } else {
                    PasskeyType::DeviceBound
                };
                Some(Hypothesis {
                    aaguid,
                    passkey_type,
                    attested,
                })
            } else {
                None
            };
            let e = app_policy::explain(&store, &username, hypothesis)
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
                    k.aaguid,
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
            format!(
                "{} {}",
                format!("{:?}", k.enforcement_type).to_lowercase(),
                k.aa_guids.join(", ")
            )
        } else {
            "any model".into()
        };
        println!(
            "  profile {} ({}): {}; attestation {}; keys: {}",
            profile.id,
            profile.name,
            types.join(" or "),
            format!("{:?}", profile.attestation_enforcement).to_lowercase(),
            keys
        );
    }
}
