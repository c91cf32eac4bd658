//! `grant_type=authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.6).

use super::{GrantHandler, TokenRequest};
use crate::oidc::error::OAuthError;
use crate::oidc::tokens;
use base64::Engine;
use futures_util::future::BoxFuture;
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

/// RFC 7636 §4.1: 43–128 unreserved characters.
fn valid_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

async fn exchange(req: TokenRequest<'_>) -> Result<Value, OAuthError> {
    let TokenRequest {
        state, client, now, ..
    } = req;
    let code = req.param("code")?;
    let redirect_uri = req.param("redirect_uri")?;
    let verifier = req.form.get("code_verifier");
    let hash = crate::crypto::token_hash(code);
    let invalid =
        || OAuthError::invalid_grant("The authorization code is invalid, expired or already used.");
    let record = state.store.code(&hash).await?.ok_or_else(invalid)?;
    let grant = state
        .store
        .grant(&record.grant_id)
        .await?
        .ok_or_else(invalid)?;
    if grant.client_id != client.id {
        return Err(OAuthError::invalid_grant(
            "The authorization code was issued to another client.",
        ));
    }
    if record.used_at.is_some() {
        // RFC 6749 §4.1.2 / RFC 9700 §4.5: a replayed code revokes what it issued.
        state
            .store
            .revoke_grant(&grant, RevokeReason::CodeReplay, now)
            .await?;
        return Err(invalid());
    }
    if now >= record.expires_at || grant.revoked_at.is_some() {
        return Err(invalid());
    }
    if record.redirect_uri != redirect_uri {
        return Err(OAuthError::invalid_grant(
            "redirect_uri does not match the authorization request.",
        ));
    }
    match (&record.code_challenge, verifier) {
        (Some(challenge), Some(v)) => {
            if !valid_verifier(v) {
                return Err(OAuthError::invalid_grant("The code_verifier is malformed."));
            }
            let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(Sha256::digest(v.as_bytes()));
            if aws_lc_rs::constant_time::verify_slices_are_equal(
                computed.as_bytes(),
                challenge.as_bytes(),
            )
            .is_err()
            {
                return Err(OAuthError::invalid_grant(
                    "The code_verifier does not match the code_challenge.",
                ));
            }
        }
        (Some(_), None) => return Err(OAuthError::invalid_grant("code_verifier is required.")),
        // RFC 9700 §2.1.1: a verifier without a challenge is a downgrade attempt.
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "No code_challenge was sent with this authorization.",
            ));
        }
        (None, None) => {}
    }
    let user_id = grant.user_id.as_deref().ok_or_else(invalid)?;
    let user = state
        .store
        .user_by_id(user_id)
        .await?
        .filter(|u| u.enabled)
        .ok_or_else(invalid)?;
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
