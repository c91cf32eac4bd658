//! Server-rendered pages. Handlers only gather data and render.

use crate::error::ApiError;
use crate::extract::{CurrentSession, clear_session_cookie};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, SET_COOKIE};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage {
    client_name: Option<String>,
    needs_passkey: bool,
    login_hint: String,
    /// `?request=…` to carry to the pass page, or empty.
    request_query: String,
}

#[derive(Template)]
#[template(path = "logout.html")]
struct LogoutPage<'a> {
    client_name: Option<String>,
    client_id: Option<&'a str>,
    post_logout_redirect_uri: Option<&'a str>,
    state: Option<&'a str>,
    id_token_hint: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "tap.html")]
struct TapPage {
    username: String,
    request_query: String,
}

struct PasskeyView {
    id: String,
    display_name: String,
    type_label: &'static str,
    type_explanation: &'static str,
    aaguid: String,
    /// The provider's name, when known ("" otherwise: the AAGUID is shown).
    provider: String,
    attested: bool,
    created: String,
    last_used: String,
    possibly_cloned: bool,
    /// Why the policy in force refuses it at sign-in ("" when it accepts it).
    policy_code: &'static str,
    policy_message: &'static str,
    /// The only passkey that can sign the person in: they may not delete it.
    last_way_in: bool,
}

#[derive(Template)]
#[template(path = "security.html")]
struct SecurityPage {
    display_name: String,
    via_pass: bool,
    passkeys: Vec<PasskeyView>,
    /// The person's authenticator app: (added, last used).
    totp: Option<(String, String)>,
    /// Whether the policy lets them use one.
    totp_allowed: bool,
}

#[derive(Template)]
#[template(path = "signout.html")]
struct SignOutPage {
    /// (display name, username) while signed in.
    signed_in: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    display_name: String,
    client_name: Option<String>,
    /// `first_passkey`, `another_device`, `campaign` or `required`.
    reason: &'static str,
    /// While the campaign asks with enforcement on: the snoozes left.
    snoozes_left: Option<i64>,
    /// Whether the pass of this session works only once.
    one_time: bool,
    /// When the pass (and this session) ends.
    pass_expires: String,
    /// Where the person goes after, or instead of, setting up a passkey.
    next: String,
}

use crate::html::render;

fn when(ms: Option<i64>) -> String {
    let Some(ms) = ms else { return "never".into() };
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(ms / 1000)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| "unknown".into())
}

pub async fn home(State(state): State<AppState>, headers: HeaderMap) -> Result<Redirect, ApiError> {
    Ok(match CurrentSession::load(&state, &headers).await? {
        Some(_) => Redirect::to("/my/security"),
        None => Redirect::to("/signin"),
    })
}

#[derive(Deserialize)]
pub struct SignInQuery {
    request: Option<String>,
}

/// `GET /signin`, optionally for a waiting authorization request.
pub async fn signin(
    State(state): State<AppState>,
    Query(q): Query<SignInQuery>,
) -> Result<Response, ApiError> {
    let pending = match q.request.as_deref() {
        Some(id) => crate::oidc::authorize::pending(&state, id, crate::state::now_ms())
            .await?
            .map(|(p, _)| p),
        None => None,
    };
    let page = match &pending {
        Some(p) => SignInPage {
            client_name: Some(p.client_name.clone()),
            needs_passkey: p.needs_passkey(),
            login_hint: p
                .login_hint
                .clone()
                .unwrap_or_default()
                .chars()
                .take(128)
                .collect(),
            request_query: format!("?request={}", q.request.as_deref().unwrap_or_default()),
        },
        None => SignInPage {
            client_name: None,
            needs_passkey: false,
            login_hint: String::new(),
            request_query: String::new(),
        },
    };
    Ok(render(&page))
}

/// `GET /signin/setup`: "Set up your passkey" after a pass sign-in, then on to the
/// waiting request (or "My security"). A session that may not register one now goes
/// straight on.
pub async fn setup(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<SignInQuery>,
) -> Result<Response, ApiError> {
    let now = crate::state::now_ms();
    let pending = match q.request.as_deref() {
        Some(id) => crate::oidc::authorize::pending(&state, id, now)
            .await?
            .map(|(p, _)| p),
        None => None,
    };
    // Carry on only a request that opens.
    let request = q.request.as_deref().filter(|_| pending.is_some());
    let Some(current) = CurrentSession::load(&state, &headers).await? else {
        let back = match request {
            Some(id) => format!("/signin?request={id}"),
            None => "/signin".to_string(),
        };
        return Ok(Redirect::to(&back).into_response());
    };
    let next = crate::signin::next_page(request);
    let session = current.session.facts();
    let step = crate::signin::after_signin(&state, &current.user.id, &session, now).await?;
    let keyfort_core::onboarding::NextStep::SetUpPasskey(reason) = step else {
        return Ok(Redirect::to(&next).into_response());
    };
    let snoozes_left = match reason {
        keyfort_core::onboarding::SetUpReason::Campaign => {
            let snoozes = state.store.campaign_snoozes(&current.user.id).await?;
            let policy = state.policy();
            policy
                .policy
                .registration_campaign
                .enforce_registration_after_allowed_snoozes
                .then(|| keyfort_core::campaign::ALLOWED_SNOOZES.saturating_sub(snoozes.snoozes))
        }
        _ => None,
    };
    Ok(render(&SetupPage {
        display_name: current.user.display_name.clone(),
        client_name: pending.map(|p| p.client_name),
        reason: reason.code(),
        snoozes_left,
        one_time: session.pass_one_time,
        pass_expires: when(session.pass_expires_at),
        next,
    }))
}

