//! The token endpoint (RFC 6749 §3.2). One handler per grant type behind the
//! small [`GrantHandler`] trait: adding a grant adds a module and a line in [`HANDLERS`].

mod authorization_code;
mod client_credentials;
mod refresh_token;

use super::client_auth;
use super::error::OAuthError;
use crate::extract::ClientInfo;
use crate::state::{AppState, now_ms};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use keyfort_core::token::TokenRequestRefusal;
use keyfort_store::{ClientRecord, SignInEvent};
use serde_json::Value;
use std::collections::HashMap;

/// What a grant handler gets: the authenticated client and the request form.
pub struct TokenRequest<'a> {
    pub state: &'a AppState,
    pub client: &'a ClientRecord,
    pub form: &'a HashMap<String, String>,
    pub now: i64,
}

impl TokenRequest<'_> {
    pub fn param(&self, name: &'static str) -> Result<&str, OAuthError> {
        self.form
            .get(name)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| TokenRequestRefusal::MissingParameter(name).into())
    }
}

pub trait GrantHandler: Sync {
    fn grant_type(&self) -> &'static str;
    /// Whether a public client (no secret) may use this grant.
    fn public_clients(&self) -> bool;
    fn handle<'a>(&'a self, req: TokenRequest<'a>) -> BoxFuture<'a, Result<Value, OAuthError>>;
}

pub static HANDLERS: [&dyn GrantHandler; 3] = [
    &authorization_code::AuthorizationCode,
    &refresh_token::RefreshToken,
    &client_credentials::ClientCredentials,
];

/// Grants Keyfort refuses on principle; asking for one is logged as legacy authentication.
const LEGACY_GRANTS: [&str; 1] = ["password"];

/// RFC 6749 §3.2: a form-encoded body, each parameter at most once.
pub fn parse_form(headers: &HeaderMap, body: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !form_type {
        return Err(TokenRequestRefusal::NotAForm.into());
    }
    let mut form = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(body) {
        // RFC 6749 §3.2: parameters must not be included more than once.
        if form.insert(k.into_owned(), v.into_owned()).is_some() {
            return Err(TokenRequestRefusal::RepeatedParameter.into());
        }
    }
    Ok(form)
}

fn no_store(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

/// `POST /token`
pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: ClientInfo,
    body: Bytes,
) -> Response {
    no_store(match handle(&state, &headers, &client, &body).await {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => e.into_response(),
    })
}

async fn handle(
    state: &AppState,
    headers: &HeaderMap,
    info: &ClientInfo,
    body: &[u8],
) -> Result<Value, OAuthError> {
    let now = now_ms();
    let form = parse_form(headers, body)?;
    let grant_type = form
        .get("grant_type")
        .map(String::as_str)
        .ok_or(TokenRequestRefusal::MissingParameter("grant_type"))?;
    if LEGACY_GRANTS.contains(&grant_type) {
        state
            .store
            .log_signin(
                &SignInEvent {
                    at: now,
                    user_id: None,
                    username: form.get("username").map(|u| u.chars().take(128).collect()),
                    method: "password_grant",
                    outcome: "failure",
                    reason: TokenRequestRefusal::LegacyGrant.code(),
                    ip: info.ip.clone(),
                    user_agent: info.user_agent.clone(),
                },
                None,
            )
            .await?;
        return Err(TokenRequestRefusal::LegacyGrant.into());
    }
    let handler = HANDLERS
        .iter()
        .find(|h| h.grant_type() == grant_type)
        .ok_or_else(|| {
            TokenRequestRefusal::UnsupportedGrant(grant_type.chars().take(64).collect())
        })?;
    let client = client_auth::authenticate(
        state,
        headers,
        &form,
        handler.public_clients(),
        info.ip.as_deref(),
        now,
    )
    .await?;
    if !client.allows_grant(grant_type) {
        return Err(TokenRequestRefusal::GrantNotAllowed(grant_type.to_string()).into());
    }
    handler
        .handle(TokenRequest {
            state,
            client: &client,
            form: &form,
            now,
        })
        .await
}
