//! Token revocation (RFC 7009) and introspection (RFC 7662).

use super::client_auth;
use super::error::OAuthError;
use super::tokens;
use crate::extract::ClientInfo;
use crate::state::{AppState, now_ms};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::{Value, json};
use std::collections::HashMap;

fn token_param(f: &HashMap<String, String>) -> Result<&str, OAuthError> {
    f.get("token")
        .map(String::as_str)
        .filter(|t| !t.is_empty() && t.len() <= 8192)
        .ok_or_else(|| keyfort_core::token::TokenRequestRefusal::MissingParameter("token").into())
}

/// `POST /revoke`: always 200 for a well-formed request by an authenticated client,
/// whether or not the token was valid (RFC 7009 §2.2).
pub async fn revoke(
    State(state): State<AppState>,
    info: ClientInfo,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, OAuthError> {
    let now = now_ms();
    let f = super::token::parse_form(&headers, &body)?;
    let client =
        client_auth::authenticate(&state, &headers, &f, true, info.ip.as_deref(), now).await?;
    let token = token_param(&f)?;
    if let Some(r) = state
        .store
        .refresh_token(&crate::crypto::token_hash(token))
        .await?
    {
        if let Some(g) = state.store.grant(&r.grant_id).await?
            && g.client_id == client.id
        {
            // Revoking a refresh token revokes the access tokens of its grant too (RFC 7009 §2.1).
            state
                .store
                .revoke_grant(&g, keyfort_store::RevokeReason::ClientRequest, now)
                .await?;
        }
    } else if let Ok(claims) = tokens::verify_access_token(&state, token)
        && claims.client_id == client.id
    {
        state
            .store
            .revoke_access_token(&claims.jti, &client.id, now)
            .await?;
    }
    Ok(Json(json!({})))
}

/// `POST /introspect`: confidential clients, about their own tokens.
pub async fn introspect(
    State(state): State<AppState>,
    info: ClientInfo,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, OAuthError> {
    let now = now_ms();
    let f = super::token::parse_form(&headers, &body)?;
    let client =
        client_auth::authenticate(&state, &headers, &f, false, info.ip.as_deref(), now).await?;
    let token = token_param(&f)?;
    let inactive = Json(json!({ "active": false }));
    if let Some(r) = state
        .store
        .refresh_token(&crate::crypto::token_hash(token))
        .await?
    {
        let Some(g) = state.store.grant(&r.grant_id).await? else {
            return Ok(inactive);
        };
        let active = g.client_id == client.id
            && r.used_at.is_none()
            && now < r.expires_at
            && g.revoked_at.is_none();
        if !active {
            return Ok(inactive);
        }
        return Ok(Json(json!({
            "active": true, "token_type": "refresh_token", "client_id": g.client_id, "scope": g.scope,
            "sub": g.user_id, "iss": state.issuer, "iat": r.created_at / 1000, "exp": r.expires_at / 1000,
        })));
    }
    let Ok(claims) = tokens::verify_access_token(&state, token) else {
        return Ok(inactive);
    };
    if claims.client_id != client.id
        || state
            .store
            .access_token_active(&claims.jti, now)
            .await?
            .is_none()
    {
        return Ok(inactive);
    }
    Ok(Json(json!({
        "active": true, "token_type": "Bearer", "client_id": claims.client_id, "scope": claims.scope, "sub": claims.sub,
        "aud": claims.aud, "iss": claims.iss, "iat": claims.iat, "exp": claims.exp, "jti": claims.jti,
        "auth_time": claims.auth_time, "acr": claims.acr, "amr": claims.amr,
    })))
}
