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
//! (conditional) request at once when a credential exists (see browser.rs). So
//! that the test can look at the sign-in page and then sign in with the
//! "Sign in with a passkey" button, a script installed through the DevTools
//! protocol makes conditional mediation look unavailable on Keyfort's origin,
//! and records each `navigator.credentials.get` call in `sessionStorage`.

mod support;
#[path = "support/webdriver.rs"]
mod webdriver;

use axum::Router;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
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
use support::ServerProcess;
use webdriver::{ChromeDriver, Session};

/// How long any one wait in the browser may take.
const WAIT: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(100);

const ACR_MFA: &str = "urn:keyfort:acr:mfa";
const ACR_PHISHING_RESISTANT: &str = "urn:keyfort:acr:phishing-resistant";

/// `sessionStorage` key of the record of `navigator.credentials.get` calls.
const GET_LOG: &str = "keyfort-test:credential-gets";
/// `sessionStorage` key that, set to "off", hides conditional mediation from the pages.
const CONDITIONAL_SWITCH: &str = "keyfort-test:conditional";

/// Runs in every document before its own scripts (see the module comment);
/// `GET_LOG` and `CONDITIONAL_SWITCH` stand for the keys above. `sessionStorage`
/// belongs to one origin, so the switch set on Keyfort's pages does not reach
/// the relying party's (which make no WebAuthn calls anyway).
const INSTRUMENTATION: &str = r#"(() => {
  let storage;
  try { storage = window.sessionStorage; } catch (_) { return; }
  if (!storage || !navigator.credentials || !window.PublicKeyCredential) return;
  if (storage.getItem("CONDITIONAL_SWITCH") === "off") {
    PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false);
  }
  const record = (entry) => {
    const log = JSON.parse(storage.getItem("GET_LOG") || "[]");
    log.push(entry);
    storage.setItem("GET_LOG", JSON.stringify(log));
  };
  const get = navigator.credentials.get.bind(navigator.credentials);
  navigator.credentials.get = (options) => {
    const mediation = (options && options.mediation) || "optional";
    record({ mediation, event: "start" });
    return get(options).then(
      (credential) => { record({ mediation, event: "resolved" }); return credential; },
      (error) => { record({ mediation, event: "rejected " + error.name }); throw error; });
  };
})();"#;

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

struct Browser {
    session: Session,
}

