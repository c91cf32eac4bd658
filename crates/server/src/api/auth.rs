//! Who is calling the admin API: a bearer access token Keyfort issued, carrying the
//! `keyfort.admin` scope. Either an application acting as itself (client credentials,
//! RFC 6749 §4.4), whose roles decide; or a person signed in with a passkey through an
//! application that holds a role (the authorization-code flow), where both the person's
//! roles and the application's must allow an operation. Roles are read at every call,
//! so removing one takes effect at the next request. Each operation asks
//! [`Caller::may`], which is `keyfort_core::roles::authorize` (or `authorize_delegated`).

use crate::app::AppError;
use crate::error::ApiError;
use crate::oidc::tokens;
use crate::state::{AppState, now_ms};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
pub use keyfort_core::authorize::ADMIN_SCOPE;
use keyfort_core::roles::{AdminAction, PrincipalKind, Role, authorize, authorize_delegated};
use keyfort_core::token::BearerRefusal;

/// An authenticated caller of the admin API and the roles it holds.
#[derive(Debug, Clone)]
pub struct Caller {
    pub kind: PrincipalKind,
    pub id: String,
    pub roles: Vec<Role>,
    /// For a person: the roles of the application acting for them, which bound theirs.
    pub through: Option<Vec<Role>>,
}

impl Caller {
    /// Whether the caller's roles allow `action` (403 naming the roles that would).
    pub fn may(&self, action: AdminAction) -> Result<(), ApiError> {
        match &self.through {
            None => authorize(&self.roles, action),
            Some(app) => authorize_delegated(&self.roles, app, action),
        }
        .map_err(|r| AppError::Forbidden(r).into())
    }

    /// How the audit log names the caller.
    pub fn actor(&self) -> String {
        format!("{}:{}", self.kind.as_str(), self.id)
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        let claims = tokens::verify_access_token(state, crate::extract::bearer(&parts.headers)?)
            .map_err(admin_bearer)?;
        let grant = state
            .store
            .access_token_active(&claims.jti, now_ms())
            .await?
            .ok_or(admin_bearer(BearerRefusal::Revoked))?;
        if !tokens::scopes(&claims.scope).contains(&ADMIN_SCOPE) {
            return Err(admin_bearer(BearerRefusal::InsufficientScope));
        }
        let app_roles = state
            .store
            .roles_of(PrincipalKind::Client, &grant.client_id)
            .await?;
        let Some(user_id) = grant.user_id else {
            return Ok(Caller {
                kind: PrincipalKind::Client,
                id: grant.client_id,
                roles: app_roles,
                through: None,
            });
        };
        state
            .store
            .user_by_id(&user_id)
            .await?
            .filter(|u| u.enabled)
            .ok_or(admin_bearer(BearerRefusal::UserInactive))?;
        let roles = state.store.roles_of(PrincipalKind::User, &user_id).await?;
        Ok(Caller {
            kind: PrincipalKind::User,
            id: user_id,
            roles,
            through: Some(app_roles),
        })
    }
}

/// A bearer refusal at the admin API (RFC 6750 §3.1): 401 with a `WWW-Authenticate`
/// challenge, or 403 for a token without the admin scope.
fn admin_bearer(r: BearerRefusal) -> ApiError {
    use BearerRefusal::*;
    match r {
        InsufficientScope => ApiError::forbidden(
            "insufficient_scope",
            format!("The token was not issued for the {ADMIN_SCOPE} scope."),
        ),
        Missing => ApiError::bearer(
            "token_required",
            "An access token is required (Authorization: Bearer …).",
        ),
        NotBearer => ApiError::bearer("invalid_token", "Use the Bearer scheme."),
        Revoked => ApiError::bearer("invalid_token", "The token was revoked or has expired."),
        UserInactive => ApiError::bearer(
            "invalid_token",
            "The person this token was issued to is disabled or was deleted.",
        ),
        Invalid | NoUser | UnknownClient => ApiError::bearer(
            "invalid_token",
            "The token is not valid: not Keyfort's, badly signed or expired.",
        ),
    }
}

impl From<BearerRefusal> for ApiError {
    fn from(r: BearerRefusal) -> Self {
        admin_bearer(r)
    }
}
