//! `keyfort role …`: administrative role assignments.

use crate::CliError;
use crate::admin::{app_failed, store};
use crate::output;
use clap::Subcommand;
use keyfort_core::roles::PrincipalKind;
use keyfort_server::app::roles as app_roles;
use keyfort_server::state::now_ms;

#[derive(Subcommand)]
pub enum RoleCommand {
    /// Assign a role to a person (a username) or an application (--client).
    Assign {
        /// globalAdministrator, authenticationPolicyAdministrator,
        /// authenticationAdministrator, privilegedAuthenticationAdministrator or globalReader.
        role: String,
        /// The username, or with --client the client id.
        principal: String,
        /// The principal is an application (it acts with client credentials).
        #[arg(long)]
        client: bool,
    },
    /// Remove a role assignment.
    Remove {
        role: String,
        principal: String,
        #[arg(long)]
        client: bool,
    },
    /// Every role assignment.
    List,
}

pub async fn role(cmd: RoleCommand, as_json: bool, actor: &str) -> Result<(), CliError> {
    let store = store().await?;
    let now = now_ms();
    let kind = |client: bool| {
        if client {
            PrincipalKind::Client
        } else {
            PrincipalKind::User
        }
    };
    let result = async {
        match cmd {
            RoleCommand::Assign {
                role,
                principal,
                client,
            } => {
                let role = app_roles::parse_role(&role).map_err(app_failed)?;
                let a = app_roles::assign(&store, kind(client), &principal, role, actor, now)
                    .await
                    .map_err(app_failed)?;
                if as_json {
                    output::json(&a);
                } else {
                    println!("Assigned {} to {}", a.role, a.principal);
                }
            }
            RoleCommand::Remove {
                role,
                principal,
                client,
            } => {
                let role = app_roles::parse_role(&role).map_err(app_failed)?;
                app_roles::remove(&store, kind(client), &principal, role, actor, now)
                    .await
                    .map_err(app_failed)?;
                if !as_json {
                    println!("Removed {role} from {principal}");
                }
            }
            RoleCommand::List => {
                let all = app_roles::list(&store).await.map_err(app_failed)?;
                if as_json {
                    output::json(&all);
                } else if all.is_empty() {
                    println!("No role assignments.");
                } else {
                    for a in &all {
                        println!(
                            "{:<40} {:<7} {:<32} since {}",
                            a.role.as_str(),
                            a.principal_type.as_str(),
                            a.principal,
                            a.assigned_date_time
                        );
                    }
                }
            }
        }
        Ok(())
    }
    .await;
    store.close().await;
    result
}
