//! `grant_type=refresh_token` (RFC 6749 §6) with rotation: every use returns a new
//! refresh token, and presenting a used one revokes the whole family (RFC 9700 §4.14.2).

use super::{GrantHandler, TokenRequest};
use crate::oidc::error::OAuthError;
use crate::oidc::tokens;
use futures_util::future::BoxFuture;
use keyfort_core::refresh::{RefreshFacts, RefreshRefusal, RefreshRequest, assess_refresh};
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
    // The token, its grant and the grant's user in one read.
    let loaded = state.store.refresh_token_with_grant(&hash).await?;
    let decided = assess_refresh(
        RefreshRequest {
            token: loaded.as_ref().map(|(record, grant, user)| RefreshFacts {
                grant_client_id: &grant.client_id,
                used: record.used_at.is_some(),
                expires_at: record.expires_at,
                grant_revoked: grant.revoked_at.is_some(),
                grant_not_after: grant.not_after,
                granted_scope: &grant.scope,
                user_enabled: user.enabled,
            }),
            client_id: &client.id,
            requested_scope: req.form.get("scope").map(String::as_str),
        },
        now,
    );
    let (scope, (_, grant, user)) = match (decided, loaded) {
        (Ok(scope), Some(loaded)) => (scope, loaded),
        (Err(refusal), Some((_, grant, _))) => {
            return Err(refuse(state, &grant, refusal, now).await?);
        }
        (Err(refusal), None) => return Err(refusal.into()),
        (Ok(_), None) => return Err(OAuthError::server_error()),
    };
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
        // Spent by a concurrent request since it was read: a reuse.
        return Err(refuse(state, &grant, RefreshRefusal::Reused, now).await?);
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

/// Answers a refused refresh. A reuse revokes the whole family and a disabled user's
/// grant goes too, audited in the same commit (once: a family revoked before writes
/// nothing).
async fn refuse(
    state: &crate::state::AppState,
    grant: &keyfort_store::GrantRecord,
    refusal: RefreshRefusal,
    now: i64,
) -> Result<OAuthError, OAuthError> {
    if refusal.revokes_grant() {
        let reason = match refusal {
            RefreshRefusal::Reused => RevokeReason::RefreshReuse,
            _ => RevokeReason::UserDisabled,
        };
        state.store.revoke_grant(grant, reason, now).await?;
    }
    Ok(refusal.into())
}
