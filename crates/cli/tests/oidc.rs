//! OpenID Connect with a real relying-party library (`openidconnect`) against a
//! server on an ephemeral port — discovery, code flow with PKCE, ID-token
//! verification with the JWKS, UserInfo, refresh rotation, client credentials,
//! revocation, introspection and logout — on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a failing test stops loudly

mod support;

use keyfort_core::strength::{ACR_MFA, ACR_PHISHING_RESISTANT};
use keyfort_softauthn::{Authenticator, Overrides};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AuthenticationContextClass, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    IntrospectionUrl, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl,
    RevocationUrl, Scope, TokenIntrospectionResponse, TokenResponse,
};
use serde_json::{Value, json};
use support::inproc::{Db, Harness, TestClient, client, query, start};
use url::Url;

on_both_stores!(relying_party_round_trip, signin_answers_its_waiting_request);

fn rp_http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn relying_party_round_trip(db: Db) {
    let Some(h) = start(db, "oidc_round_trip").await else {
        return;
    };
    assert!(
        keyfort_server::oidc::signer::install(),
        "the server installed the signer that uses the key ring's parsed keys"
    );
    let mut authn = Authenticator::new([9; 16]);
    let browser = h.onboard_admin(&mut authn).await;
    // A passkey session (the onboarding session came from the pass).
    let r = h
        .passkey_signin(&browser, &mut authn, None, &Overrides::default())
        .await;
    assert_eq!(r.status, 200);
    let app = h
        .add_client(
            false,
            &["authorization_code", "refresh_token", "client_credentials"],
            "client_secret_basic",
            None,
        )
        .await;
    let http = rp_http();

    // Discovery: nothing but the issuer URL.
    let meta = CoreProviderMetadata::discover_async(IssuerUrl::new(h.base.clone()).unwrap(), &http)
        .await
        .expect("discovery");
    let acrs: Vec<String> = meta
        .acr_values_supported()
        .unwrap()
        .iter()
        .map(|a| a.to_string())
        .collect();
    assert!(acrs.contains(&ACR_PHISHING_RESISTANT.to_string()));
    let rp = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(app.id.clone()),
        app.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(app.redirect_uri.clone()).unwrap())
    .set_revocation_url(RevocationUrl::new(format!("{}/revoke", h.base)).unwrap())
    .set_introspection_url(IntrospectionUrl::new(format!("{}/introspect", h.base)).unwrap());

    // Code flow with PKCE, asking for phishing-resistant authentication.
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf, nonce) = rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("offline_access".into()))
        .add_auth_context_value(AuthenticationContextClass::new(
            ACR_PHISHING_RESISTANT.into(),
        ))
        .set_pkce_challenge(challenge)
        .url();
    let (status, location) = h.location(&browser, auth_url.as_str()).await;
    assert_eq!(status, 303, "the signed-in browser goes straight back");
    let location = location.unwrap();
    assert!(location.starts_with(&app.redirect_uri), "{location}");
    assert_eq!(
        query(&location, "state").as_deref(),
        Some(csrf.secret().as_str())
    );
    assert_eq!(query(&location, "iss").as_deref(), Some(h.base.as_str()));
    let code = query(&location, "code").unwrap();

    let tokens = rp
        .exchange_code(AuthorizationCode::new(code.clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("token exchange");
    let verifier = rp
        .id_token_verifier()
        .set_allowed_algs([CoreJwsSigningAlgorithm::EcdsaP256Sha256]);
    let claims = tokens
        .id_token()
        .unwrap()
        .claims(&verifier, &nonce)
        .expect("ID token verifies with the JWKS");
    let admin = h.store.user_by_username("admin").await.unwrap().unwrap();
    assert_eq!(
        claims.subject().as_str(),
        admin.id,
        "sub is the stable id, not the username"
    );
    assert_eq!(
        claims.auth_context_ref().map(|a| a.as_str()),
        Some(ACR_PHISHING_RESISTANT)
    );
    let amr: Vec<&str> = claims
        .auth_method_refs()
        .unwrap()
        .iter()
        .map(|a| a.as_str())
        .collect();
    assert_eq!(
        amr,
        ["swk", "user", "mfa"],
        "an unattested passkey is a software-protected key"
    );
    assert!(claims.auth_time().is_some());
    assert_eq!(
        claims.preferred_username().map(|u| u.as_str()),
        Some("admin")
    );

    // Access token: an RFC 9068 JWT.
    let header: Value = {
        use base64::Engine;
        let first = tokens
            .access_token()
            .secret()
            .split('.')
            .next()
            .unwrap()
            .to_string();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(first)
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(header["typ"], "at+jwt");

    // UserInfo.
    let info: openidconnect::core::CoreUserInfoClaims = rp
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(info.subject().as_str(), admin.id);

    // Introspection: active now.
    let intro = rp
        .introspect(tokens.access_token())
        .request_async(&http)
        .await
        .unwrap();
    assert!(intro.active());
    assert_eq!(intro.client_id().map(|c| c.as_str()), Some(app.id.as_str()));

    // A refresh may narrow the scope (RFC 6749 §6): the new tokens carry only what was
    // asked for, and the refresh token keeps the grant's.
    let sorted = |v: Option<&Vec<Scope>>| {
        let mut v: Vec<String> = v.unwrap().iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    };
    let narrowed = rp
        .exchange_refresh_token(tokens.refresh_token().unwrap())
        .unwrap()
        .add_scope(Scope::new("openid".into()))
        .add_scope(Scope::new("offline_access".into()))
        .request_async(&http)
        .await
        .expect("a narrower refresh");
    assert_eq!(sorted(narrowed.scopes()), ["offline_access", "openid"]);
    let intro = rp
        .introspect(narrowed.access_token())
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(sorted(intro.scopes()), ["offline_access", "openid"]);
    let info: openidconnect::core::CoreUserInfoClaims = rp
        .user_info(narrowed.access_token().clone(), None)
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(info.preferred_username(), None, "profile was not asked for");
    let narrowed_claims = narrowed
        .id_token()
        .unwrap()
        .claims(&verifier, &nonce)
        .expect("the refreshed ID token verifies");
    assert_eq!(narrowed_claims.preferred_username(), None);
    let widened = rp
        .exchange_refresh_token(narrowed.refresh_token().unwrap())
        .unwrap()
        .add_scope(Scope::new("reports.read".into()))
        .request_async(&http)
        .await;
    assert!(widened.is_err(), "a refresh cannot widen the grant");

    // Refresh with rotation; reuse revokes the family.
    let first_refresh = narrowed.refresh_token().unwrap().clone();
    let refreshed = rp
        .exchange_refresh_token(&first_refresh)
        .unwrap()
        .request_async(&http)
        .await
        .expect("refresh");
    assert!(
        sorted(refreshed.scopes()).contains(&"profile".to_string()),
        "without a scope a refresh issues the whole grant again"
    );
    let second_refresh = refreshed.refresh_token().unwrap().clone();
    assert_ne!(first_refresh.secret(), second_refresh.secret(), "rotated");
    let reuse = rp
        .exchange_refresh_token(&first_refresh)
        .unwrap()
        .request_async(&http)
        .await;
    assert!(reuse.is_err(), "a used refresh token is refused");
    let after = rp
        .exchange_refresh_token(&second_refresh)
        .unwrap()
        .request_async(&http)
        .await;
    assert!(after.is_err(), "and its whole family is revoked");
    let intro = rp
        .introspect(refreshed.access_token())
        .request_async(&http)
        .await
        .unwrap();
    assert!(
        !intro.active(),
        "access tokens of the revoked family are inactive"
    );

    // Client credentials.
    let cc = rp
        .exchange_client_credentials()
        .unwrap()
        .add_scope(Scope::new("reports.read".into()))
        .request_async(&http)
        .await
        .expect("client credentials");
    let intro = rp
        .introspect(cc.access_token())
        .request_async(&http)
        .await
        .unwrap();
    assert!(intro.active());
    assert_eq!(intro.sub(), Some(app.id.as_str()));
    // Revocation (RFC 7009).
    // (openidconnect refuses a revocation URL over plain http, so this one request is made by hand.)
    let r = reqwest::Client::new()
        .post(format!("{}/revoke", h.base))
        .basic_auth(&app.id, app.secret.as_deref())
        .form(&[
            ("token", cc.access_token().secret().as_str()),
            ("token_type_hint", "access_token"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let intro = rp
        .introspect(cc.access_token())
        .request_async(&http)
        .await
        .unwrap();
    assert!(!intro.active(), "revoked");

    // A fresh login for logout: RP-initiated logout with id_token_hint ends the session and its tokens.
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, _, nonce) = rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();
    let (_, location) = h.location(&browser, auth_url.as_str()).await;
    let code = query(&location.unwrap(), "code").unwrap();
    let tokens = rp
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let id_token = tokens.id_token().unwrap().to_string();
    let claims = tokens
        .id_token()
        .unwrap()
        .claims(
            &rp.id_token_verifier()
                .set_allowed_algs([CoreJwsSigningAlgorithm::EcdsaP256Sha256]),
            &nonce,
        )
        .unwrap();
    assert!(claims.additional_claims().is_none_or_empty());
    let logout = format!(
        "{}/logout?id_token_hint={id_token}&post_logout_redirect_uri={}&state=bye",
        h.base,
        url::form_urlencoded::byte_serialize(b"http://localhost:9/signed-out").collect::<String>()
    );
    let (status, location) = h.location(&browser, &logout).await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("http://localhost:9/signed-out?state=bye"))
    );
    let (status, _) = h.get_html(&browser, "/my/security").await;
    assert_eq!(status, 303, "the Keyfort session is over");
    let after = rp
        .exchange_refresh_token(tokens.refresh_token().unwrap())
        .unwrap()
        .request_async(&http)
        .await;
    assert!(
        after.is_err(),
        "sign-out revoked the session's refresh token"
    );
    let r = reqwest::Client::new()
        .get(format!("{}/userinfo", h.base))
        .bearer_auth(tokens.access_token().secret())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Unregistered post-logout URI: an error page, never a redirect.
    let bad = format!(
        "{}/logout?id_token_hint={id_token}&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F",
        h.base
    );
    let (status, location) = h.location(&client(), &bad).await;
    assert_eq!((status, location), (400, None));
}

trait EmptyClaims {
    fn is_none_or_empty(&self) -> bool;
}
impl EmptyClaims for openidconnect::EmptyAdditionalClaims {
    fn is_none_or_empty(&self) -> bool {
        true
    }
}

/// Posts a token request as a confidential client with Basic authentication.
async fn token(h: &Harness, app: &TestClient, form: &[(&str, &str)]) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/token", h.base))
        .basic_auth(&app.id, app.secret.as_deref())
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn pkce() -> (String, String) {
    use base64::Engine;
    use sha2::Digest;
    let verifier = keyfort_server::crypto::random_token();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn authorize_url(h: &Harness, app: &TestClient, extra: &[(&str, &str)]) -> String {
    let mut url = Url::parse(&format!("{}/authorize", h.base)).unwrap();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", &app.id)
            .append_pair("redirect_uri", &app.redirect_uri);
        q.append_pair("scope", "openid profile")
            .append_pair("state", "s1")
            .append_pair("nonce", "n1");
        for (k, v) in extra {
            q.append_pair(k, v);
        }
    }
    url.to_string()
}

/// The waiting request a fresh browser is sent to sign in for.
async fn waiting_request(
    h: &Harness,
    browser: &reqwest::Client,
    app: &TestClient,
    extra: &[(&str, &str)],
) -> String {
    let (_, loc) = h.location(browser, &authorize_url(h, app, extra)).await;
    loc.unwrap()
        .strip_prefix("/signin?request=")
        .expect("sent to sign in")
        .to_string()
}

/// A passkey sign-in carrying `request` that is not one to answer: the person is signed
/// in, the page goes on to `/authorize/continue`, and that refuses it with a page.
async fn signin_answers_nothing(
    h: &Harness,
    browser: &reqwest::Client,
    authn: &mut Authenticator,
    request: &str,
) {
    let r = h.passkey_signin_for(browser, authn, request).await;
    assert_eq!(r.status, 200, "the sign-in itself stands");
    assert!(r.set_cookie);
    let next = format!("/authorize/continue?request={request}");
    assert_eq!(r.body["redirect"], next);
    let (status, loc) = h.location(browser, &format!("{}{next}", h.base)).await;
    assert_eq!((status, loc), (400, None));
}

/// A sign-in started for a waiting authorization request answers it as it completes: the
/// page goes straight back to the application with a code, for a pass sign-in and a
/// passkey sign-in alike. A forged, expired or already answered request still signs the
/// person in but is answered by nothing: the page goes on to `/authorize/continue`, which
/// refuses it.
async fn signin_answers_its_waiting_request(db: Db) {
    let Some(h) = start(db, "oidc_signin_answers").await else {
        return;
    };
    let app = h
        .add_client(false, &["authorization_code"], "client_secret_basic", None)
        .await;
    let (verifier, challenge) = pkce();
    let pk = [
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let exchange = async |code: &str| {
        token(
            &h,
            &app,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &app.redirect_uri),
                ("code_verifier", &verifier),
            ],
        )
        .await
    };
    let claims = |body: &Value| {
        jsonwebtoken::dangerous::insecure_decode::<Value>(body["id_token"].as_str().unwrap())
            .unwrap()
            .claims
    };

    // A pass sign-in for a waiting request: "Set up your passkey" first (the request
    // still waiting), then back to the application with a code at `mfa`.
    let browser = client();
    let request = waiting_request(&h, &browser, &app, &pk).await;
    // The pass page's way back to passkey sign-in keeps the whole sealed request (it is
    // far longer than 64 characters); one that does not open is not carried.
    assert!(request.len() > 64);
    let (status, page) = h
        .get_html(&browser, &format!("/signin/tap?request={request}"))
        .await;
    assert_eq!(status, 200);
    assert!(
        page.contains(&format!("href=\"/signin?request={request}\"")),
        "{page}"
    );
    let (_, page) = h.get_html(&browser, "/signin/tap?request=abc").await;
    assert!(page.contains("href=\"/signin\""), "{page}");
    let r = h
        .post(
            &browser,
            "/api/signin/tap",
            &json!({ "username": "admin", "code": h.admin_pass, "request": request }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let setup = format!("/signin/setup?request={request}");
    assert_eq!(r.body["redirect"], setup.as_str(), "nothing answered yet");
    let (status, page) = h.get_html(&browser, &setup).await;
    assert_eq!(status, 200);
    assert!(page.contains("Set up your passkey"), "{page}");
    let next = format!("/authorize/continue?request={request}");
    assert!(
        page.contains(&format!("id=\"setup-skip\" href=\"{next}\"")),
        "\"Not now\" goes on to the request: {page}"
    );
    // A request that does not open is not carried on.
    let (_, page) = h.get_html(&browser, "/signin/setup?request=abc").await;
    assert!(page.contains("href=\"/my/security\""), "{page}");
    // Without a session the page sends the person to sign in.
    assert_eq!(
        h.location(&client(), &format!("{}{setup}", h.base)).await,
        (303, Some(format!("/signin?request={request}")))
    );
    let (status, loc) = h.location(&browser, &format!("{}{next}", h.base)).await;
    assert_eq!(status, 303);
    let loc = loc.unwrap();
    assert!(loc.starts_with(&app.redirect_uri), "{loc}");
    assert_eq!(query(&loc, "state").as_deref(), Some("s1"));
    assert_eq!(query(&loc, "iss").as_deref(), Some(h.base.as_str()));
    let (status, body) = exchange(&query(&loc, "code").unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(claims(&body)["acr"], ACR_MFA);
    assert_eq!(claims(&body)["nonce"], "n1");

    // A passkey sign-in likewise, with the passkey as evidence.
    let mut authn = Authenticator::new([5; 16]);
    assert_eq!(
        h.register(&browser, &mut authn, &Overrides::default())
            .await
            .status,
        200
    );
    let stranger = client();
    let request = waiting_request(&h, &stranger, &app, &pk).await;
    let begin = h.signin_begin(&stranger, None).await;
    let finish = json!({
        "ceremonyId": begin["ceremonyId"],
        "credential": authn.get(&begin, &h.base).unwrap(),
        "request": request,
    });
    let r = h
        .post(&stranger, "/api/signin/passkey/finish", &finish)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.set_cookie);
    let loc = r.body["redirect"].as_str().unwrap().to_string();
    assert!(loc.starts_with(&app.redirect_uri), "{loc}");
    let (status, body) = exchange(&query(&loc, "code").unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(claims(&body)["amr"], json!(["swk", "user", "mfa"]));
    // The same finish replayed: refused, no session, nothing answered.
    let r = h
        .post(&client(), "/api/signin/passkey/finish", &finish)
        .await;
    assert_eq!((r.status, r.code()), (400, "challenge_invalid"));
    assert!(!r.set_cookie && r.body.get("redirect").is_none());

    // Answered once: a second sign-in carrying the same request answers nothing.
    signin_answers_nothing(&h, &client(), &mut authn, &request).await;

    // Tampered with, or expired (resealed with the server's key, its expiry in the past):
    // no code, and `/authorize/continue` refuses it.
    let fresh = client();
    let genuine = waiting_request(&h, &fresh, &app, &pk).await;
    let mut tampered = genuine.clone().into_bytes();
    let i = tampered.len() / 2;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let sealer = h.request_sealer();
    let mut envelope: keyfort_server::sealed::Envelope<Value> =
        sealer.open("authorize", &genuine).unwrap();
    envelope.exp = keyfort_server::state::now_ms() - 1;
    for forged in [
        String::from_utf8(tampered).unwrap(),
        sealer.seal("authorize", &envelope).unwrap(),
    ] {
        signin_answers_nothing(&h, &fresh, &mut authn, &forged).await;
    }
    // A refused sign-in (an assertion made for another ceremony) answers nothing either.
    let (one, other) = (
        h.signin_begin(&fresh, None).await,
        h.signin_begin(&fresh, None).await,
    );
    let r = h
        .post(
            &fresh,
            "/api/signin/passkey/finish",
            &json!({
                "ceremonyId": other["ceremonyId"],
                "credential": authn.get(&one, &h.base).unwrap(),
                "request": genuine,
            }),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(!r.set_cookie && r.body.get("redirect").is_none());
    // The genuine one is still waiting, and the session the forgeries left answers it.
    let (_, loc) = h
        .location(
            &fresh,
            &format!("{}/authorize/continue?request={genuine}", h.base),
        )
        .await;
    assert!(query(&loc.unwrap(), "code").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_up_prompts_and_unmet_requirements() {
    let h = start(Db::Sqlite, "step_up").await.unwrap();
    let app = h
        .add_client(false, &["authorization_code"], "client_secret_post", None)
        .await;
    let (_, challenge) = pkce();
    let pk = [
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];

    // prompt=none without a session: login_required at the client, no page.
    let mut extra = pk.to_vec();
    extra.push(("prompt", "none"));
    let (status, loc) = h
        .location(&client(), &authorize_url(&h, &app, &extra))
        .await;
    assert_eq!(status, 303);
    let loc = loc.unwrap();
    assert!(loc.starts_with(&app.redirect_uri));
    assert_eq!(query(&loc, "error").as_deref(), Some("login_required"));
    assert_eq!(query(&loc, "state").as_deref(), Some("s1"));

    // Signed in with a pass only (multi-factor, not phishing-resistant), no passkey registered:
    // phishing-resistant is impossible for this user, so the client hears it — no downgrade.
    let browser = client();
    assert_eq!(
        h.tap_signin(&browser, "admin", &h.admin_pass).await.status,
        200
    );
    let mut extra = pk.to_vec();
    extra.push(("acr_values", ACR_PHISHING_RESISTANT));
    let (_, loc) = h.location(&browser, &authorize_url(&h, &app, &extra)).await;
    assert_eq!(
        query(&loc.unwrap(), "error").as_deref(),
        Some("unmet_authentication_requirements")
    );

    // Multi-factor is met by the pass session: a code with acr mfa.
    let mut extra = pk.to_vec();
    extra.push(("acr_values", ACR_MFA));
    let (_, loc) = h.location(&browser, &authorize_url(&h, &app, &extra)).await;
    assert!(query(&loc.unwrap(), "code").is_some());

    // With a passkey registered, the pass session is stepped up: sign in again with the passkey.
    let mut authn = Authenticator::synced([1; 16]);
    assert_eq!(
        h.register(&browser, &mut authn, &Overrides::default())
            .await
            .status,
        200
    );
    let (verifier, challenge) = pkce();
    let extra = [
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("acr_values", ACR_PHISHING_RESISTANT),
    ];
    let (_, loc) = h.location(&browser, &authorize_url(&h, &app, &extra)).await;
    let loc = loc.unwrap();
    assert!(
        loc.starts_with("/signin?request="),
        "sent to sign in again: {loc}"
    );
    let request = loc.trim_start_matches("/signin?request=").to_string();
    let (_, page) = h.get_html(&browser, &loc).await;
    assert!(
        page.contains("passkey-required") && !page.contains("tap-link"),
        "the page asks for a passkey and hides the pass"
    );
    // Continuing without the stronger sign-in goes back to the sign-in page.
    let (_, again) = h
        .location(
            &browser,
            &format!("{}/authorize/continue?request={request}", h.base),
        )
        .await;
    assert_eq!(again.as_deref(), Some(loc.as_str()));
    // The passkey ceremony answers the waiting request as it completes: the browser is sent
    // straight back to the application with a code.
    let begin = h.signin_begin(&browser, None).await;
    let cred = authn.get(&begin, &h.base).unwrap();
    let r = h
        .post(
            &browser,
            "/api/signin/passkey/finish",
            &json!({ "ceremonyId": begin["ceremonyId"], "credential": cred, "request": request }),
        )
        .await;
    let loc = r.body["redirect"].as_str().unwrap().to_string();
    assert!(loc.starts_with(&app.redirect_uri), "{loc}");
    assert_eq!(query(&loc, "state").as_deref(), Some("s1"));
    assert_eq!(query(&loc, "iss").as_deref(), Some(h.base.as_str()));
    let code = query(&loc, "code").expect("a code after step-up");
    let (status, body) = token(
        &h,
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &app.redirect_uri),
            ("code_verifier", &verifier),
            ("client_id", &app.id),
            ("client_secret", app.secret.as_deref().unwrap()),
        ],
    )
    .await;
    // client_secret_post with Basic too is two methods: refused; post alone works.
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let r = reqwest::Client::new()
        .post(format!("{}/token", h.base))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &app.redirect_uri),
            ("code_verifier", &verifier),
            ("client_id", &app.id),
            ("client_secret", app.secret.as_deref().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let claims =
        jsonwebtoken::dangerous::insecure_decode::<Value>(body["id_token"].as_str().unwrap())
            .unwrap()
            .claims;
    assert_eq!(claims["acr"], ACR_PHISHING_RESISTANT);
    assert_eq!(claims["amr"], json!(["swk", "user", "mfa"]));
    // The waiting request was answered once.
    let (status, _) = h
        .location(
            &browser,
            &format!("{}/authorize/continue?request={request}", h.base),
        )
        .await;
    assert_eq!(status, 400);

    // prompt=login with a live session: sign in again first.
    let extra = [
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("prompt", "login"),
    ];
    let (_, loc) = h.location(&browser, &authorize_url(&h, &app, &extra)).await;
    assert!(loc.unwrap().starts_with("/signin?request="));
    // max_age=0: likewise.
    let extra = [
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("max_age", "0"),
    ];
    let (_, loc) = h.location(&browser, &authorize_url(&h, &app, &extra)).await;
    assert!(loc.unwrap().starts_with("/signin?request="));
}
