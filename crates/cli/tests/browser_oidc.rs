//! OpenID Connect end to end in a real browser: headless Chromium (driven by
//! chromedriver, with a WebAuthn virtual authenticator) signs in to a small
//! relying-party web app that runs inside this test and uses the
//! `openidconnect` crate against a `keyfort serve` process.
//!
//! It checks step-up by `acr_values`: a Temporary Access Pass session answers
//! a plain request at once (acr `urn:keyfort:acr:mfa`, amr `otp mfa`), while a
//! request for `urn:keyfort:acr:phishing-resistant` sends the browser through
//! `/signin?request=…`, which demands a passkey, and a new passkey ceremony.
//!
//! Needs `KEYFORT_TEST_CHROMEDRIVER` (path to chromedriver) and, if Chromium is
//! not `/usr/bin/chromium`, `KEYFORT_TEST_CHROMIUM`. Without the former it
//! prints `SKIPPED browser_oidc: ...` and passes.
//!
//! Under a virtual authenticator Chromium resolves the sign-in page's autofill
//! (conditional) request at once when a credential exists (see
//! `support/browser.rs`). So that the test can look at the sign-in page and
//! then sign in with the "Sign in with a passkey" button, a script installed
//! through the DevTools protocol makes conditional mediation look unavailable
//! on Keyfort's origin, and records each `navigator.credentials.get` call in
//! `sessionStorage`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a failing test stops loudly

#[path = "support/browser.rs"]
mod browser;
mod support;
#[path = "support/webdriver.rs"]
mod webdriver;

use axum::Router;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use browser::{Browser, one_resolved_get};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AuthenticationContextClass, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ACR_MFA: &str = "urn:keyfort:acr:mfa";
const ACR_PHISHING_RESISTANT: &str = "urn:keyfort:acr:phishing-resistant";

// ---- The relying party ------------------------------------------------------

/// The client `CoreClient::from_provider_metadata` builds from discovery.
type RpClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// A confidential web application (client_secret_basic) on its own port.
struct RelyingParty {
    client: RpClient,
    issuer: String,
    /// For the back-channel calls; follows no redirects.
    http: reqwest::Client,
    /// Per `state`: the PKCE verifier and the nonce of an authorization request.
    pending: Mutex<HashMap<String, (PkceCodeVerifier, Nonce)>>,
}

/// What the callback page shows after a verified ID token.
struct SignedIn {
    sub: String,
    acr: String,
    amr: Vec<String>,
    username: String,
}

type Rp = State<Arc<RelyingParty>>;
type Params = Query<HashMap<String, String>>;

/// `GET /login?acr=…`: starts a code flow (PKCE S256, nonce, state), optionally
/// asking for an authentication strength.
async fn rp_login(State(rp): Rp, Query(q): Params) -> Response {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = rp
        .client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge);
    if let Some(acr) = q.get("acr").filter(|a| !a.is_empty()) {
        request = request.add_auth_context_value(AuthenticationContextClass::new(acr.clone()));
    }
    let (url, state, nonce) = request.url();
    rp.pending
        .lock()
        .unwrap()
        .insert(state.secret().clone(), (verifier, nonce));
    Redirect::to(url.as_str()).into_response()
}

/// `GET /callback`: the signed-in page, or an error page with `#error`.
async fn rp_callback(State(rp): Rp, Query(q): Params) -> Html<String> {
    match rp.finish(&q).await {
        Ok(s) => Html(format!(
            r#"<!doctype html><html><head><title>Test RP: signed in</title></head><body>
<h1>Signed in</h1>
<dl>
<dt>sub</dt><dd id="sub">{}</dd>
<dt>acr</dt><dd id="acr">{}</dd>
<dt>amr</dt><dd id="amr">{}</dd>
<dt>preferred_username</dt><dd id="username">{}</dd>
</dl></body></html>"#,
            escape(&s.sub),
            escape(&s.acr),
            escape(&s.amr.join(" ")),
            escape(&s.username),
        )),
        Err((error, description)) => Html(format!(
            r#"<!doctype html><html><head><title>Test RP: error</title></head><body>
<h1>Sign-in failed</h1>
<p id="error">{}</p><p id="error-description">{}</p></body></html>"#,
            escape(&error),
            escape(&description),
        )),
    }
}

