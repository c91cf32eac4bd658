//! The authorization endpoint (OpenID Connect Core §3.1.2): `response_type=code`
//! only, exact redirect URIs, PKCE S256 (required for public clients), prompt,
//! max_age and acr_values. A request that needs the user to sign in (again) waits,
//! sealed in the browser's URL, while they do; the sign-in answers it as it completes
//! ([`prepare_answer`], committed with the sign-in), and `/authorize/continue` answers
//! what it left.
//!
//! By stage: [`request`] reads and validates a request (the rules are
//! `keyfort_core::authorize::validate`) and keeps it while it waits; [`decision`] loads
//! what deciding needs and asks `keyfort_core::authorize::assess`; [`answer`] commits and
//! renders the answer.

mod answer;
mod decision;
mod request;

pub use answer::{PreparedAnswer, prepare_answer};
pub use keyfort_core::authorize::SUPPORTED_SCOPES;
pub use request::{Pending, Waiting, pending};

use crate::refusals::authorize_page;
use crate::state::{AppState, now_ms};
use axum::extract::{Query, RawForm, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use keyfort_core::authorize::{AuthorizeParams, AuthorizeRefusal};
use keyfort_core::oidc::redirect_uri_matches;
use serde::Deserialize;

/// `GET /authorize`
pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<AuthorizeParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    match query {
        Ok(Query(p)) => authorize(&state, &headers, p).await,
        Err(_) => authorize_page(AuthorizeRefusal::Unreadable),
    }
}

/// `POST /authorize` (form-encoded, OpenID Connect Core §3.1.2.1)
pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawForm(body): RawForm,
) -> Response {
    match serde_urlencoded::from_bytes::<AuthorizeParams>(&body) {
        Ok(p) => authorize(&state, &headers, p).await,
        Err(_) => authorize_page(AuthorizeRefusal::Unreadable),
    }
}

async fn authorize(state: &AppState, headers: &HeaderMap, p: AuthorizeParams) -> Response {
    let now = now_ms();
    // Until the client and redirect URI are known good, errors go to the person, never to a URI.
    let client_id = match p.client_id() {
        Ok(id) => id,
        Err(r) => return authorize_page(r),
    };
    let client =
        match request::registered_client(state, client_id, AuthorizeRefusal::UnknownClient).await {
            Ok(c) => c,
            Err(page) => return page,
        };
    let Some(redirect_uri) = p.redirect_uri.as_deref() else {
        return authorize_page(AuthorizeRefusal::RedirectUriMissing);
    };
    if !redirect_uri_matches(&client.redirect_uri_list(), redirect_uri) {
        return authorize_page(AuthorizeRefusal::RedirectUriMismatch);
    }
    let admin = match request::allows_admin_scope(state, &client, &p).await {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    match request::validate(&client, admin, &p, now) {
        Ok(pending) => answer::decide(state, headers, &client, pending, None, now).await,
        Err(r) => crate::oidc::error::OAuthError::from(r).redirect(
            redirect_uri,
            p.state.as_deref(),
            &state.issuer,
        ),
    }
}

#[derive(Deserialize)]
pub struct ContinueParams {
    request: String,
}

/// `GET /authorize/continue?request=…`: after sign-in, answer the waiting request.
pub async fn resume(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ContinueParams>,
) -> Response {
    let now = now_ms();
    let (pending, waiting) = match pending(&state, &q.request, now).await {
        Ok(Some(p)) => p,
        Ok(None) => return authorize_page(AuthorizeRefusal::RequestExpired),
        Err(e) => return e.into_response(),
    };
    let client =
        match request::registered_client(&state, &pending.client_id, AuthorizeRefusal::ClientGone)
            .await
        {
            Ok(c) => c,
            Err(page) => return page,
        };
    answer::decide(&state, &headers, &client, pending, Some(&waiting), now).await
}
