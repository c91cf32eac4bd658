//! `grant_type=client_credentials` (RFC 6749 §4.4): confidential clients only.

use super::{GrantHandler, TokenRequest};
use crate::oidc::error::OAuthError;
use crate::oidc::tokens;
use futures_util::future::BoxFuture;
use keyfort_core::token::{TokenRequestRefusal, service_scope};
use keyfort_store::{GrantRecord, Issuance, Spend};
use serde_json::{Value, json};

pub struct ClientCredentials;

impl GrantHandler for ClientCredentials {
    fn grant_type(&self) -> &'static str {
        "client_credentials"
    }
    fn public_clients(&self) -> bool {
        false
    }
    fn handle<'a>(&'a self, req: TokenRequest<'a>) -> BoxFuture<'a, Result<Value, OAuthError>> {
        Box::pin(issue(req))
    }
}

async fn issue(req: TokenRequest<'_>) -> Result<Value, OAuthError> {
    let TokenRequest {
        state,
        client,
        now,
        form,
    } = req;
    if client.public_client {
        return Err(TokenRequestRefusal::PublicClientCredentials.into());
    }
    let grant = GrantRecord {
        id: crate::crypto::ordered_id(),
        client_id: client.id.clone(),
        user_id: None,
        session_id: None,
        scope: service_scope(form.get("scope").map(String::as_str))?,
        auth_time: None,
        acr: None,
        amr: "[]".into(),
        nonce: None,
        not_after: None,
        created_at: now,
        revoked_at: None,
    };
    let access = tokens::prepare_access(state, &grant, &grant.scope, now)?;
    // One commit: the grant and its access token.
    state
        .store
        .issue(&Issuance {
            spend: Spend::Nothing,
            new_grant: Some(&grant),
            access: Some((&access.claims.jti, &grant.id, access.expires_at)),
            refresh: None,
            now,
        })
        .await?;
    let (access, expires_in) = access.sign(state, now)?;
    Ok(
        json!({ "access_token": access, "token_type": "Bearer", "expires_in": expires_in, "scope": grant.scope }),
    )
}
