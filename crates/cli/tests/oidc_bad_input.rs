//! Broken and hostile OpenID Connect requests: each refused with the standard
//! error, nothing issued, and never a redirect to a URI that is not registered.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a failing test stops loudly

mod support;

use base64::Engine;
use keyfort_softauthn::{Authenticator, Overrides};
use serde_json::{Value, json};
use sha2::Digest;
use support::inproc::{Db, Harness, TestClient, client, query, start};
use url::Url;

on_both_stores!(authorization_refusals, token_refusals);

fn pkce() -> (String, String) {
    let verifier = keyfort_server::crypto::random_token();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn authorize_url(
    h: &Harness,
    client_id: &str,
    redirect_uri: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut url = Url::parse(&format!("{}/authorize", h.base)).unwrap();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", "st");
        for (k, v) in extra {
            q.append_pair(k, v);
        }
        if !extra.iter().any(|(k, _)| *k == "response_type") {
            q.append_pair("response_type", "code");
        }
        if !extra.iter().any(|(k, _)| *k == "scope") {
            q.append_pair("scope", "openid offline_access");
        }
    }
    url.to_string()
}

async fn signed_in(h: &Harness) -> reqwest::Client {
    let mut a = Authenticator::new([3; 16]);
    let browser = h.onboard_admin(&mut a).await;
    assert_eq!(
        h.passkey_signin(&browser, &mut a, None, &Overrides::default())
            .await
            .status,
        200
    );
    browser
}

