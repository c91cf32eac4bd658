//! The scenarios: each operation is what a browser or an application really does,
//! over HTTP, with real signatures.

use crate::provision::{Fixture, REDIRECT_URI};
use crate::report::Outcome;
use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use keyfort_softauthn::Authenticator;
use serde_json::{Value, json};
use sha2::Digest;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    PasskeySignin,
    OidcLogin,
    Refresh,
    ClientCredentials,
}

impl Scenario {
    pub const ALL: [Scenario; 4] = [
        Scenario::PasskeySignin,
        Scenario::OidcLogin,
        Scenario::Refresh,
        Scenario::ClientCredentials,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::PasskeySignin => "passkey-signin",
            Scenario::OidcLogin => "oidc-login",
            Scenario::Refresh => "refresh",
            Scenario::ClientCredentials => "client-credentials",
        }
    }

    pub fn parse(s: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|x| x.name() == s)
    }
}

/// How long, or how many operations, a run lasts (whichever ends first).
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub duration: Duration,
    pub max_ops: Option<u64>,
}

/// What every worker shares.
struct Shared {
    http: reqwest::Client,
    base: String,
    client_id: String,
    client_secret: String,
    keys: HashMap<String, jsonwebtoken::DecodingKey>,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn random() -> String {
    b64(&uuid::Uuid::new_v4().into_bytes())
}

async fn post_json(
    s: &Shared,
    path: &str,
    body: &Value,
    cookie: Option<&str>,
) -> Result<(Value, Option<String>)> {
    let mut req = s.http.post(format!("{}{path}", s.base)).json(body);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let r = req.send().await?;
    let status = r.status();
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_string);
    let v: Value = r.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("{path}: {status} {v}");
    }
    Ok((v, cookie))
}

/// A discoverable passkey sign-in; returns the session cookie and where the page sends
/// the browser next.
async fn passkey_signin(
    s: &Shared,
    authn: &mut Authenticator,
    request: Option<&str>,
) -> Result<(String, String)> {
    let (begin, _) = post_json(s, "/api/signin/passkey/begin", &json!({}), None).await?;
    let credential = authn.get(&begin, &s.base)?;
    let mut body = json!({ "ceremonyId": begin["ceremonyId"], "credential": credential });
    if let Some(r) = request {
        body["request"] = json!(r);
    }
    let (done, cookie) = post_json(s, "/api/signin/passkey/finish", &body, None).await?;
    let next = done["redirect"]
        .as_str()
        .context("no redirect")?
        .to_string();
    Ok((cookie.context("no session cookie")?, next))
}

async fn token(s: &Shared, form: &[(&str, &str)]) -> Result<Value> {
    let r = s
        .http
        .post(format!("{}/token", s.base))
        .basic_auth(&s.client_id, Some(&s.client_secret))
        .form(form)
        .send()
        .await?;
    let status = r.status();
    let v: Value = r.json().await?;
    if !status.is_success() {
        bail!("token: {status} {v}");
    }
    Ok(v)
}

fn location(r: &reqwest::Response) -> Result<String> {
    Ok(r.headers()
        .get("location")
        .context("no redirect")?
        .to_str()?
        .to_string())
}

/// The whole login an application sees; returns the token response.
async fn oidc_login(s: &Shared, authn: &mut Authenticator, scope: &str) -> Result<Value> {
    let verifier = format!("{}{}", random(), random());
    let challenge = b64(&sha2::Sha256::digest(verifier.as_bytes()));
    let (state, nonce) = (random(), random());
    let mut url = url::Url::parse(&format!("{}/authorize", s.base))?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &s.client_id)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("scope", scope)
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let r = s.http.get(url).send().await?;
    let signin = location(&r)?;
    let request = signin
        .strip_prefix("/signin?request=")
        .context("expected the sign-in page")?
        .to_string();
    // The sign-in answers the waiting request itself and sends the browser back to the
    // application; should it leave that to `/authorize/continue`, follow it as a browser would.
    let (cookie, mut next) = passkey_signin(s, authn, Some(&request)).await?;
    if next.starts_with("/authorize/continue?") {
        let r = s
            .http
            .get(format!("{}{next}", s.base))
            .header("cookie", cookie)
            .send()
            .await?;
        next = location(&r)?;
    }
    let back = url::Url::parse(&next)?;
    let q: HashMap<String, String> = back.query_pairs().into_owned().collect();
    if q.get("state") != Some(&state) {
        bail!("state mismatch: {back}");
    }
    let code = q.get("code").context("no code")?;
    let tokens = token(
        s,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &verifier),
        ],
    )
    .await?;
    // The client verifies the ID token, as any relying party must.
    let id_token = tokens["id_token"].as_str().context("no id_token")?;
    let header = jsonwebtoken::decode_header(id_token)?;
    let key = s
        .keys
        .get(header.kid.as_deref().unwrap_or(""))
        .context("unknown kid")?;
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    v.set_audience(&[&s.client_id]);
    v.set_issuer(&[&s.base]);
    let claims = jsonwebtoken::decode::<Value>(id_token, key, &v)?.claims;
    if claims["nonce"] != json!(nonce) {
        bail!("nonce mismatch");
    }
    Ok(tokens)
}

