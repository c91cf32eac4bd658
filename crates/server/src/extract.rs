//! Request extractors: JSON bodies with stable errors, client facts, the session.

use crate::crypto::token_hash;
use crate::error::ApiError;
use crate::refusals::RequestRefusal;
use crate::state::{AppState, now_ms};
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use keyfort_core::session::session_alive;
use keyfort_core::token::BearerRefusal;
use keyfort_store::{SessionRecord, User};
use serde::de::DeserializeOwned;
use std::net::SocketAddr;

pub const SESSION_COOKIE: &str = "keyfort_session";
/// Largest request body accepted anywhere (a WebAuthn response is a few KiB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON body whose every failure is an [`ApiError`] with a stable code.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

pub fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => RequestRefusal::UnsupportedMediaType,
        JsonRejection::BytesRejection(_) => RequestRefusal::PayloadTooLarge,
        JsonRejection::JsonSyntaxError(_) => RequestRefusal::MalformedJson,
        JsonRejection::JsonDataError(e) => RequestRefusal::InvalidShape(e.body_text()),
        _ => RequestRefusal::Unreadable,
    }
    .into()
}

/// Who is on the other end, for the logs.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    /// The client's address (see `throttle::client_ip`), for the per-address limits.
    pub addr: Option<std::net::IpAddr>,
    /// The same, as the logs keep it.
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl FromRequestParts<AppState> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let forwarded = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok());
        let addr = crate::throttle::client_ip(peer, forwarded, &state.throttles.trusted_proxies);
        let ip = addr.map(|a| a.to_string());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect());
        Ok(ClientInfo {
            addr,
            ip,
            user_agent,
        })
    }
}

/// The token of an `Authorization: Bearer` header (RFC 6750 §2.1).
pub(crate) fn bearer(headers: &HeaderMap) -> Result<&str, BearerRefusal> {
    let v = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(BearerRefusal::Missing)?;
    v.strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))
        .map(str::trim)
        .ok_or(BearerRefusal::NotBearer)
}

pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A signed-in browser session and its user.
#[derive(Debug, Clone)]
pub struct CurrentSession {
    pub session: SessionRecord,
    pub user: User,
}

impl CurrentSession {
    /// Looks the session cookie up; `None` when absent, unknown, expired, idle or the user is disabled.
    pub async fn load(
        state: &AppState,
        headers: &HeaderMap,
    ) -> Result<Option<CurrentSession>, ApiError> {
        let Some(token) = cookie_value(headers, SESSION_COOKIE) else {
            return Ok(None);
        };
        if token.is_empty() || token.len() > 128 {
            return Ok(None);
        }
        let Some((session, user)) = state.store.session_with_user(&token_hash(token)).await? else {
            return Ok(None);
        };
        let now = now_ms();
        let facts = session.facts();
        if !session_alive(&facts, state.session, now).is_allowed() {
            state.store.delete_session(&session.id).await?;
            return Ok(None);
        }
        if !user.enabled {
            return Ok(None);
        }
        state.store.touch_session(&session, now).await?;
        Ok(Some(CurrentSession { session, user }))
    }
}

impl FromRequestParts<AppState> for CurrentSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        CurrentSession::load(state, &parts.headers)
            .await?
            .ok_or_else(|| RequestRefusal::NotSignedIn.into())
    }
}

/// `Set-Cookie` for a new session.
pub fn session_cookie(token: &str, max_age_secs: i64, secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_session_cookie(secure: bool) -> String {
    session_cookie("", 0, secure)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn finds_cookie_among_others() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; keyfort_session=tok; b=2"),
        );
        assert_eq!(cookie_value(&h, SESSION_COOKIE), Some("tok"));
        assert_eq!(cookie_value(&h, "c"), None);
    }

    #[test]
    fn cookie_attributes() {
        let c = session_cookie("t", 60, true);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.ends_with("; Secure"));
        assert!(!session_cookie("t", 60, false).contains("Secure"));
    }
}
