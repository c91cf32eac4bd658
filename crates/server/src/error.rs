//! Every refusal the HTTP layer gives: a status, a stable code and a human message.
//! This is the one place errors become HTTP.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// For a throttled request: the `Retry-After` seconds.
    pub retry_after_secs: Option<i64>,
    /// A refused bearer token: the answer carries `WWW-Authenticate: Bearer` (RFC 6750 §3).
    pub bearer_challenge: bool,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after_secs: None,
            bearer_challenge: false,
        }
    }

    /// 401 for a missing or refused bearer token, with its challenge.
    pub fn bearer(code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            bearer_challenge: true,
            ..ApiError::new(StatusCode::UNAUTHORIZED, code, message)
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::CONFLICT, code, message)
    }

    /// 429 with `Retry-After` (RFC 6585 §4), for a wait of `retry_after_ms`.
    pub fn too_many_attempts(retry_after_ms: i64) -> Self {
        let secs = keyfort_core::throttle::retry_after_secs(retry_after_ms);
        ApiError {
            retry_after_secs: Some(secs),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                format!("Too many attempts. Try again in {secs} s."),
            )
        }
    }

    pub fn internal() -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Something went wrong on our side. Try again.",
        )
    }

    pub fn unavailable() -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "The store is not reachable.",
        )
    }
}

/// A store error as the API's answer: through the application layer's mapping in
/// `refusals`, so both say the same.
impl From<keyfort_store::StoreError> for ApiError {
    fn from(e: keyfort_store::StoreError) -> Self {
        crate::app::AppError::from(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.code, "message": self.message });
        if let Some(secs) = self.retry_after_secs {
            body["retryAfterSeconds"] = json!(secs);
        }
        let mut r = (self.status, axum::Json(body)).into_response();
        if self.bearer_challenge {
            let challenge = if self.code == "token_required" {
                r#"Bearer realm="keyfort""#
            } else {
                r#"Bearer realm="keyfort", error="invalid_token""#
            };
            r.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static(challenge),
            );
        }
        if let Some(secs) = self.retry_after_secs {
            r.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(secs),
            );
        }
        r
    }
}