impl RelyingParty {
    /// Checks the authorization response, redeems the code and verifies the ID token.
    /// Errors are (code, description).
    async fn finish(&self, q: &HashMap<String, String>) -> Result<SignedIn, (String, String)> {
        let fail = |code: &str, description: String| (code.to_string(), description);
        if let Some(error) = q.get("error") {
            return Err((
                error.clone(),
                q.get("error_description").cloned().unwrap_or_default(),
            ));
        }
        let state = q
            .get("state")
            .ok_or_else(|| fail("rp_no_state", "the response has no state".into()))?;
        let (verifier, nonce) =
            self.pending.lock().unwrap().remove(state).ok_or_else(|| {
                fail("rp_unknown_state", format!("no request with state {state}"))
            })?;
        // RFC 9207: the response names its issuer.
        if q.get("iss") != Some(&self.issuer) {
            return Err(fail(
                "rp_wrong_iss",
                format!("iss {:?}, expected {}", q.get("iss"), self.issuer),
            ));
        }
        let code = q
            .get("code")
            .ok_or_else(|| fail("rp_no_code", "the response has no code".into()))?;
        let tokens = self
            .client
            .exchange_code(AuthorizationCode::new(code.clone()))
            .map_err(|e| fail("rp_configuration", e.to_string()))?
            .set_pkce_verifier(verifier)
            .request_async(&self.http)
            .await
            .map_err(|e| fail("rp_token_exchange", format!("{e:?}")))?;
        let id_token = tokens.id_token().ok_or_else(|| {
            fail(
                "rp_no_id_token",
                "the token response has no ID token".into(),
            )
        })?;
        let id_verifier = self
            .client
            .id_token_verifier()
            .set_allowed_algs([CoreJwsSigningAlgorithm::EcdsaP256Sha256]);
        let claims = id_token
            .claims(&id_verifier, &nonce)
            .map_err(|e| fail("rp_id_token", e.to_string()))?;
        Ok(SignedIn {
            sub: claims.subject().as_str().to_string(),
            acr: claims
                .auth_context_ref()
                .map(|a| a.as_str().to_string())
                .unwrap_or_default(),
            amr: claims
                .auth_method_refs()
                .map(|v| v.iter().map(|a| a.as_str().to_string()).collect())
                .unwrap_or_default(),
            username: claims
                .preferred_username()
                .map(|u| u.as_str().to_string())
                .unwrap_or_default(),
        })
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The relying party's server task, stopped on drop.
struct RpServer(tokio::task::JoinHandle<()>);

impl Drop for RpServer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

// ---- The browser -------------------------------------------------------------

/// Helpers only this test needs.
impl Browser {
    /// The text of the element with this id.
    async fn text(&self, id: &str) -> String {
        let v = self
            .eval(&format!(
                "const e = document.getElementById({}); return e ? e.textContent : null;",
                json!(id)
            ))
            .await;
        v.as_str()
            .unwrap_or_else(|| panic!("no element #{id} on the page"))
            .to_string()
    }

    /// Waits for the relying party's callback page to show a signed-in user,
    /// and reads (sub, acr, amr, preferred_username) from it.
    async fn rp_result(&self, rp_base: &str) -> (String, String, Vec<String>, String) {
        self.wait_until(
            "the relying party's signed-in page",
            &format!(
                r#"location.origin === "{rp_base}" && location.pathname === "/callback"
                   && document.readyState === "complete"
                   && (document.getElementById("acr") !== null || document.getElementById("error") !== null)"#
            ),
        )
        .await;
        if self.has("#error").await {
            let (url, says) = self.where_am_i().await;
            panic!("the relying party reports an error at {url}: {says}");
        }
        let amr = self
            .text("amr")
            .await
            .split_whitespace()
            .map(str::to_string)
            .collect();
        (
            self.text("sub").await,
            self.text("acr").await,
            amr,
            self.text("username").await,
        )
    }
}

#[tokio::test]
async fn oidc_step_up_in_chromium() {
    let Some((chromedriver, chromium)) = browser::binaries("browser_oidc") else {
        return;
    };
    let started = Instant::now();
    let mut lap = Instant::now();
    let mut timings: Vec<(&str, Duration)> = Vec::new();
    let mut step = |name: &'static str| {
        timings.push((name, lap.elapsed()));
        lap = Instant::now();
    };

    // Keyfort, and the relying party registered with it.
    let (server, pass) = browser::server_with_first_pass();
    let keyfort = server.base.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port for the relying party");
    let rp_port = listener.local_addr().unwrap().port();
    let rp_base = format!("http://localhost:{rp_port}");
    let redirect_uri = format!("{rp_base}/callback");
    let out = server.cli(
        &[
            "client",
            "add",
            "Test RP",
            "--redirect-uri",
            &redirect_uri,
            "--json",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "keyfort client add failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let registered: Value = serde_json::from_slice(&out.stdout).expect("JSON from client add");
    let client_id = registered["clientId"].as_str().expect("clientId");
    let client_secret = registered["clientSecret"].as_str().expect("clientSecret");

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(keyfort.clone()).unwrap(), &http)
            .await
            .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client_id.to_string()),
        Some(ClientSecret::new(client_secret.to_string())),
    )
    .set_redirect_uri(RedirectUrl::new(redirect_uri.clone()).unwrap());
    let rp = Arc::new(RelyingParty {
        client,
        issuer: keyfort.clone(),
        http,
        pending: Mutex::new(HashMap::new()),
    });
    let app = Router::new()
        .route("/login", get(rp_login))
        .route("/callback", get(rp_callback))
        .with_state(rp);
    let _rp_server = RpServer(tokio::spawn(async move {
        axum::serve(listener, app)
            .await
            .expect("the relying party serves");
    }));
    step("Keyfort, client registration, discovery");

