//! Administrative roles and what each may do: the one place that decides whether a caller
//! of the admin API (or any other interface) may perform an operation.
//!
//! The roles follow Microsoft Entra ID's built-in roles of the same names, narrowed to
//! what Keyfort administers:
//! - a **global administrator** may do everything;
//! - an **authentication policy administrator** reads everything and changes the
//!   authentication-methods policy, nothing else;
//! - an **authentication administrator** (helpdesk) manages the methods — passes,
//!   passkeys — of users who hold no administrative role;
//! - a **privileged authentication administrator** manages the methods of anyone;
//! - a **global reader** reads everything and changes nothing. Secrets are never
//!   readable by anyone: they are stored hashed, and shown once when made.
//!
//! Nobody manages their own methods through these roles: a person changes their own on
//! My security, where a fresh sign-in is required.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An administrative role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum Role {
    GlobalAdministrator,
    AuthenticationPolicyAdministrator,
    AuthenticationAdministrator,
    PrivilegedAuthenticationAdministrator,
    GlobalReader,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::GlobalAdministrator,
        Role::AuthenticationPolicyAdministrator,
        Role::AuthenticationAdministrator,
        Role::PrivilegedAuthenticationAdministrator,
        Role::GlobalReader,
    ];

    /// The name used in documents, the API and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::GlobalAdministrator => "globalAdministrator",
            Role::AuthenticationPolicyAdministrator => "authenticationPolicyAdministrator",
            Role::AuthenticationAdministrator => "authenticationAdministrator",
            Role::PrivilegedAuthenticationAdministrator => "privilegedAuthenticationAdministrator",
            Role::GlobalReader => "globalReader",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who holds a role: a person, or an application acting as itself (client credentials).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum PrincipalKind {
    User,
    Client,
}

impl PrincipalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::Client => "client",
        }
    }

    pub fn parse(s: &str) -> Option<PrincipalKind> {
        match s {
            "user" => Some(PrincipalKind::User),
            "client" => Some(PrincipalKind::Client),
            _ => None,
        }
    }
}

/// What an administrative operation touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminAction {
    /// Users, groups and memberships, read.
    ReadDirectory,
    /// Users, groups and memberships, changed.
    ManageDirectory,
    /// The authentication-methods policy (and its explanation for a user), read.
    ReadPolicy,
    ManagePolicy,
    /// A user's methods (passkeys, pass metadata), read.
    ReadMethods,
    /// A user's methods changed (a pass issued, a passkey removed).
    ManageMethods(MethodsTarget),
    /// Application registrations, read (never their secrets).
    ReadClients,
    ManageClients,
    /// Role assignments, read.
    ReadRoles,
    ManageRoles,
    /// The sign-in and audit logs.
    ReadLogs,
}

/// Whose methods an operation changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodsTarget {
    /// The target holds an administrative role.
    pub privileged: bool,
    /// The target is the caller.
    pub is_caller: bool,
}

/// Why a caller may not perform an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleRefusal {
    /// None of the caller's roles allows it; any of `needs` would.
    Forbidden { needs: Vec<Role> },
    /// Administrators do not manage their own methods through an administrative role.
    OwnMethods,
    /// The person may, but the application acting for them may not: any of `needs`,
    /// held by the application, would let it.
    ApplicationForbidden { needs: Vec<Role> },
}

impl RoleRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            RoleRefusal::Forbidden { .. } => "forbidden",
            RoleRefusal::OwnMethods => "own_methods",
            RoleRefusal::ApplicationForbidden { .. } => "application_forbidden",
        }
    }
}

impl fmt::Display for RoleRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RoleRefusal::Forbidden { needs } => {
                let names: Vec<&str> = needs.iter().map(|r| r.as_str()).collect();
                write!(f, "this needs one of the roles {}", names.join(", "))
            }
            RoleRefusal::OwnMethods => f.write_str(
                "your own methods are changed on My security, not through an administrative role",
            ),
            RoleRefusal::ApplicationForbidden { needs } => {
                let names: Vec<&str> = needs.iter().map(|r| r.as_str()).collect();
                write!(
                    f,
                    "the application acting for you may not do this; it would need one of the roles {}",
                    names.join(", ")
                )
            }
        }
    }
}

/// The roles that allow `action`.
pub fn roles_allowing(action: AdminAction) -> Vec<Role> {
    use Role::*;
    match action {
        AdminAction::ReadDirectory
        | AdminAction::ReadPolicy
        | AdminAction::ReadMethods
        | AdminAction::ReadClients
        | AdminAction::ReadRoles
        | AdminAction::ReadLogs => Role::ALL.to_vec(),
        AdminAction::ManagePolicy => vec![GlobalAdministrator, AuthenticationPolicyAdministrator],
        AdminAction::ManageMethods(t) if t.privileged => {
            vec![GlobalAdministrator, PrivilegedAuthenticationAdministrator]
        }
        AdminAction::ManageMethods(_) => vec![
            GlobalAdministrator,
            PrivilegedAuthenticationAdministrator,
            AuthenticationAdministrator,
        ],
        AdminAction::ManageDirectory | AdminAction::ManageClients | AdminAction::ManageRoles => {
            vec![GlobalAdministrator]
        }
    }
}

/// Whether a caller holding `roles` may perform `action`.
pub fn authorize(roles: &[Role], action: AdminAction) -> Result<(), RoleRefusal> {
    if let AdminAction::ManageMethods(t) = action
        && t.is_caller
    {
        return Err(RoleRefusal::OwnMethods);
    }
    let needs = roles_allowing(action);
    if roles.iter().any(|r| needs.contains(r)) {
        Ok(())
    } else {
        Err(RoleRefusal::Forbidden { needs })
    }
}

