//! Who is calling the admin API: a bearer access token Keyfort issued, carrying the
//! `keyfort.admin` scope, to a client that holds administrative roles (client
//! credentials, RFC 6749 §4.4). Each operation then asks [`Caller::may`], which is
//! `keyfort_core::roles::authorize` over the caller's roles.

use crate::app::AppError;
use crate::error::ApiError;
use crate::oidc::tokens;
use crate::state::{AppState, now_ms};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use keyfort_core::roles::{AdminAction, PrincipalKind, Role, authorize};
use keyfort_core::token::BearerRefusal;

/// The scope an access token needs for the admin API.
pub const ADMIN_SCOPE: &str = "keyfort.admin";

/// An authenticated caller of the admin API and the roles it holds.
#[derive(Debug, Clone)]
pub struct Caller {
    pub kind: PrincipalKind,
    pub id: String,
    pub roles: Vec<Role>,
}

impl Caller {
    /// Whether the caller's roles allow `action` (403 naming the roles that would).
    pub fn may(&self, action: AdminAction) -> Result<(), ApiError> {
        authorize(&self.roles, action).map_err(|r| AppError::Forbidden(r).into())
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
        if grant.user_id.is_some() {
            return Err(ApiError::forbidden(
                "user_token_not_accepted",
                "This token was issued to a person. The admin API accepts the token of an \
                 application with an administrative role (client credentials).",
            ));
        }
        let roles = state
            .store
            .roles_of(PrincipalKind::Client, &grant.client_id)
            .await?;
        Ok(Caller {
            kind: PrincipalKind::Client,
            id: grant.client_id,
            roles,
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
        Invalid | NoUser | UserInactive | UnknownClient => ApiError::bearer(
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
