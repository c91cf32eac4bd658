//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): `id_token_hint`,
//! `post_logout_redirect_uri` matched exactly, `state`.

use crate::error::ApiError;
use crate::extract::{CurrentSession, clear_session_cookie};
use crate::headers::csp_allowing_form_target;
use crate::pages::logout_confirm_page;
use crate::refusals::logout_page;
use crate::state::{AppState, now_ms};
use axum::extract::{Query, RawForm, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use jsonwebtoken::Validation;
use keyfort_core::oidc::{LogoutRefusal, logout_client, logout_redirect};
use serde::Deserialize;
use url::Url;

#[derive(Debug, Default, Deserialize)]
pub struct LogoutParams {
    id_token_hint: Option<String>,
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    /// Set by Keyfort's own confirmation form.
    confirm: Option<String>,
}

#[derive(Deserialize)]
struct HintClaims {
    aud: serde_json::Value,
    sub: String,
    sid: Option<String>,
}

/// Verifies an ID token Keyfort issued (an expired one is fine as a hint).
fn verify_hint(state: &AppState, token: &str) -> Option<HintClaims> {
    let header = jsonwebtoken::decode_header(token).ok()?;
    let ring = state.keys();
    let key = ring.by_kid(header.kid.as_deref()?)?;
    let mut v = Validation::new(key.alg);
    v.set_issuer(&[&state.issuer]);
    v.validate_exp = false;
    v.validate_aud = false;
    v.set_required_spec_claims(&["iss", "sub", "aud"]);
    jsonwebtoken::decode::<HintClaims>(token, &key.decoding, &v)
        .ok()
        .map(|d| d.claims)
}

/// Ends the browser session (and, where configured, the tokens issued in it).
pub async fn end_session(state: &AppState, current: &CurrentSession) -> Result<(), ApiError> {
    // One commit: the session, its grants (where configured) and the audit row.
    state
        .store
        .end_session(
            &current.session.id,
            &current.user.id,
            state.signout_revokes_tokens,
            now_ms(),
        )
        .await?;
    Ok(())
}

pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<LogoutParams>,
) -> Response {
    logout(&state, &headers, p, false).await
}

pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawForm(body): RawForm,
) -> Response {
    match serde_urlencoded::from_bytes::<LogoutParams>(&body) {
        Ok(p) => logout(&state, &headers, p, true).await,
        Err(_) => logout_page(LogoutRefusal::Unreadable),
    }
}

async fn logout(state: &AppState, headers: &HeaderMap, p: LogoutParams, posted: bool) -> Response {
    let hint = match p.id_token_hint.as_deref() {
        Some(t) => match verify_hint(state, t) {
            Some(h) => Some(h),
            None => return logout_page(LogoutRefusal::ForeignHint),
        },
        None => None,
    };
    let hinted_client = hint.as_ref().and_then(|h| match &h.aud {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Array(a) => a.first().and_then(|v| v.as_str()).map(str::to_string),
        _ => None,
    });
    let client_id = match logout_client(hinted_client.as_deref(), p.client_id.as_deref()) {
        Ok(c) => c,
        Err(r) => return logout_page(r),
    };
    // The application is named only as registered: an unknown client_id is refused, never
    // printed (it is the caller's text, not Keyfort's).
    let client = match client_id {
        Some(id) => match state.store.client(id).await {
            Ok(Some(c)) => Some(c),
            Ok(None) => return logout_page(LogoutRefusal::UnknownClient),
            Err(e) => return ApiError::from(e).into_response(),
        },
        None => None,
    };
    let registered = client.as_ref().map(|c| c.post_logout_uri_list());
    let redirect =
        match logout_redirect(registered.as_deref(), p.post_logout_redirect_uri.as_deref()) {
            Ok(r) => r.map(str::to_string),
            Err(r) => return logout_page(r),
        };
    let current = match CurrentSession::load(state, headers).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    if let Some(current) = &current {
        // Without proof that the application asked (a valid hint for this user), ask the person first.
        let proven = hint.as_ref().is_some_and(|h| {
            h.sub == current.user.id && h.sid.as_deref().is_none_or(|s| s == current.session.id)
        });
        let confirmed = posted && p.confirm.as_deref() == Some("yes");
        if !proven && !confirmed {
            let mut page = logout_confirm_page(
                client.as_ref().map(|c| (c.id.as_str(), c.name.as_str())),
                p.post_logout_redirect_uri.as_deref(),
                p.state.as_deref(),
                p.id_token_hint.as_deref(),
            );
            // The confirmed sign-out redirects to the registered URI: the page's
            // form-action must allow that origin, and only that one.
            let target = redirect.as_deref().and_then(|r| Url::parse(r).ok());
            if let Some(csp) =
                target.and_then(|u| csp_allowing_form_target(&u.origin().ascii_serialization()))
            {
                page.headers_mut()
                    .insert(header::CONTENT_SECURITY_POLICY, csp);
            }
            return page;
        }
        if let Err(e) = end_session(state, current).await {
            return e.into_response();
        }
    }
    let mut response = match redirect.and_then(|r| Url::parse(&r).ok()) {
        Some(mut url) => {
            if let Some(s) = &p.state {
                url.query_pairs_mut().append_pair("state", s);
            }
            Redirect::to(url.as_str()).into_response()
        }
        None => crate::pages::signed_out_page(),
    };
    if let Ok(v) = HeaderValue::from_str(&clear_session_cookie(state.rp.secure_cookies)) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}
