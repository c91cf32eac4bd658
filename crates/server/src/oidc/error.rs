//! OAuth 2.0 errors in the standard format (RFC 6749 §5.2, OpenID Connect Core §3.1.2.6).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;
use url::Url;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{error}: {description}")]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
    /// For a throttled client: the `Retry-After` seconds.
    pub retry_after_secs: Option<i64>,
}

impl OAuthError {
    pub fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status,
            error,
            description: description.into(),
            retry_after_secs: None,
        }
    }
    /// 429 with `Retry-After`: too many failed authentications by this client from here.
    pub fn too_many_attempts(retry_after_ms: i64) -> Self {
        let secs = keyfort_core::throttle::retry_after_secs(retry_after_ms);
        OAuthError {
            retry_after_secs: Some(secs),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                format!("Too many failed client authentications. Try again in {secs} s."),
            )
        }
    }
    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", d)
    }
    pub fn invalid_client(d: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", d)
    }
    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", d)
    }
    pub fn unauthorized_client(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "unauthorized_client", d)
    }
    pub fn unsupported_grant_type(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "unsupported_grant_type", d)
    }
    pub fn invalid_scope(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_scope", d)
    }
    pub fn invalid_token(d: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_token", d)
    }
    pub fn server_error() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "Something went wrong on our side.",
        )
    }

    /// The error sent back to the client's redirect URI (RFC 6749 §4.1.2.1, RFC 9207 `iss`).
    pub fn redirect(&self, redirect_uri: &str, state: Option<&str>, issuer: &str) -> Response {
        match self.redirect_url(redirect_uri, state, issuer) {
            Some(url) => Redirect::to(&url).into_response(),
            None => self.clone().into_response(),
        }
    }

    /// Where [`OAuthError::redirect`] sends the browser; `None` when the redirect URI is
    /// not a URL.
    pub fn redirect_url(
        &self,
        redirect_uri: &str,
        state: Option<&str>,
        issuer: &str,
    ) -> Option<String> {
        let mut url = Url::parse(redirect_uri).ok()?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("error", self.error)
                .append_pair("error_description", &self.description);
            if let Some(s) = state {
                q.append_pair("state", s);
            }
            q.append_pair("iss", issuer);
        }
        Some(url.into())
    }
}

impl From<keyfort_store::StoreError> for OAuthError {
    fn from(e: keyfort_store::StoreError) -> Self {
        tracing::error!(error = %e, "store error");
        OAuthError::server_error()
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut r = (
            self.status,
            axum::Json(json!({ "error": self.error, "error_description": self.description })),
        )
            .into_response();
        let headers = r.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(secs) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            let challenge = if self.error == "invalid_token" {
                format!(
                    "Bearer error=\"invalid_token\", error_description=\"{}\"",
                    self.description.replace('"', "'")
                )
            } else {
                "Basic realm=\"keyfort\"".to_string()
            };
            if let Ok(v) = HeaderValue::from_str(&challenge) {
                headers.insert(header::WWW_AUTHENTICATE, v);
            }
        }
        r
    }
}