impl Browser {
    /// Polls a JavaScript expression until it is truthy; on timeout fails with
    /// the current URL and what the page says. Script errors (for example while
    /// a navigation is under way) count as "not yet".
    async fn wait_until(&self, what: &str, condition: &str) {
        let script = format!("return !!({condition});");
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(Value::Bool(true)) = self.session.execute(&script, vec![]).await {
                return;
            }
            if Instant::now() >= deadline {
                let (url, says) = self.where_am_i().await;
                panic!("timed out after {WAIT:?} waiting for {what}; URL {url}, page says {says}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The current URL, and Keyfort's `#status` or the relying party's `#error`.
    async fn where_am_i(&self) -> (String, String) {
        let url = match self.session.current_url().await {
            Ok(url) => url,
            Err(e) => format!("(unknown: {e})"),
        };
        let says = self
            .session
            .execute(
                r#"const s = document.getElementById("status");
                   const e = document.getElementById("error");
                   const d = document.getElementById("error-description");
                   return JSON.stringify({
                     status: s && !s.hidden ? s.textContent : null,
                     error: e ? e.textContent : null,
                     description: d ? d.textContent : null,
                     title: document.title,
                   });"#,
                vec![],
            )
            .await
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .unwrap_or_else(|e| format!("(unreadable: {e})"));
        (url, says)
    }

    /// Waits until a page of `origin` at `path` has finished loading.
    async fn wait_for_page(&self, origin: &str, path: &str) {
        self.wait_until(
            &format!("the page {origin}{path}"),
            &format!(
                r#"location.origin === "{origin}" && location.pathname === "{path}" && document.readyState === "complete""#
            ),
        )
        .await;
    }

    /// Evaluates a script that returns JSON-able data, failing the test on error.
    async fn eval(&self, script: &str) -> Value {
        self.session
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Whether an element matches `css`.
    async fn has(&self, css: &str) -> bool {
        self.eval(&format!(
            "return document.querySelector({}) !== null;",
            json!(css)
        ))
        .await
            == json!(true)
    }

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

    /// The recorded `navigator.credentials.get` calls of the current origin, then forgets them.
    async fn take_credential_gets(&self) -> Vec<(String, String)> {
        let log = self
            .eval(&format!(
                r#"const log = JSON.parse(sessionStorage.getItem("{GET_LOG}") || "[]");
                   sessionStorage.removeItem("{GET_LOG}");
                   return log.map((e) => [e.mediation, e.event]);"#
            ))
            .await;
        serde_json::from_value(log).expect("credential get log")
    }

    /// Whether `/my/security` shows the "you signed in with a pass" notice.
    async fn shows_pass_notice(&self) -> bool {
        self.has("p.notice").await
    }
}

/// The virtual authenticator's only credential's signature counter.
async fn sign_count(session: &Session, authenticator: &str) -> u64 {
    let credentials = session.virtual_credentials(authenticator).await;
    assert_eq!(
        credentials.len(),
        1,
        "the authenticator holds one passkey: {credentials:?}"
    );
    credentials[0]["signCount"]
        .as_u64()
        .unwrap_or_else(|| panic!("a signCount: {credentials:?}"))
}

#[tokio::test]
async fn oidc_step_up_in_chromium() {
    let Some(chromedriver) = std::env::var("KEYFORT_TEST_CHROMEDRIVER")
        .ok()
        .filter(|s| !s.is_empty())
    else {
        eprintln!(
            "SKIPPED browser_oidc: KEYFORT_TEST_CHROMEDRIVER is not set (path to chromedriver; KEYFORT_TEST_CHROMIUM names Chromium, default /usr/bin/chromium)"
        );
        return;
    };
    let chromium = std::env::var("KEYFORT_TEST_CHROMIUM")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "/usr/bin/chromium".to_string());
    let started = Instant::now();
    let mut lap = Instant::now();
    let mut timings: Vec<(&str, Duration)> = Vec::new();
    let mut step = |name: &'static str| {
        timings.push((name, lap.elapsed()));
        lap = Instant::now();
    };

    // Keyfort, and the relying party registered with it.
    let server = ServerProcess::start(&[]);
    let pass = server
        .first_pass
        .clone()
        .expect("the first start prints a Temporary Access Pass for admin");
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

    // Dropped in reverse order: the session (and Chromium) before chromedriver.
    let driver = ChromeDriver::start(&chromedriver).await;
    let session = Session::chromium(&driver, &chromium).await;
    session
        .cdp(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": INSTRUMENTATION
                .replace("CONDITIONAL_SWITCH", CONDITIONAL_SWITCH)
                .replace("GET_LOG", GET_LOG) }),
        )
        .await;
    let browser = Browser { session };
    step("chromedriver and Chromium");

    // 1. The administrator signs in with the printed pass and registers a passkey;
    //    the browser session is still the pass session.
    browser
        .session
        .goto(&format!("{keyfort}/signin/tap?username=admin"))
        .await;
    browser.session.type_into("#tap-code", &pass).await;
    browser.session.click("#tap-submit").await;
    browser.wait_for_page(&keyfort, "/my/security").await;
    assert!(
        browser.shows_pass_notice().await,
        "the session comes from the pass"
    );
    // From now on Keyfort's pages in this tab offer no passkey autofill.
    browser
        .eval(&format!(
            r#"sessionStorage.setItem("{CONDITIONAL_SWITCH}", "off"); return true;"#
        ))
        .await;
    let authenticator = browser
        .session
        .add_virtual_authenticator(json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserVerified": true,
            "isUserConsenting": true,
        }))
        .await;
    browser
        .session
        .type_into("#new-passkey-name", "Laptop")
        .await;
    browser.session.click("#add-passkey-button").await;
    browser
        .wait_until(
            "the new passkey in the list",
            r#"document.querySelectorAll("li.passkey").length === 1"#,
        )
        .await;
    assert!(
        browser.shows_pass_notice().await,
        "registering a passkey does not change the pass session"
    );
    let registered_count = sign_count(&browser.session, &authenticator).await;
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
        sign_count(&browser.session, &authenticator).await,
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
    browser.wait_for_page(&keyfort, "/signin").await;
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
    let stepped_count = sign_count(&browser.session, &authenticator).await;
    assert!(
        stepped_count > registered_count,
        "a new passkey ceremony signed the step-up (sign count {registered_count} -> {stepped_count})"
    );
    step("step-up to phishing-resistant with a passkey");

    // The browser's Keyfort session is now a passkey session, from the one
    // modal request the button started.
    browser
        .session
        .goto(&format!("{keyfort}/my/security"))
        .await;
    browser.wait_for_page(&keyfort, "/my/security").await;
    assert!(
        !browser.shows_pass_notice().await,
        "the session now comes from the passkey"
    );
    assert_eq!(
        browser.take_credential_gets().await,
        [
            ("optional".to_string(), "start".to_string()),
            ("optional".to_string(), "resolved".to_string()),
        ],
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
