//! `/.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §3) and the JWKS.

use super::authorize::SUPPORTED_SCOPES;
use super::client_auth::AUTH_METHODS;
use super::keyring::{ALGORITHMS, alg_name};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::response::IntoResponse;
use keyfort_core::authorize::ADMIN_SCOPE;
use keyfort_core::strength::{ACR_MFA, ACR_PASSWORDLESS, ACR_PHISHING_RESISTANT};
use serde_json::{Value, json};

pub fn document(issuer: &str) -> Value {
    let algs: Vec<&str> = ALGORITHMS.iter().map(|a| alg_name(*a)).collect();
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/jwks"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "introspection_endpoint": format!("{issuer}/introspect"),
        "end_session_endpoint": format!("{issuer}/logout"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": ["ES256", "ES384", "EdDSA", "RS256", "PS256"],
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "introspection_endpoint_auth_methods_supported": &AUTH_METHODS[..3],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ([&SUPPORTED_SCOPES[..], &[ADMIN_SCOPE]].concat()),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid", "azp", "at_hash",
            "name", "given_name", "family_name", "preferred_username", "email", "groups"],
        // Keyfort's authentication strengths: multi-factor, passwordless, phishing-resistant.
        "acr_values_supported": [ACR_MFA, ACR_PASSWORDLESS, ACR_PHISHING_RESISTANT],
        "prompt_values_supported": ["none", "login", "select_account"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "frontchannel_logout_supported": false,
        "backchannel_logout_supported": false,
    })
}

pub async fn openid_configuration(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(CACHE_CONTROL, "public, max-age=300")],
        Json(document(&state.issuer)),
    )
}

pub async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(CACHE_CONTROL, "public, max-age=300")],
        Json(state.keys().jwks()),
    )
}
