//! Keyfort's HTTP layer: thin axum handlers that parse, call `keyfort-core`
//! for decisions and `keyfort-store` for state, and render.

pub mod aead;
pub mod api;
pub mod app;
pub mod bootstrap;
pub mod campaign;
pub mod config;
pub mod crypto;
pub mod error;
pub mod extract;
pub mod headers;
pub mod html;
pub mod metadata;
pub mod oidc;
pub mod pages;
pub mod passes;
pub mod passkeys;
pub mod password_signin;
pub mod refusals;
pub mod sealed;
pub mod signin;
pub mod state;
pub mod throttle;
pub mod totp;

use crate::error::ApiError;
use crate::extract::MAX_BODY_BYTES;
use crate::state::AppState;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use std::net::SocketAddr;

pub use config::Config;

/// The whole application.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/api/signin/tap", post(passes::sign_in))
        .route("/api/signin/choices", post(password_signin::choices))
        .route("/api/signin/password", post(password_signin::sign_in))
        .route("/api/signin/totp", post(totp::sign_in))
        .route("/api/totp/enrol/begin", post(totp::enrol_begin))
        .route("/api/totp/enrol/finish", post(totp::enrol_finish))
        .route("/api/totp", delete(totp::remove))
        .route("/api/campaign/snooze", post(campaign::snooze))
        .route(
            "/api/signin/passkey/begin",
            post(passkeys::authentication::begin),
        )
        .route(
            "/api/signin/passkey/finish",
            post(passkeys::authentication::finish),
        )
        .route(
            "/api/passkeys/register/begin",
            post(passkeys::registration::begin),
        )
        .route(
            "/api/passkeys/register/finish",
            post(passkeys::registration::finish),
        )
        .route("/api/passkeys/{id}/rename", post(passkeys::manage::rename))
        .route("/api/passkeys/{id}", delete(passkeys::manage::delete))
        .route("/api/passkeys/signals", get(passkeys::manage::signals))
        // A policy document may be larger than any other body.
        .merge(api::router().layer(DefaultBodyLimit::max(
            app::policy::MAX_DOCUMENT_BYTES + 4096,
        )))
        .fallback(api_not_found);
    Router::new()
        .route("/", get(pages::home))
        .route("/signin", get(pages::signin))
        .route("/signin/tap", get(pages::tap))
        .route("/signin/setup", get(pages::setup))
        .route("/my/security", get(pages::security))
        .route("/signout", get(pages::signout_page).post(pages::signout))
        .route("/static/keyfort.js", get(pages::script))
        .route("/static/keyfort.css", get(pages::stylesheet))
        .route("/static/favicon.svg", get(pages::favicon))
        .route("/favicon.ico", get(pages::favicon))
        .route(
            "/.well-known/webauthn",
            get(passkeys::manage::related_origins),
        )
        .route(
            "/.well-known/openid-configuration",
            get(oidc::discovery::openid_configuration),
        )
        .route("/jwks", get(oidc::discovery::jwks))
        .route(
            "/authorize",
            get(oidc::authorize::get).post(oidc::authorize::post),
        )
        .route("/authorize/continue", get(oidc::authorize::resume))
        .route("/token", post(oidc::token::token))
        .route(
            "/userinfo",
            get(oidc::userinfo::userinfo).post(oidc::userinfo::userinfo),
        )
        .route("/revoke", post(oidc::revocation::revoke))
        .route("/introspect", post(oidc::revocation::introspect))
        .route("/logout", get(oidc::logout::get).post(oidc::logout::post))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(api)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            same_origin_writes,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(
            headers::Https(state.rp.secure_cookies),
            headers::security_headers,
        ))
        .with_state(state)
}

async fn api_not_found() -> ApiError {
    refusals::RequestRefusal::NoSuchEndpoint.into()
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => "ready".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "store not reachable");
            ApiError::unavailable().into_response()
        }
    }
}

/// State-changing requests from a browser must come from Keyfort's own origin
/// (defence against cross-site request forgery beside SameSite cookies).
async fn same_origin_writes(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // Cookie-authenticated writes only: the OAuth endpoints authenticate clients by
    // credentials or tokens, and `/authorize` legitimately receives cross-site form posts.
    let path = req.uri().path();
    // The admin API (`/api/v1/`) takes bearer tokens only, never a cookie.
    let cookie_authenticated = (path.starts_with("/api/") && !path.starts_with("/api/v1/"))
        || path == "/signout"
        || path == "/logout";
    let writes = cookie_authenticated
        && !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    // Browsers say where a request comes from in Sec-Fetch-Site; under
    // `Referrer-Policy: no-referrer` their form posts carry `Origin: null`, so Origin is
    // only the fallback for browsers that send no Sec-Fetch-Site.
    let cross_site = match req.headers().get("sec-fetch-site") {
        Some(site) => site.as_bytes() != b"same-origin",
        None => req
            .headers()
            .get(header::ORIGIN)
            .is_some_and(|origin| origin.as_bytes() != state.rp.origin_str().as_bytes()),
    };
    if writes && cross_site {
        return ApiError::from(refusals::RequestRefusal::CrossOrigin).into_response();
    }
    next.run(req).await
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let purge_state = state.clone();
    let purger = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(
            purge_state.maintenance_interval_secs,
        ));
        loop {
            tick.tick().await;
            let now = state::now_ms();
            if let Err(e) = purge_state.store.purge_expired(now).await {
                tracing::warn!(error = %e, "purging expired state failed");
            }
            let before = now.saturating_sub(purge_state.signin_log_retention_ms);
            if let Err(e) = purge_state.store.purge_signin_log(before).await {
                tracing::warn!(error = %e, "purging the sign-in log failed");
            }
            purge_state.throttles.forget_idle();
            // Keys rotated on any node (or by the CLI) reach this one within a minute.
            if let Err(e) = purge_state.reload_keys().await {
                tracing::warn!(error = %e, "reloading signing keys failed");
            }
            // And metadata another node (or the CLI) stored.
            if let Err(e) = purge_state.sync_metadata().await {
                tracing::warn!(error = %e, "re-reading the stored FIDO metadata failed");
            }
        }
    });
    let metadata_state = state.clone();
    let metadata_refresh = tokio::spawn(async move {
        if metadata_state.metadata_source.is_none() {
            return;
        }
        let mut tick = tokio::time::interval(metadata_state.metadata_refresh);
        loop {
            tick.tick().await;
            match metadata_state.refresh_metadata().await {
                Ok(Some(l)) if l.stored => {
                    tracing::info!(serial = l.metadata.serial, "FIDO metadata updated")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(
                    code = e.code(),
                    error = %e,
                    "refreshing FIDO metadata failed; the copy in use stays"
                ),
            }
        }
    });
    let policy_state = state.clone();
    let policy_poll = tokio::spawn(async move {
        // A policy applied on any node (or by the CLI) is enforced here within
        // POLICY_POLL plus one read.
        let mut tick = tokio::time::interval(POLICY_POLL);
        loop {
            tick.tick().await;
            if let Err(e) = policy_state.refresh_policy().await {
                tracing::warn!(error = %e, "re-reading the authentication-methods policy failed");
            }
        }
    });
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let r = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    purger.abort();
    policy_poll.abort();
    metadata_refresh.abort();
    r
}

/// How often a node compares its policy's version with the stored one.
pub const POLICY_POLL: std::time::Duration = std::time::Duration::from_secs(2);
