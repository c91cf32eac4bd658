//! The UserInfo endpoint (OpenID Connect Core §5.3), for Keyfort's own access tokens.

use super::error::OAuthError;
use super::tokens;
use crate::state::{AppState, now_ms};
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use keyfort_core::token::BearerRefusal;
use serde_json::Value;

/// `GET|POST /userinfo`
pub async fn userinfo(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, OAuthError> {
    let now = now_ms();
    let claims = tokens::verify_access_token(&state, crate::extract::bearer(&headers)?)?;
    let grant = state
        .store
        .access_token_active(&claims.jti, now)
        .await?
        .ok_or(BearerRefusal::Revoked)?;
    // The token's own (signed) scope: a refresh may have narrowed it below the grant's.
    if !tokens::scopes(&claims.scope).contains(&"openid") {
        return Err(BearerRefusal::InsufficientScope.into());
    }
    let user_id = grant.user_id.as_deref().ok_or(BearerRefusal::NoUser)?;
    let user = state
        .store
        .user_by_id(user_id)
        .await?
        .filter(|u| u.enabled)
        .ok_or(BearerRefusal::UserInactive)?;
    let client = state
        .store
        .client(&grant.client_id)
        .await?
        .ok_or(BearerRefusal::UnknownClient)?;
    Ok(Json(Value::Object(
        tokens::user_claims(&state, &client, &claims.scope, &user).await?,
    )))
}