    let browser = Browser::start(&chromedriver, &chromium, &keyfort).await;
    step("chromedriver and Chromium");

    // 1. The administrator signs in with the printed pass and registers a passkey;
    //    the browser session is still the pass session.
    browser.open_admin_pass_signin().await;
    browser.submit_pass(&pass).await;
    assert!(
        browser.shows_pass_notice().await,
        "the session comes from the pass"
    );
    // From now on Keyfort's pages in this tab offer no passkey autofill.
    browser.hide_conditional_mediation().await;
    // A device-bound provider (not backup eligible, as by Chrome's defaults).
    let authenticator = browser.add_authenticator(false).await;
    browser.register_passkey("Laptop", 1).await;
    assert!(
        browser.shows_pass_notice().await,
        "registering a passkey does not change the pass session"
    );
    let registered_count = browser.sign_count(&authenticator).await;
    assert!(
        browser.take_credential_gets().await.is_empty(),
        "no passkey sign-in so far"
    );
    step("pass sign-in and passkey registration");

    // 2. A plain request: the pass session answers it at once.
    browser.session.goto(&format!("{rp_base}/login")).await;
    let (sub, acr, amr, username) = browser.rp_result(&rp_base).await;
    assert_eq!(acr, ACR_MFA, "a pass session is multi-factor");
    assert_eq!(amr, ["otp", "mfa"], "a pass is a one-time password");
    assert_eq!(username, "admin");
    assert!(
        !sub.is_empty() && sub != "admin",
        "sub is the stable user id: {sub:?}"
    );
    assert_eq!(
        browser.sign_count(&authenticator).await,
        registered_count,
        "no passkey ceremony for a request the pass session satisfies"
    );
    step("code flow answered from the pass session");

    // 3. Phishing-resistant strength requested: the pass session does not meet
    //    it, so Keyfort asks for a passkey on its sign-in page.
    browser
        .session
        .goto(&format!("{rp_base}/login?acr={ACR_PHISHING_RESISTANT}"))
        .await;
    browser.wait_for_page("/signin").await;
    let query = browser.eval("return location.search;").await;
    assert!(
        query
            .as_str()
            .is_some_and(|q| q.starts_with("?request=") && q.len() > "?request=".len()),
        "the sign-in page serves a waiting request: {query}"
    );
    assert!(
        browser.has("#passkey-required").await,
        "the page says a passkey is required"
    );
    assert!(
        !browser.has("#tap-link").await,
        "a pass cannot satisfy the request, so the page does not offer one"
    );
    assert_eq!(
        browser
            .eval(r#"return document.querySelector(".context strong")?.textContent ?? null;"#)
            .await,
        json!("Test RP"),
        "the page names the application"
    );
    browser.session.click("#passkey-button").await;
    let (stepped_sub, stepped_acr, stepped_amr, _) = browser.rp_result(&rp_base).await;
    assert_eq!(stepped_acr, ACR_PHISHING_RESISTANT);
    for method in ["swk", "user", "mfa"] {
        assert!(
            stepped_amr.iter().any(|m| m == method),
            "amr {stepped_amr:?} has {method}"
        );
    }
    assert_eq!(stepped_sub, sub, "the same user");
    let stepped_count = browser.sign_count(&authenticator).await;
    assert!(
        stepped_count > registered_count,
        "a new passkey ceremony signed the step-up (sign count {registered_count} -> {stepped_count})"
    );
    step("step-up to phishing-resistant with a passkey");

    // The browser's Keyfort session is now a passkey session, from the one
    // modal request the button started.
    browser.goto("/my/security").await;
    browser.wait_for_page("/my/security").await;
    assert!(
        !browser.shows_pass_notice().await,
        "the session now comes from the passkey"
    );
    assert_eq!(
        browser.take_credential_gets().await,
        one_resolved_get("optional"),
        "exactly one (modal) passkey request"
    );
    step("checks after the step-up");

    timings_report(&timings, started);
}

/// Prints how long each part took.
fn timings_report(timings: &[(&str, Duration)], started: Instant) {
    for (name, took) in timings {
        eprintln!("browser_oidc: {name}: {:.2} s", took.as_secs_f64());
    }
    eprintln!(
        "browser_oidc: OIDC step-up passed in Chromium in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
