//! `grant_type=refresh_token` (RFC 6749 §6) with rotation: every use returns a new
//! refresh token, and presenting a used one revokes the whole family (RFC 9700 §4.14.2).

use super::{GrantHandler, TokenRequest};
use crate::oidc::error::OAuthError;
use crate::oidc::tokens;
use futures_util::future::BoxFuture;
use keyfort_store::{Issuance, RevokeReason, Spend};
use serde_json::{Value, json};

pub struct RefreshToken;

impl GrantHandler for RefreshToken {
    fn grant_type(&self) -> &'static str {
        "refresh_token"
    }
    fn public_clients(&self) -> bool {
        true
    }
    fn handle<'a>(&'a self, req: TokenRequest<'a>) -> BoxFuture<'a, Result<Value, OAuthError>> {
        Box::pin(refresh(req))
    }
}

async fn refresh(req: TokenRequest<'_>) -> Result<Value, OAuthError> {
    let TokenRequest {
        state, client, now, ..
    } = req;
    let presented = req.param("refresh_token")?;
    let hash = crate::crypto::token_hash(presented);
    let invalid = || OAuthError::invalid_grant("The refresh token is invalid, expired or revoked.");
    // The token, its grant and the grant's user in one read.
    let (record, grant, user) = state
        .store
        .refresh_token_with_grant(&hash)
        .await?
        .ok_or_else(invalid)?;
    if grant.client_id != client.id {
        return Err(invalid());
    }
    if record.used_at.is_some() {
        return Err(reuse(state, &grant, now).await?);
    }
    if now >= record.expires_at
        || grant.revoked_at.is_some()
        || grant.not_after.is_some_and(|n| now >= n)
    {
        return Err(invalid());
    }
    // RFC 6749 §6: the tokens carry the requested scope, never more than the grant's.
    let scope = keyfort_core::oidc::refreshed_scope(
        &grant.scope,
        req.form.get("scope").map(String::as_str),
    )
    .map_err(|w| {
        OAuthError::invalid_scope(format!(
            "A refresh cannot widen the granted scope (\"{}\" was not granted).",
            w.scope
        ))
    })?;
    if !user.enabled {
        state
            .store
            .revoke_grant(&grant, RevokeReason::UserDisabled, now)
            .await?;
        return Err(invalid());
    }
    let access = tokens::prepare_access(state, &grant, &scope, now)?;
    let (next, next_record) = tokens::prepare_refresh(&grant, now);
    // One commit: the presented token is spent and its successor recorded together.
    let issued = state
        .store
        .issue(&Issuance {
            spend: Spend::RefreshToken(&hash),
            new_grant: None,
            access: Some((&access.claims.jti, &grant.id, access.expires_at)),
            refresh: Some(&next_record),
            now,
        })
        .await?;
    if !issued {
        return Err(reuse(state, &grant, now).await?);
    }
    let (access, expires_in) = access.sign(state, now)?;
    let mut answer = json!({
        "access_token": access, "token_type": "Bearer", "expires_in": expires_in, "refresh_token": next,
        "scope": scope,
    });
    // An ID token only for a scope that still asks for one (OpenID Connect Core §12.2).
    if tokens::scopes(&scope).contains(&"openid") {
        answer["id_token"] =
            tokens::id_token(state, client, &grant, &scope, &user, Some(&access), now)
                .await?
                .into();
    }
    Ok(answer)
}

/// A refresh token presented twice: the whole family is revoked, audited in the same
/// commit (once: a family revoked before writes nothing).
async fn reuse(
    state: &crate::state::AppState,
    grant: &keyfort_store::GrantRecord,
    now: i64,
) -> Result<OAuthError, OAuthError> {
    state
        .store
        .revoke_grant(grant, RevokeReason::RefreshReuse, now)
        .await?;
    Ok(OAuthError::invalid_grant(
        "The refresh token is invalid, expired or revoked.",
    ))
}