/// Whether a person holding `user` roles may perform `action` through an application
/// holding `application` roles (a token from the authorization-code flow): both must
/// allow it, so an application can narrow what its users do through it, never widen it.
pub fn authorize_delegated(
    user: &[Role],
    application: &[Role],
    action: AdminAction,
) -> Result<(), RoleRefusal> {
    authorize(user, action)?;
    authorize(application, action).map_err(|r| match r {
        RoleRefusal::Forbidden { needs } => RoleRefusal::ApplicationForbidden { needs },
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use Role::*;

    const NON_ADMIN: MethodsTarget = MethodsTarget {
        privileged: false,
        is_caller: false,
    };
    const ADMIN: MethodsTarget = MethodsTarget {
        privileged: true,
        is_caller: false,
    };

    #[test]
    fn names_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.as_str()));
        }
        assert_eq!(Role::parse("GlobalAdministrator"), None);
        assert_eq!(Role::parse(""), None);
    }

    #[test]
    fn readers_read_and_change_nothing() {
        for a in [
            AdminAction::ReadDirectory,
            AdminAction::ReadPolicy,
            AdminAction::ReadMethods,
            AdminAction::ReadClients,
            AdminAction::ReadRoles,
            AdminAction::ReadLogs,
        ] {
            assert_eq!(authorize(&[GlobalReader], a), Ok(()));
        }
        for a in [
            AdminAction::ManageDirectory,
            AdminAction::ManagePolicy,
            AdminAction::ManageMethods(NON_ADMIN),
            AdminAction::ManageClients,
            AdminAction::ManageRoles,
        ] {
            assert!(matches!(
                authorize(&[GlobalReader], a),
                Err(RoleRefusal::Forbidden { .. })
            ));
        }
    }

    #[test]
    fn a_delegated_caller_may_do_what_both_roles_allow() {
        let p = AdminAction::ManagePolicy;
        assert_eq!(
            authorize_delegated(&[GlobalAdministrator], &[GlobalAdministrator], p),
            Ok(())
        );
        // The application narrows: a read-only console makes a global admin read-only.
        assert!(matches!(
            authorize_delegated(&[GlobalAdministrator], &[GlobalReader], p),
            Err(RoleRefusal::ApplicationForbidden { .. })
        ));
        assert_eq!(
            authorize_delegated(
                &[GlobalAdministrator],
                &[GlobalReader],
                AdminAction::ReadPolicy
            ),
            Ok(())
        );
        // It never widens: a reader through a global-admin console is a reader.
        assert!(matches!(
            authorize_delegated(&[GlobalReader], &[GlobalAdministrator], p),
            Err(RoleRefusal::Forbidden { .. })
        ));
        assert!(matches!(
            authorize_delegated(&[], &[GlobalAdministrator], AdminAction::ReadLogs),
            Err(RoleRefusal::Forbidden { .. })
        ));
        // One's own methods stay out of reach whatever the application holds.
        let own = AdminAction::ManageMethods(MethodsTarget {
            privileged: true,
            is_caller: true,
        });
        assert_eq!(
            authorize_delegated(&[GlobalAdministrator], &[GlobalAdministrator], own),
            Err(RoleRefusal::OwnMethods)
        );
        let refusal = authorize_delegated(&[GlobalAdministrator], &[GlobalReader], p).unwrap_err();
        assert_eq!(refusal.code(), "application_forbidden");
        assert!(
            refusal
                .to_string()
                .contains("authenticationPolicyAdministrator")
        );
    }

    #[test]
    fn policy_administrators_change_policy_only() {
        let r = [AuthenticationPolicyAdministrator];
        assert_eq!(authorize(&r, AdminAction::ManagePolicy), Ok(()));
        assert!(authorize(&r, AdminAction::ManageDirectory).is_err());
        assert!(authorize(&r, AdminAction::ManageMethods(NON_ADMIN)).is_err());
        assert!(authorize(&r, AdminAction::ManageRoles).is_err());
    }

    #[test]
    fn helpdesk_manages_non_administrators_only() {
        let r = [AuthenticationAdministrator];
        assert_eq!(authorize(&r, AdminAction::ManageMethods(NON_ADMIN)), Ok(()));
        assert_eq!(
            authorize(&r, AdminAction::ManageMethods(ADMIN)),
            Err(RoleRefusal::Forbidden {
                needs: vec![GlobalAdministrator, PrivilegedAuthenticationAdministrator]
            })
        );
        assert!(authorize(&r, AdminAction::ManagePolicy).is_err());
        let p = [PrivilegedAuthenticationAdministrator];
        assert_eq!(authorize(&p, AdminAction::ManageMethods(ADMIN)), Ok(()));
        assert!(authorize(&p, AdminAction::ManagePolicy).is_err());
    }

    #[test]
    fn nobody_manages_their_own_methods_by_role() {
        let own = MethodsTarget {
            privileged: true,
            is_caller: true,
        };
        assert_eq!(
            authorize(&[GlobalAdministrator], AdminAction::ManageMethods(own)),
            Err(RoleRefusal::OwnMethods)
        );
    }

    #[test]
    fn global_administrators_do_everything_and_no_roles_nothing() {
        for a in [
            AdminAction::ManageDirectory,
            AdminAction::ManagePolicy,
            AdminAction::ManageMethods(ADMIN),
            AdminAction::ManageClients,
            AdminAction::ManageRoles,
            AdminAction::ReadLogs,
        ] {
            assert_eq!(authorize(&[GlobalAdministrator], a), Ok(()));
            assert!(authorize(&[], a).is_err());
        }
    }
}
