//! `grant_type=authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.6).

use super::{GrantHandler, TokenRequest};
use crate::oidc::error::OAuthError;
use crate::oidc::tokens;
use base64::Engine;
use futures_util::future::BoxFuture;
use keyfort_core::token::{CodeFacts, CodeVerdict, ExchangeFacts, TokenRefusal, assess_code};
use keyfort_store::{Issuance, RevokeReason, Spend};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub struct AuthorizationCode;

impl GrantHandler for AuthorizationCode {
    fn grant_type(&self) -> &'static str {
        "authorization_code"
    }
    fn public_clients(&self) -> bool {
        true
    }
    fn handle<'a>(&'a self, req: TokenRequest<'a>) -> BoxFuture<'a, Result<Value, OAuthError>> {
        Box::pin(exchange(req))
    }
}

/// RFC 7636 §4.6: BASE64URL(SHA256(verifier)) equals the challenge, compared in
/// constant time.
fn s256_matches(verifier: &str, challenge: &str) -> bool {
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    aws_lc_rs::constant_time::verify_slices_are_equal(computed.as_bytes(), challenge.as_bytes())
        .is_ok()
}

async fn exchange(req: TokenRequest<'_>) -> Result<Value, OAuthError> {
    let TokenRequest {
        state, client, now, ..
    } = req;
    let code = req.param("code")?;
    let redirect_uri = req.param("redirect_uri")?;
    let hash = crate::crypto::token_hash(code);
    let record = state.store.code(&hash).await?;
    let grant = match &record {
        Some(r) => state.store.grant(&r.grant_id).await?,
        None => None,
    };
    let user = match grant.as_ref().and_then(|g| g.user_id.as_deref()) {
        Some(id) => state.store.user_by_id(id).await?,
        None => None,
    };
    let facts = ExchangeFacts {
        code: record.as_ref().zip(grant.as_ref()).map(|(r, g)| CodeFacts {
            client_id: &g.client_id,
            used: r.used_at.is_some(),
            expires_at: r.expires_at,
            grant_revoked: g.revoked_at.is_some(),
            redirect_uri: &r.redirect_uri,
            code_challenge: r.code_challenge.as_deref(),
            user_enabled: user.as_ref().is_some_and(|u| u.enabled),
        }),
        client_id: &client.id,
        redirect_uri,
        code_verifier: req.form.get("code_verifier").map(String::as_str),
    };
    let (grant, user) = match (assess_code(facts, now, s256_matches), grant, user) {
        (CodeVerdict::Exchange, Some(grant), Some(user)) => (grant, user),
        (
            CodeVerdict::Refuse {
                refusal,
                revoke_grant,
            },
            grant,
            _,
        ) => {
            if let (true, Some(g)) = (revoke_grant, &grant) {
                state
                    .store
                    .revoke_grant(g, RevokeReason::CodeReplay, now)
                    .await?;
            }
            return Err(refusal.into());
        }
        (CodeVerdict::Exchange, _, _) => return Err(OAuthError::server_error()),
    };
    let invalid = || OAuthError::from(TokenRefusal::InvalidCode);
    let access = tokens::prepare_access(state, &grant, &grant.scope, now)?;
    let refresh = (tokens::scopes(&grant.scope).contains(&"offline_access")
        && client.allows_grant("refresh_token"))
    .then(|| tokens::prepare_refresh(&grant, now));
    // One commit: the code is spent and the new tokens recorded together.
    let issued = state
        .store
        .issue(&Issuance {
            spend: Spend::Code(&hash),
            new_grant: None,
            access: Some((&access.claims.jti, &grant.id, access.expires_at)),
            refresh: refresh.as_ref().map(|(_, r)| r),
            now,
        })
        .await?;
    if !issued {
        state
            .store
            .revoke_grant(&grant, RevokeReason::CodeReplay, now)
            .await?;
        return Err(invalid());
    }
    let (access_token, expires_in) = access.sign(state, now)?;
    let id_token = tokens::id_token(
        state,
        client,
        &grant,
        &grant.scope,
        &user,
        Some(&access_token),
        now,
    )
    .await?;
    let mut out = json!({
        "access_token": access_token, "token_type": "Bearer", "expires_in": expires_in, "id_token": id_token, "scope": grant.scope,
    });
    if let Some((token, _)) = refresh {
        out["refresh_token"] = json!(token);
    }
    Ok(out)
}