async fn authorization_refusals(db: Db) {
    let Some(h) = start(db, "oidc_authorization_refusals").await else {
        return;
    };
    let browser = signed_in(&h).await;
    let app = h
        .add_client(
            false,
            &["authorization_code", "refresh_token"],
            "client_secret_basic",
            None,
        )
        .await;
    let public = h
        .add_client(true, &["authorization_code", "refresh_token"], "none", None)
        .await;
    let (_, challenge) = pkce();
    let pk = [
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];

    // Unknown client, redirect URI mismatch (exact or near miss), missing redirect URI: an error page, no redirect.
    for (id, uri) in [
        ("no-such-client", app.redirect_uri.as_str()),
        (app.id.as_str(), "https://evil.example/callback"),
        (app.id.as_str(), "http://localhost:9/callback/"),
        (app.id.as_str(), "http://localhost:9/callback?x=1"),
    ] {
        let r = browser
            .get(authorize_url(&h, id, uri, &pk))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{id} {uri}");
        assert!(
            r.headers().get("location").is_none(),
            "never a redirect to the offered URI"
        );
        let page = r.text().await.unwrap();
        assert!(
            page.contains("data-code=\"unknown_client\"")
                || page.contains("data-code=\"redirect_uri_mismatch\""),
            "{page}"
        );
    }
    let r = browser
        .get(format!(
            "{}/authorize?client_id={}&response_type=code&scope=openid",
            h.base, app.id
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.status().as_u16(), r.headers().get("location").is_none()),
        (400, true)
    );

    // Errors once the redirect URI is known good go back to the client, with state and iss.
    type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a TestClient);
    let cases: Vec<Case> = vec![
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
            &app,
        ),
        (
            vec![("response_type", "code id_token")],
            "unsupported_response_type",
            &app,
        ),
        (vec![("scope", "profile")], "invalid_scope", &app),
        (
            vec![
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "plain"),
            ],
            "invalid_request",
            &app,
        ),
        (
            vec![("code_challenge", challenge.as_str())],
            "invalid_request",
            &app,
        ),
        (
            vec![
                ("code_challenge", "short"),
                ("code_challenge_method", "S256"),
            ],
            "invalid_request",
            &app,
        ),
        (vec![], "invalid_request", &public),
        (vec![("prompt", "none login")], "invalid_request", &app),
        (vec![("max_age", "soon")], "invalid_request", &app),
        // No consent step exists, so none is pretended (nor advertised).
        (vec![("prompt", "consent")], "consent_required", &app),
        (vec![("prompt", "login consent")], "consent_required", &app),
        (vec![("request", "eyJ")], "request_not_supported", &app),
    ];
    for (extra, error, who) in cases {
        let (status, loc) = h
            .location(
                &browser,
                &authorize_url(&h, &who.id, &who.redirect_uri, &extra),
            )
            .await;
        let loc = loc.unwrap_or_default();
        assert_eq!(status, 303, "{extra:?}");
        assert!(loc.starts_with(&who.redirect_uri), "{loc}");
        assert_eq!(query(&loc, "error").as_deref(), Some(error), "{extra:?}");
        assert_eq!(query(&loc, "state").as_deref(), Some("st"));
        assert_eq!(query(&loc, "iss").as_deref(), Some(h.base.as_str()));
        assert!(query(&loc, "code").is_none());
    }
    // An oversized parameter.
    let big = "x".repeat(5000);
    let (_, loc) = h
        .location(
            &browser,
            &authorize_url(&h, &app.id, &app.redirect_uri, &[("nonce", big.as_str())]),
        )
        .await;
    assert_eq!(
        query(&loc.unwrap(), "error").as_deref(),
        Some("invalid_request")
    );
    // Logout: a forged hint, a hint for another client, an unregistered URI — error pages, no redirect.
    let forged = format!(
        "{}.{}.{}",
        "eyJhbGciOiJFUzI1NiIsImtpZCI6Im5vIn0", "eyJzdWIiOiJ4In0", "c2ln"
    );
    for (query, code) in [
        (format!("id_token_hint={forged}"), "id_token_hint_invalid"),
        (
            format!(
                "id_token_hint={forged}&post_logout_redirect_uri=http%3A%2F%2Flocalhost%3A9%2Fsigned-out"
            ),
            "id_token_hint_invalid",
        ),
        (
            format!(
                "client_id={}&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F",
                app.id
            ),
            "post_logout_redirect_uri_not_registered",
        ),
        (
            "post_logout_redirect_uri=http%3A%2F%2Flocalhost%3A9%2Fsigned-out".to_string(),
            "post_logout_redirect_uri_not_registered",
        ),
        ("client_id=nobody".to_string(), "unknown_client"),
    ] {
        let r = browser
            .get(format!("{}/logout?{query}", h.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{query}");
        assert!(r.headers().get("location").is_none());
        let page = r.text().await.unwrap();
        assert!(page.contains(code), "{query}: {page}");
    }
    let (status, _) = h.get_html(&browser, "/my/security").await;
    assert_eq!(status, 200, "a refused logout leaves the session alone");
    // Without a hint, logout asks the person instead of acting on a cross-site link.
    let r = browser
        .get(format!("{}/logout", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("logout-confirm"));
    let (status, _) = h.get_html(&browser, "/my/security").await;
    assert_eq!(status, 200, "still signed in until confirmed");
    // The confirmation names a registered application by its registered name, and never
    // prints a caller's client_id as if it were one.
    let (status, page) = h
        .get_html(&browser, &format!("/logout?client_id={}", app.id))
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("logout-confirm"));
    let name = h.store.client(&app.id).await.unwrap().unwrap().name;
    assert!(page.contains(&format!("{name} asks")), "{page}");
    // Confirming ends in a redirect to the registered URI: the page's form-action allows
    // that origin, and only that one.
    let r = browser
        .get(format!(
            "{}/logout?client_id={}&post_logout_redirect_uri=http%3A%2F%2Flocalhost%3A9%2Fsigned-out",
            h.base, app.id
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("form-action 'self' http://localhost:9;")
            && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    let spoof = "Your%20IT%20department%20(urgent%3A%20call%20555)";
    let (status, page) = h
        .get_html(&browser, &format!("/logout?client_id={spoof}"))
        .await;
    assert_eq!(status, 400);
    assert!(!page.contains("Your IT department"), "{page}");
    assert!(!page.contains("logout-confirm"));
    let (status, _) = h.get_html(&browser, "/my/security").await;
    assert_eq!(status, 200, "still signed in");
    // Discovery advertises only what is implemented.
    let meta: Value = reqwest::get(format!("{}/.well-known/openid-configuration", h.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        meta["prompt_values_supported"],
        json!(["none", "login", "select_account"])
    );
    assert!(meta.get("userinfo_signing_alg_values_supported").is_none());

    // A stale or made-up continuation.
    let r = browser
        .get(format!("{}/authorize/continue?request=nothing", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // A waiting request is sealed: tampered with, or a sign-in ceremony passed off as
    // one, it is refused — and neither is a way to a code.
    let stranger = support::inproc::client();
    let (_, pk_challenge) = pkce();
    let extra = [
        ("code_challenge", pk_challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let (_, loc) = h
        .location(
            &stranger,
            &authorize_url(&h, &app.id, &app.redirect_uri, &extra),
        )
        .await;
    let request = loc
        .unwrap()
        .strip_prefix("/signin?request=")
        .expect("sent to sign in")
        .to_string();
    let mut tampered = request.clone().into_bytes();
    let i = tampered.len() / 2;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let ceremony = h.signin_begin(&stranger, None).await["ceremonyId"]
        .as_str()
        .unwrap()
        .to_string();
    for forged in [String::from_utf8(tampered).unwrap(), ceremony] {
        let (status, page) = h
            .get_html(&browser, &format!("/authorize/continue?request={forged}"))
            .await;
        assert_eq!(status, 400);
        assert!(page.contains("request_expired"), "{page}");
        // The sign-in page does not show it as a waiting request either.
        let (status, page) = h
            .get_html(&stranger, &format!("/signin?request={forged}"))
            .await;
        assert_eq!(status, 200);
        assert!(!page.contains("to continue to"), "no application named");
    }
    // An expired one (resealed with the server's key, its expiry in the past) likewise.
    let sealer = h.request_sealer();
    let mut envelope: keyfort_server::sealed::Envelope<serde_json::Value> = sealer
        .open("authorize", &request)
        .expect("a sealed request");
    envelope.exp = keyfort_server::state::now_ms() - 1;
    let expired = sealer.seal("authorize", &envelope).unwrap();
    let (status, page) = h
        .get_html(&browser, &format!("/authorize/continue?request={expired}"))
        .await;
    assert_eq!(status, 400);
    assert!(page.contains("request_expired"), "{page}");
    let (_, page) = h
        .get_html(&stranger, &format!("/signin?request={expired}"))
        .await;
    assert!(
        !page.contains("to continue to"),
        "an expired request is not shown"
    );
    // The genuine one names its application.
    let (_, page) = h
        .get_html(&stranger, &format!("/signin?request={request}"))
        .await;
    assert!(page.contains("to continue to"), "the application is named");
}

async fn code_for(
    h: &Harness,
    browser: &reqwest::Client,
    app: &TestClient,
    challenge: Option<&str>,
) -> String {
    let mut extra = vec![];
    if let Some(c) = challenge {
        extra.push(("code_challenge", c));
        extra.push(("code_challenge_method", "S256"));
    }
    let (_, loc) = h
        .location(
            browser,
            &authorize_url(h, &app.id, &app.redirect_uri, &extra),
        )
        .await;
    query(&loc.expect("a redirect"), "code").expect("a code")
}

/// A fresh refresh token for `app` (a code from `browser`'s session, exchanged).
async fn refresh_token_for(h: &Harness, browser: &reqwest::Client, app: &TestClient) -> String {
    let code = code_for(h, browser, app, None).await;
    let (status, t, _) = post_token(
        h,
        Some((app.id.as_str(), app.secret.as_deref())),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &app.redirect_uri),
        ],
    )
    .await;
    assert_eq!(status, 200, "{t}");
    t["refresh_token"].as_str().unwrap().to_string()
}

async fn post_token(
    h: &Harness,
    auth: Option<(&str, Option<&str>)>,
    form: &[(&str, &str)],
) -> (u16, Value, Option<String>) {
    let mut req = reqwest::Client::new()
        .post(format!("{}/token", h.base))
        .form(form);
    if let Some((id, secret)) = auth {
        req = req.basic_auth(id, secret);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let www = r
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (status, r.json().await.unwrap_or(Value::Null), www)
}

fn err(v: &Value) -> &str {
    v["error"].as_str().unwrap_or("")
}

async fn token_refusals(db: Db) {
    let Some(h) = start(db, "oidc_token_refusals").await else {
        return;
    };
    let browser = signed_in(&h).await;
    let app = h
        .add_client(
            false,
            &["authorization_code", "refresh_token"],
            "client_secret_basic",
            None,
        )
        .await;
    let other = h
        .add_client(false, &["authorization_code"], "client_secret_basic", None)
        .await;
    let auth = Some((app.id.as_str(), app.secret.as_deref()));
    let redirect = app.redirect_uri.as_str();

    // Wrong secret, unknown client.
    let code = code_for(&h, &browser, &app, None).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect),
    ];
    let (status, body, www) = post_token(&h, Some((&app.id, Some("wrong"))), &form).await;
    assert_eq!((status, err(&body)), (401, "invalid_client"));
    assert!(www.unwrap().starts_with("Basic"));
    let (status, body, _) = post_token(&h, Some(("nobody", Some("x"))), &form).await;
    assert_eq!((status, err(&body)), (401, "invalid_client"));
    // A code issued to another client.
    let (status, body, _) = post_token(&h, Some((&other.id, other.secret.as_deref())), &form).await;
    assert_eq!((status, err(&body)), (400, "invalid_grant"));
    // Redirect URI differs from the authorization request.
    let (_, body, _) = post_token(
        &h,
        auth,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://localhost:9/other"),
        ],
    )
    .await;
    assert_eq!(err(&body), "invalid_grant");
    // A verifier for a code issued without a challenge (PKCE downgrade).
    let (_, body, _) = post_token(
        &h,
        auth,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("code_verifier", &"v".repeat(43)),
        ],
    )
    .await;
    assert_eq!(err(&body), "invalid_grant");
    // The right request works once; the replay is refused and revokes what the code issued.
    let (status, tokens, _) = post_token(&h, auth, &form).await;
    assert_eq!(status, 200, "{tokens}");
    let (status, body, _) = post_token(&h, auth, &form).await;
    assert_eq!((status, err(&body)), (400, "invalid_grant"));
    let r = reqwest::Client::new()
        .get(format!("{}/userinfo", h.base))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        401,
        "the access token from a replayed code is revoked"
    );
    let audit = h.store.audit_log(20).await.unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|a| a.action == "grant.revoked_code_replay")
            .count(),
        1,
        "the revocation is audited, once"
    );
    let (_, body, _) = post_token(
        &h,
        auth,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(err(&body), "invalid_grant", "and so is the refresh token");

    // PKCE: missing and wrong verifier.
    let (verifier, challenge) = pkce();
    let code = code_for(&h, &browser, &app, Some(&challenge)).await;
    let (_, body, _) = post_token(
        &h,
        auth,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
        ],
    )
    .await;
    assert_eq!(err(&body), "invalid_grant");
    let (wrong, _) = pkce();
    let (_, body, _) = post_token(
        &h,
        auth,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("code_verifier", &wrong),
        ],
    )
    .await;
    assert_eq!(err(&body), "invalid_grant");
    let (status, _, _) = post_token(
        &h,
        auth,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "the right verifier still works");

    // An expired code.
    let grant = keyfort_store::GrantRecord {
        id: keyfort_server::crypto::uuid_v4(),
        client_id: app.id.clone(),
        user_id: Some(h.store.user_by_username("admin").await.unwrap().unwrap().id),
        session_id: None,
        scope: "openid".into(),
        auth_time: Some(0),
        acr: None,
        amr: "[]".into(),
        nonce: None,
        not_after: None,
        created_at: 0,
        revoked_at: None,
    };
    h.store
        .create_grant_with_code(
            &grant,
            &keyfort_store::CodeRecord {
                code_hash: keyfort_server::crypto::token_hash("stale-code"),
                grant_id: grant.id.clone(),
                redirect_uri: redirect.into(),
                code_challenge: None,
                created_at: 0,
                expires_at: keyfort_server::state::now_ms() - 1,
                used_at: None,
            },
            None,
        )
        .await
        .unwrap();
    let (_, body, _) = post_token(
        &h,
        auth,
        &[
            ("grant_type", "authorization_code"),
            ("code", "stale-code"),
            ("redirect_uri", redirect),
        ],
    )
    .await;
    assert_eq!(err(&body), "invalid_grant");

    // Refresh-token reuse.
    let rt = refresh_token_for(&h, &browser, &app).await;
    let (status, t2, _) = post_token(
        &h,
        auth,
        &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
    )
    .await;
    assert_eq!(status, 200);
    let (_, body, _) = post_token(
        &h,
        auth,
        &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
    )
    .await;
    assert_eq!(err(&body), "invalid_grant");
    let (_, body, _) = post_token(
        &h,
        auth,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", t2["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(err(&body), "invalid_grant", "the family is revoked");
    assert!(
        h.store
            .audit_log(5)
            .await
            .unwrap()
            .iter()
            .any(|a| a.action == "grant.revoked_refresh_reuse")
    );

    // Grant types: unknown, not allowed for this client, and the password grant (logged as legacy).
    let (_, body, _) = post_token(
        &h,
        auth,
        &[("grant_type", "urn:ietf:params:oauth:grant-type:device_code")],
    )
    .await;
    assert_eq!(err(&body), "unsupported_grant_type");
    let (_, body, _) = post_token(&h, auth, &[("grant_type", "client_credentials")]).await;
    assert_eq!(err(&body), "unauthorized_client");
    let rows = h.signin_rows().await;
    let (status, body, _) = post_token(
        &h,
        auth,
        &[
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", "hunter2"),
        ],
    )
    .await;
    assert_eq!((status, err(&body)), (400, "unsupported_grant_type"));
    assert_eq!(h.signin_rows().await, rows + 1);
    let row = h.last_signin().await;
    assert_eq!(
        (
            row.method.as_str(),
            row.reason.as_str(),
            row.username.as_deref()
        ),
        (
            "password_grant",
            "legacy_authentication_blocked",
            Some("admin")
        )
    );
    // Malformed requests.
    let (_, body, _) = post_token(
        &h,
        auth,
        &[
            ("grant_type", "authorization_code"),
            ("grant_type", "refresh_token"),
        ],
    )
    .await;
    assert_eq!(err(&body), "invalid_request", "repeated parameter");
    let r = reqwest::Client::new()
        .post(format!("{}/token", h.base))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let (_, body, _) = post_token(&h, auth, &[]).await;
    assert_eq!(err(&body), "invalid_request");

    // private_key_jwt: a good assertion works once; garbage, wrong key and replays are refused.
    let (jwks, key) = client_key("k1");
    let (_, wrong_key) = client_key("k1");
    let svc = h
        .add_client(
            false,
            &["client_credentials"],
            "private_key_jwt",
            Some(&jwks),
        )
        .await;
    let audience = format!("{}/token", h.base);
    let assertion = sign_assertion(&key, &svc.id, &audience, "jti-1");
    let form = |a: &str| {
        vec![
            ("grant_type", "client_credentials".to_string()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_string(),
            ),
            ("client_assertion", a.to_string()),
        ]
    };
    let send = |f: Vec<(&'static str, String)>| {
        let base = h.base.clone();
        async move {
            let r = reqwest::Client::new()
                .post(format!("{base}/token"))
                .form(&f)
                .send()
                .await
                .unwrap();
            let s = r.status().as_u16();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, body) = send(form(&assertion)).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = send(form(&assertion)).await;
    assert_eq!(
        (status, err(&body)),
        (401, "invalid_client"),
        "replayed assertion"
    );
    for bad in ["not.a.jwt", "e30.e30.e30", ""] {
        let (status, body) = send(form(bad)).await;
        assert!(status == 401 || status == 400, "{bad}: {status}");
        assert!(
            matches!(err(&body), "invalid_client" | "invalid_request"),
            "{bad}: {body}"
        );
    }
    let (status, _) = send(form(&sign_assertion(
        &wrong_key, &svc.id, &audience, "jti-2",
    )))
    .await;
    assert_eq!(status, 401, "signed by a key the client did not register");
    let (status, _) = send(form(&sign_assertion(
        &key,
        &svc.id,
        "https://elsewhere.example/token",
        "jti-3",
    )))
    .await;
    assert_eq!(status, 401, "wrong audience");
    // An expiry past the one-hour cap is refused, however large (2^63-1 used to wrap
    // when turned into milliseconds, and the assertion was remembered only briefly).
    for exp in [i64::MAX, i64::MAX / 1000 + 1, now_secs() + 3_700] {
        let a = sign_assertion_exp(&key, &svc.id, &audience, &format!("jti-exp-{exp}"), exp);
        let (status, body) = send(form(&a)).await;
        assert_eq!((status, err(&body)), (401, "invalid_client"), "exp {exp}");
    }

    // UserInfo with no token, a garbage token, and an ID token (not an access token).
    let r = reqwest::Client::new()
        .get(format!("{}/userinfo", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = reqwest::Client::new()
        .get(format!("{}/userinfo", h.base))
        .bearer_auth("garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = reqwest::Client::new()
        .get(format!("{}/userinfo", h.base))
        .bearer_auth(t2["id_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "an ID token is not an access token");
    // Introspection is for confidential clients only.
    let public = h
        .add_client(true, &["authorization_code"], "none", None)
        .await;
    let r = reqwest::Client::new()
        .post(format!("{}/introspect", h.base))
        .form(&[("client_id", public.id.as_str()), ("token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // A disabled user's refresh token is refused and its family revoked: enabling the
    // user again does not bring it back.
    let rt = refresh_token_for(&h, &browser, &app).await;
    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt.as_str()),
    ];
    let now = keyfort_server::state::now_ms();
    h.store
        .set_user_enabled("admin", false, "test", now)
        .await
        .unwrap();
    let (status, body, _) = post_token(&h, auth, &refresh).await;
    assert_eq!((status, err(&body)), (400, "invalid_grant"));
    h.store
        .set_user_enabled("admin", true, "test", now)
        .await
        .unwrap();
    let (status, body, _) = post_token(&h, auth, &refresh).await;
    assert_eq!((status, err(&body)), (400, "invalid_grant"));
    let _ = client();
}

fn client_key(kid: &str) -> (String, jsonwebtoken::EncodingKey) {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(
        &ECDSA_P256_SHA256_FIXED_SIGNING,
        &aws_lc_rs::rand::SystemRandom::new(),
    )
    .unwrap();
    let key = jsonwebtoken::EncodingKey::from_ec_der(pkcs8.as_ref());
    let mut jwk =
        jsonwebtoken::jwk::Jwk::from_encoding_key(&key, jsonwebtoken::Algorithm::ES256).unwrap();
    jwk.common.key_id = Some(kid.into());
    (
        serde_json::to_string(&jsonwebtoken::jwk::JwkSet { keys: vec![jwk] }).unwrap(),
        key,
    )
}

fn sign_assertion(
    key: &jsonwebtoken::EncodingKey,
    client_id: &str,
    aud: &str,
    jti: &str,
) -> String {
    sign_assertion_exp(key, client_id, aud, jti, now_secs() + 60)
}

fn now_secs() -> i64 {
    keyfort_server::state::now_ms() / 1000
}

fn sign_assertion_exp(
    key: &jsonwebtoken::EncodingKey,
    client_id: &str,
    aud: &str,
    jti: &str,
    exp: i64,
) -> String {
    let now = now_secs();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some("k1".into());
    let claims = json!({ "iss": client_id, "sub": client_id, "aud": aud, "jti": jti, "iat": now, "exp": exp });
    jsonwebtoken::encode(&header, &claims, key).unwrap()
}