async fn jwks(
    http: &reqwest::Client,
    base: &str,
) -> Result<HashMap<String, jsonwebtoken::DecodingKey>> {
    let set: jsonwebtoken::jwk::JwkSet = http
        .get(format!("{base}/jwks"))
        .send()
        .await?
        .json()
        .await?;
    let mut keys = HashMap::new();
    for k in &set.keys {
        if let Some(kid) = &k.common.key_id {
            keys.insert(kid.clone(), jsonwebtoken::DecodingKey::from_jwk(k)?);
        }
    }
    Ok(keys)
}

/// Runs one scenario with `concurrency` workers; each worker owns a disjoint slice of the
/// authenticators (so signature counters never race).
pub async fn run(
    scenario: Scenario,
    base: &str,
    fixture: &mut Fixture,
    concurrency: usize,
    budget: Budget,
    server_pid: Option<u32>,
) -> Result<Outcome> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(concurrency * 2)
        .build()?;
    let keys = jwks(&http, base).await?;
    let shared = Arc::new(Shared {
        http,
        base: base.to_string(),
        client_id: fixture.client_id.clone(),
        client_secret: fixture.client_secret.clone(),
        keys,
    });
    let per_worker = (fixture.authenticators.len() / concurrency).max(1);
    if fixture.authenticators.len() < concurrency {
        bail!(
            "need at least as many users ({}) as workers ({concurrency})",
            fixture.authenticators.len()
        );
    }
    let mut slices: Vec<Vec<Authenticator>> = Vec::new();
    for _ in 0..concurrency {
        slices.push(fixture.authenticators.drain(..per_worker).collect());
    }
    // Refresh needs a refresh token per worker first (not timed).
    let mut refresh_tokens = Vec::new();
    if scenario == Scenario::Refresh {
        for slice in slices.iter_mut() {
            let t = oidc_login(&shared, &mut slice[0], "openid offline_access").await?;
            refresh_tokens.push(Some(
                t["refresh_token"]
                    .as_str()
                    .context("no refresh token")?
                    .to_string(),
            ));
        }
    } else {
        refresh_tokens.resize(concurrency, None);
    }
    let ops = Arc::new(AtomicU64::new(0));
    let cpu_before = server_pid.and_then(crate::target::cpu_time);
    // The generator's own CPU means something only when the server runs elsewhere.
    let generator_before = server_pid.and_then(|_| crate::target::cpu_time(std::process::id()));
    let started = Instant::now();
    let deadline = started + budget.duration;
    let mut handles = Vec::new();
    for (mut slice, mut refresh) in slices.into_iter().zip(refresh_tokens) {
        let shared = shared.clone();
        let ops = ops.clone();
        let max_ops = budget.max_ops;
        handles.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let (mut errors, mut first_error) = (0u64, None::<String>);
            let mut i = 0usize;
            loop {
                if Instant::now() >= deadline {
                    break;
                }
                let n = ops.fetch_add(1, Ordering::Relaxed);
                if max_ops.is_some_and(|m| n >= m) {
                    break;
                }
                let n_keys = slice.len();
                let authn = &mut slice[i % n_keys];
                i += 1;
                let t0 = Instant::now();
                let result: Result<()> = match scenario {
                    Scenario::PasskeySignin => {
                        passkey_signin(&shared, authn, None).await.map(|_| ())
                    }
                    Scenario::OidcLogin => oidc_login(&shared, authn, "openid profile")
                        .await
                        .map(|_| ()),
                    Scenario::ClientCredentials => {
                        token(&shared, &[("grant_type", "client_credentials")])
                            .await
                            .map(|_| ())
                    }
                    Scenario::Refresh => match refresh.take() {
                        Some(rt) => match token(
                            &shared,
                            &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
                        )
                        .await
                        {
                            Ok(t) => {
                                refresh = t["refresh_token"].as_str().map(str::to_string);
                                Ok(())
                            }
                            Err(e) => Err(e),
                        },
                        None => Err(anyhow!("no refresh token left")),
                    },
                };
                match result {
                    Ok(()) => latencies.push(t0.elapsed().as_micros() as u64),
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| e.to_string());
                    }
                }
            }
            (latencies, errors, first_error, slice)
        }));
    }
    let mut outcome = Outcome {
        scenario: scenario.name().into(),
        ..Outcome::default()
    };
    for h in handles {
        let (lat, errors, first_error, slice) = h.await?;
        outcome.ops += lat.len() as u64;
        outcome.latencies_us.extend(lat);
        outcome.errors += errors;
        if outcome.first_error.is_none() {
            outcome.first_error = first_error;
        }
        fixture.authenticators.extend(slice);
    }
    outcome.elapsed = started.elapsed();
    if let (Some(before), Some(after)) = (
        generator_before,
        crate::target::cpu_time(std::process::id()),
    ) {
        outcome.generator_cpu = Some(after.saturating_sub(before));
    }
    if let (Some(pid), Some(before)) = (server_pid, cpu_before) {
        outcome.server_cpu = crate::target::cpu_time(pid).map(|after| after.saturating_sub(before));
        outcome.server_peak_rss = crate::target::memory(pid, "VmHWM:");
    }
    Ok(outcome)
}
