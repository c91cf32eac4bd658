//! A small relying-party web app for the real-browser tests, run inside the test on
//! its own port and using the `openidconnect` crate against a `keyfort serve` process:
//! `GET /login[?acr=…]` starts a code flow (PKCE S256, nonce, state), `GET /callback`
//! verifies the ID token and shows its claims (`#sub`, `#acr`, `#amr`, `#username`)
//! or `#error`. Declared with `#[path = "support/rp.rs"] mod rp;` next to `browser`.

use crate::browser::Browser;
use crate::support::ServerProcess;
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
pub struct RelyingParty {
    client: RpClient,
    issuer: String,
    /// For the back-channel calls; follows no redirects.
    http: reqwest::Client,
    /// Per `state`: the PKCE verifier and the nonce of an authorization request.
    pending: Mutex<HashMap<String, (PkceCodeVerifier, Nonce)>>,
}

/// What the callback page shows after a verified ID token.
pub struct SignedIn {
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
pub struct RpServer(tokio::task::JoinHandle<()>);

impl Drop for RpServer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

// ---- The browser -------------------------------------------------------------

/// Helpers for pages of the relying party.
impl Browser {
    /// The text of the element with this id.
    pub async fn text(&self, id: &str) -> String {
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
    pub async fn rp_result(&self, rp_base: &str) -> (String, String, Vec<String>, String) {
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

/// Registers "Test RP" with `server` (`keyfort client add`), discovers the provider and
/// serves the relying party; returns it (stopped on drop) and its base URL.
pub async fn start(server: &ServerProcess) -> (RpServer, String) {
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
    let rp_server = RpServer(tokio::spawn(async move {
        axum::serve(listener, app)
            .await
            .expect("the relying party serves");
    }));
    (rp_server, rp_base)
}
