//! The UserInfo endpoint (OpenID Connect Core §5.3), for Keyfort's own access tokens.

use super::error::OAuthError;
use super::tokens;
use crate::state::{AppState, now_ms};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::Value;

fn bearer(headers: &HeaderMap) -> Result<&str, OAuthError> {
    let v = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            OAuthError::invalid_token("An access token is required (Authorization: Bearer …).")
        })?;
    v.strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))
        .map(str::trim)
        .ok_or_else(|| OAuthError::invalid_token("Use the Bearer scheme."))
}

/// `GET|POST /userinfo`
pub async fn userinfo(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, OAuthError> {
    let now = now_ms();
    let claims = tokens::verify_access_token(&state, bearer(&headers)?)?;
    let grant = state
        .store
        .access_token_active(&claims.jti, now)
        .await?
        .ok_or_else(|| OAuthError::invalid_token("The access token was revoked or has expired."))?;
    // The token's own (signed) scope: a refresh may have narrowed it below the grant's.
    if !tokens::scopes(&claims.scope).contains(&"openid") {
        return Err(OAuthError::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "The token was not issued for openid.",
        ));
    }
    let user_id = grant
        .user_id
        .as_deref()
        .ok_or_else(|| OAuthError::invalid_token("This token belongs to no user."))?;
    let user = state
        .store
        .user_by_id(user_id)
        .await?
        .filter(|u| u.enabled)
        .ok_or_else(|| OAuthError::invalid_token("The user is no longer active."))?;
    let client = state
        .store
        .client(&grant.client_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_token("Unknown client."))?;
    Ok(Json(Value::Object(
        tokens::user_claims(&state, &client, &claims.scope, &user).await?,
    )))
}