/// Asks the person before an application signs them out without proof it may.
pub fn logout_confirm_page(
    client: Option<(&str, &str)>,
    post_logout_redirect_uri: Option<&str>,
    state: Option<&str>,
    id_token_hint: Option<&str>,
) -> Response {
    render(&LogoutPage {
        client_name: client.map(|(_, name)| name.to_string()),
        client_id: client.map(|(id, _)| id),
        post_logout_redirect_uri,
        state,
        id_token_hint,
    })
}

pub fn signed_out_page() -> Response {
    render(&SignOutPage { signed_in: None })
}

#[derive(Deserialize)]
pub struct TapQuery {
    username: Option<String>,
    request: Option<String>,
}

pub async fn tap(
    State(state): State<AppState>,
    Query(q): Query<TapQuery>,
) -> Result<Response, ApiError> {
    let username = q.username.unwrap_or_default().chars().take(128).collect();
    // Carry on only a waiting request that opens (it is sealed, ~540 characters): anything
    // else would send the person back to a request Keyfort cannot answer.
    let request_query = match q.request.as_deref() {
        Some(id) => crate::oidc::authorize::pending(&state, id, crate::state::now_ms())
            .await?
            .map(|_| format!("?request={id}"))
            .unwrap_or_default(),
        None => String::new(),
    };
    Ok(render(&TapPage {
        username,
        request_query,
    }))
}

pub async fn security(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(current) = CurrentSession::load(&state, &headers).await? else {
        return Ok(Redirect::to("/signin").into_response());
    };
    let passkeys = state.store.passkeys_of_user(&current.user.id).await?;
    let now = crate::state::now_ms();
    let standing = crate::passkeys::manage::Standing::load(&state, &current.user.id, now).await?;
    let signing_in = passkeys.iter().filter(|p| standing.signs_in(p)).count();
    let password_signs_in = standing.password_signs_in(&state, &current.user.id).await?;
    let derived = state.derived();
    let views = passkeys
        .into_iter()
        .map(|p| {
            let (policy_code, policy_message) = standing.refusal(&p).unwrap_or(("", ""));
            // The only passkey that signs the person in cannot be deleted by them.
            let last_way_in = signing_in == 1 && standing.signs_in(&p) && !password_signs_in;
            PasskeyView {
                policy_code,
                policy_message,
                type_label: p.passkey_type.label(),
                type_explanation: p.passkey_type.explanation(),
                id: p.id,
                display_name: p.display_name,
                provider: derived
                    .providers
                    .name(&p.aaguid)
                    .unwrap_or_default()
                    .to_string(),
                aaguid: p.aaguid,
                attested: p.attested,
                created: when(Some(p.created_at)),
                last_used: when(p.last_used_at),
                possibly_cloned: p.possibly_cloned,
                last_way_in,
            }
        })
        .collect();
    let totp = state
        .store
        .totp_of_user(&current.user.id)
        .await?
        .map(|t| (when(Some(t.created_at)), when(t.last_used_at)));
    let policy = state.policy();
    let groups = policy.groups_of(&state.store, &current.user.id).await?;
    let totp_allowed = keyfort_core::policy::method_applies(
        &policy.policy,
        keyfort_core::policy::MethodId::SoftwareOath,
        keyfort_core::policy::Subject { groups: &groups },
    );
    Ok(render(&SecurityPage {
        display_name: current.user.display_name.clone(),
        via_pass: current.session.method
            == keyfort_core::session::SignInMethod::TemporaryAccessPass,
        passkeys: views,
        totp,
        totp_allowed,
    }))
}

pub async fn signout_page(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let signed_in = CurrentSession::load(&state, &headers)
        .await?
        .map(|c| (c.user.display_name, c.user.username));
    Ok(render(&SignOutPage { signed_in }))
}

/// `POST /signout`: ends the session and clears the cookie.
pub async fn signout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(current) = CurrentSession::load(&state, &headers).await? {
        crate::oidc::logout::end_session(&state, &current).await?;
    }
    let mut r = render(&SignOutPage { signed_in: None });
    if let Ok(v) = clear_session_cookie(state.rp.secure_cookies).parse() {
        r.headers_mut().insert(SET_COOKIE, v);
    }
    Ok(r)
}

pub async fn script() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "no-cache"),
        ],
        include_str!("../static/keyfort.js"),
    )
}

/// The favicon, at the path browsers ask for and the one the pages name.
pub async fn favicon() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "image/svg+xml"),
            (CACHE_CONTROL, "public, max-age=86400"),
        ],
        include_str!("../static/favicon.svg"),
    )
}

pub async fn stylesheet() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, "no-cache"),
        ],
        include_str!("../static/keyfort.css"),
    )
}
