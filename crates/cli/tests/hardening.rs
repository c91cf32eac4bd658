//! Throttling, security headers and sign-in log growth, end to end on both stores.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a failing test stops loudly

mod support;

use keyfort_softauthn::{Authenticator, Overrides};
use keyfort_store::SignInEvent;
use serde_json::{Value, json};
use support::inproc::{Db, client, start, start_with};

on_both_stores!(
    one_one_time_pass_signs_in_once_however_many_race,
    concurrent_pass_guesses_never_pass_the_limit,
    per_address_and_per_session_limits,
    client_authentication_is_throttled,
    signin_log_collapses_and_is_retained,
    webauthn_fields_are_cross_checked
);

fn now() -> i64 {
    keyfort_server::state::now_ms()
}

/// 99 wrong codes sent together with the right one: no more attempts are checked than
/// the throttle allows (it used to be 53–99 against a limit of 10), every other attempt
/// is told to wait, and the pass itself is never locked.
/// 50 sign-ins at once with the right code of one one-time pass: exactly one signs in
/// (the pass is spent by a conditional update in the sign-in's commit); every other is
/// told the pass was used, or to wait, and no second session exists.
async fn one_one_time_pass_signs_in_once_however_many_race(db: Db) {
    let settings = [("KEYFORT_THROTTLE_PASS_PER_IP_PER_MINUTE", "100000")];
    let Some(h) = start_with(db, "one_time_pass_race", &settings).await else {
        return;
    };
    h.add_user("bob").await;
    let bob = h.store.user_by_username("bob").await.unwrap().unwrap();
    let issued = h.mint_pass(&bob, 60, true).await;
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let url = h.url("/api/signin/tap");
        let code = issued.code.clone();
        tasks.push(tokio::spawn(async move {
            let r = client()
                .post(url)
                .json(&json!({ "username": "bob", "code": code }))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            (status, body["error"].as_str().unwrap_or("").to_string())
        }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    let won = answers.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(won, 1, "{answers:?}");
    assert!(
        answers
            .iter()
            .all(|(s, e)| *s == 200 || (*s, e.as_str()) == (401, "pass_used") || *s == 429),
        "{answers:?}"
    );
    let rows = h.store.signin_log(1000).await.unwrap();
    let successes = rows
        .iter()
        .filter(|r| r.username.as_deref() == Some("bob") && r.outcome == "success")
        .count();
    assert_eq!(successes, 1, "one sign-in logged as a success");
    // Spent: the right code no longer signs in.
    let r = h.tap_signin(&client(), "bob", &issued.code).await;
    assert_eq!((r.status, r.code()), (401, "pass_used"));
}

async fn concurrent_pass_guesses_never_pass_the_limit(db: Db) {
    let Some(h) = start(db, "concurrent_pass_guesses").await else {
        return;
    };
    let admin = h.store.user_by_username("admin").await.unwrap().unwrap();
    let issued = h.mint_pass(&admin, 60, false).await;
    let mut tasks = Vec::new();
    for i in 0..100 {
        let url = h.url("/api/signin/tap");
        let code = if i == 50 {
            issued.code.clone()
        } else {
            format!("wrong{i:03}")
        };
        tasks.push(tokio::spawn(async move {
            let r = client()
                .post(url)
                .json(&json!({ "username": "admin", "code": code }))
                .send()
                .await
                .unwrap();
            r.status().as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    let checked = statuses.iter().filter(|s| matches!(s, 200 | 401)).count();
    let waited = statuses.iter().filter(|s| **s == 429).count();
    let free = keyfort_server::throttle::PASS_BACKOFF.free_failures;
    // The free attempts, the one that starts the delay, and at most one more per delay
    // that runs out while the burst is still arriving (1 s, then 2 s: two at most here).
    let allowed = usize::try_from(free + 3).unwrap();
    assert!(
        checked <= allowed,
        "{checked} attempts checked: {statuses:?}"
    );
    assert_eq!(checked + waited, 100, "{statuses:?}");
    let pass = h.store.pass_of_user(&admin.id).await.unwrap().unwrap();
    assert!(pass.failed_attempts <= free + 3, "{}", pass.failed_attempts);
    assert!(waited >= 90, "{statuses:?}");
    let state = h.store.attempt_state("tap:admin").await.unwrap();
    if !statuses.contains(&200) {
        assert!(state.is_some_and(|s| s.failures <= free + 3), "{state:?}");
    }
    assert!(
        pass.state().usability(now()).is_usable(),
        "never locked: a growing delay instead"
    );

    // One multi-use pass does not mint sessions without bound: ten, then a wait.
    h.store.clear_attempts("tap:admin").await.unwrap();
    let issued = h.mint_pass(&admin, 60, false).await;
    let uses = keyfort_server::throttle::PASS_USE_BACKOFF.free_failures;
    for i in 0..uses {
        let r = h.tap_signin(&client(), "admin", &issued.code).await;
        assert_eq!(r.status, 200, "sign-in {i}: {:?}", r.body);
    }
    let r = h.tap_signin(&client(), "admin", &issued.code).await;
    assert_eq!(r.status, 200, "the one that starts the delay");
    let r = h.tap_signin(&client(), "admin", &issued.code).await;
    assert_eq!(
        (r.status, r.code()),
        (429, "too_many_attempts"),
        "{:?}",
        r.body
    );
    assert!(!r.set_cookie);
}

async fn per_address_and_per_session_limits(db: Db) {
    let Some(h) = start_with(
        db,
        "per_address_limits",
        &[
            ("KEYFORT_THROTTLE_PASS_PER_IP_PER_MINUTE", "3"),
            ("KEYFORT_THROTTLE_SIGNIN_PER_IP_PER_MINUTE", "4"),
            ("KEYFORT_THROTTLE_REGISTRATIONS_PER_SESSION_PER_HOUR", "2"),
            // A trusted proxy's X-Forwarded-For names the address that is throttled.
            ("KEYFORT_TRUSTED_PROXIES", "127.0.0.1"),
        ],
    )
    .await
    else {
        return;
    };
    let c = client();
    // Pass attempts per address: three a minute, each a different username so the
    // per-account delay plays no part.
    let from = |ip: &'static str, name: String| {
        c.post(h.url("/api/signin/tap"))
            .header("x-forwarded-for", ip)
            .json(&json!({ "username": name, "code": "wrongcode" }))
            .send()
    };
    for i in 0..3 {
        let r = from("198.51.100.7", format!("user{i}")).await.unwrap();
        assert_eq!(r.status(), 401);
    }
    let r = from("198.51.100.7", "user9".into()).await.unwrap();
    assert_eq!(r.status(), 429);
    let retry: i64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry), "{retry}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "too_many_attempts");
    let row = h.last_signin().await;
    assert_eq!(
        (row.reason.as_str(), row.ip.as_deref()),
        ("too_many_attempts", Some("198.51.100.7"))
    );
    // Another address is not affected.
    let r = from("198.51.100.8", "user0".into()).await.unwrap();
    assert_eq!(r.status(), 401);

    // Passkey sign-in finishes per address: four a minute here, then 429.
    for expected in [400, 400, 400, 400, 429] {
        let r = c
            .post(h.url("/api/signin/passkey/finish"))
            .header("x-forwarded-for", "203.0.113.9")
            .json(&json!({ "ceremonyId": "x", "credential": {} }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), expected);
        assert_eq!(r.headers().contains_key("retry-after"), expected == 429);
    }

    // Registration ceremonies per session: two an hour here, then 429 and no ceremony stored.
    let browser = client();
    let r = h.tap_signin(&browser, "admin", &h.admin_pass).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    for _ in 0..2 {
        let r = h
            .post(&browser, "/api/passkeys/register/begin", &json!({}))
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    let r = h
        .post(&browser, "/api/passkeys/register/begin", &json!({}))
        .await;
    assert_eq!((r.status, r.code()), (429, "too_many_attempts"));
}

async fn client_authentication_is_throttled(db: Db) {
    let Some(h) = start(db, "client_auth_throttle").await else {
        return;
    };
    let app = h
        .add_client(false, &["client_credentials"], "client_secret_basic", None)
        .await;
    let token = |secret: String| {
        let (url, id) = (h.url("/token"), app.id.clone());
        async move {
            let r = reqwest::Client::new()
                .post(url)
                .basic_auth(id, Some(secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let retry = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
            let body: Value = r.json().await.unwrap_or(Value::Null);
            (status, retry, body)
        }
    };
    let (status, _, body) = token(app.secret.clone().unwrap()).await;
    assert_eq!(status, 200, "{body}");
    let free = keyfort_server::throttle::CLIENT_BACKOFF.free_failures;
    for _ in 0..=free {
        let (status, _, body) = token("guess".into()).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client"))
        );
    }
    // Past the free failures the client is refused from this address before any check,
    // even with its right secret, until the delay has passed.
    let (status, retry, body) = token(app.secret.clone().unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (429, Some("too_many_attempts"))
    );
    assert_eq!(retry.as_deref(), Some("1"));
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let (status, _, body) = token(app.secret.clone().unwrap()).await;
    assert_eq!(status, 200, "{body}");
    // The right secret forgave the failures.
    let key = format!("client:{}:127.0.0.1", app.id);
    assert_eq!(h.store.attempt_state(&key).await.unwrap(), None);
    // An over-long id is refused as it is, never looked up cut short to a real one.
    let long = format!("{}{}", app.id, "x".repeat(300));
    let r = reqwest::Client::new()
        .post(h.url("/token"))
        .basic_auth(&long, app.secret.as_deref())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // A made-up client id is refused and writes nothing: no row per guessed id.
    for _ in 0..20 {
        let r = reqwest::Client::new()
            .post(h.url("/token"))
            .basic_auth("made-up-client", Some("guess"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    assert_eq!(
        h.store
            .attempt_state("client:made-up-client:127.0.0.1")
            .await
            .unwrap(),
        None
    );
}

async fn signin_log_collapses_and_is_retained(db: Db) {
    let Some(h) = start(db, "signin_log_growth").await else {
        return;
    };
    let c = client();
    let rows = h.signin_row_count().await;
    // The same malformed finish, 50 times from one address: one row counting 50.
    for _ in 0..50 {
        let r = h
            .post_raw(&c, "/api/signin/passkey/finish", b"{not json".to_vec())
            .await;
        assert_eq!(r.code(), "malformed_json");
    }
    assert_eq!(h.signin_row_count().await, rows + 1);
    let row = h.last_signin().await;
    assert_eq!((row.reason.as_str(), row.attempts), ("malformed_json", 50));
    assert!(row.last_at.is_some_and(|t| t >= row.at));
    // A different refusal is a row of its own; successes never collapse.
    let r = h.post(&c, "/api/signin/passkey/finish", &json!({})).await;
    assert_eq!(r.status, 400);
    assert_eq!(h.signin_row_count().await, rows + 2);
    let admin = h.store.user_by_username("admin").await.unwrap().unwrap();
    let multi = h.mint_pass(&admin, 60, false).await;
    for _ in 0..2 {
        assert_eq!(
            h.tap_signin(&client(), "admin", &multi.code).await.status,
            200
        );
    }
    assert_eq!(h.signin_row_count().await, rows + 4);

    // Retention: rows older than the cut-off go, in chunks; newer ones stay.
    let old = SignInEvent {
        at: now() - 100 * 24 * 3_600_000,
        method: "passkey",
        outcome: "failure",
        reason: "test_old_row",
        ..SignInEvent::default()
    };
    for i in 0..1_200 {
        let e = SignInEvent {
            at: old.at + i,
            ..old.clone()
        };
        h.store.log_signin(&e, None).await.unwrap();
    }
    assert_eq!(h.signin_row_count().await, rows + 4 + 1_200);
    let cutoff = now() - 90 * 24 * 3_600_000;
    assert_eq!(h.store.purge_signin_log(cutoff).await.unwrap(), 1_200);
    assert_eq!(h.signin_row_count().await, rows + 4);
}

/// Every page and API answer carries the security headers; HTML pages the strict policy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_headers_on_every_response() {
    let Some(h) = start(Db::Sqlite, "security_headers").await else {
        return;
    };
    let browser = client();
    assert_eq!(
        h.tap_signin(&browser, "admin", &h.admin_pass).await.status,
        200
    );
    let anonymous = client();
    let html = [
        (&anonymous, "/signin"),
        (&anonymous, "/signin/tap"),
        (&anonymous, "/signout"),
        (&browser, "/my/security"),
        (&browser, "/logout"),
        (&anonymous, "/authorize?client_id=nobody"),
        (&anonymous, "/authorize/continue?request=x"),
    ];
    for (c, path) in html {
        let r = c.get(h.url(path)).send().await.unwrap();
        let hd = r.headers();
        assert!(
            hd["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        assert_eq!(
            hd["content-security-policy"],
            keyfort_server::headers::CSP,
            "{path}"
        );
        assert_eq!(hd["x-frame-options"], "DENY", "{path}");
        assert_eq!(hd["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(hd["x-content-type-options"], "nosniff", "{path}");
        assert!(
            hd.get("strict-transport-security").is_none(),
            "http: no HSTS"
        );
    }
    for path in ["/healthz", "/jwks", "/static/keyfort.js", "/api/nothing"] {
        let r = anonymous.get(h.url(path)).send().await.unwrap();
        assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(r.headers()["referrer-policy"], "no-referrer", "{path}");
    }
    let csp = keyfort_server::headers::CSP;
    for directive in [
        "default-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(directive), "{directive}");
    }

    // On an https public URL (behind a TLS-terminating proxy), every response has HSTS.
    let Some(s) = start_with(
        Db::Sqlite,
        "security_headers_https",
        &[("KEYFORT_PUBLIC_URL", "https://id.example.com")],
    )
    .await
    else {
        return;
    };
    let listen = s.base.clone();
    for path in ["/signin", "/healthz"] {
        let r = reqwest::get(format!("{listen}{path}")).await.unwrap();
        let hsts = r.headers()["strict-transport-security"].to_str().unwrap();
        assert!(hsts.starts_with("max-age=63072000"), "{path}: {hsts}");
    }
}

/// `id` must be the base64url of `rawId` and of the attested credential id, `type` must
/// be `public-key`, and oversized fields are refused before any parser sees them.
async fn webauthn_fields_are_cross_checked(db: Db) {
    let Some(h) = start(db, "webauthn_shapes").await else {
        return;
    };
    let mut a = Authenticator::new([7; 16]);
    let browser = h.onboard_admin(&mut a).await;
    let admin = h.store.user_by_username("admin").await.unwrap().unwrap();
    let c = client();
    type Mutation = fn(&mut Value);
    let cases: [(Mutation, &str); 5] = [
        (
            |v| v["id"] = json!("AAAAAAAAAAAAAAAAAAAAAA"),
            "credential_id_mismatch",
        ),
        (|v| v["type"] = json!("password"), "credential_type_invalid"),
        (
            |v| v["response"]["authenticatorData"] = json!("A".repeat(60_000)),
            "webauthn_field_too_large",
        ),
        (
            |v| v["response"]["clientDataJSON"] = json!("A".repeat(8_000)),
            "webauthn_field_too_large",
        ),
        (
            |v| v["response"]["signature"] = json!("A".repeat(4_000)),
            "webauthn_field_too_large",
        ),
    ];
    for (mutate, code) in cases {
        let begin = h.signin_begin(&c, None).await;
        let mut cred = a.get(&begin, &h.base).unwrap();
        mutate(&mut cred);
        let r = h.signin_finish(&c, &begin, &cred).await;
        assert_eq!((r.status, r.code()), (400, code), "{:?}", r.body);
        assert!(!r.set_cookie);
        assert_eq!(h.last_signin().await.reason, code);
    }
    let r = h
        .passkey_signin(&c, &mut a, None, &Overrides::default())
        .await;
    assert_eq!(
        r.status, 200,
        "an honest response still signs in: {:?}",
        r.body
    );

    // Registration: id and rawId must agree with each other and with the attested id;
    // nothing is stored otherwise (it would be unusable and count toward the ceiling).
    let before = h.store.passkeys_of_user(&admin.id).await.unwrap().len();
    let mut other = Authenticator::new([8; 16]);
    let cases: [(Mutation, &str); 3] = [
        (
            |v| v["id"] = json!("AAAAAAAAAAAAAAAAAAAAAA"),
            "credential_id_mismatch",
        ),
        (
            |v| {
                v["id"] = json!("AAAAAAAAAAAAAAAAAAAAAA");
                v["rawId"] = json!("AAAAAAAAAAAAAAAAAAAAAA");
            },
            "credential_id_mismatch",
        ),
        (|v| v["type"] = json!("x"), "credential_type_invalid"),
    ];
    for (mutate, code) in cases {
        let begin = h
            .post(&browser, "/api/passkeys/register/begin", &json!({}))
            .await;
        assert_eq!(begin.status, 200, "{:?}", begin.body);
        let mut cred = other
            .create_with(&begin.body, &h.base, &Overrides::default())
            .unwrap();
        mutate(&mut cred);
        let r = h
            .post(
                &browser,
                "/api/passkeys/register/finish",
                &json!({ "ceremonyId": begin.body["ceremonyId"], "credential": cred }),
            )
            .await;
        assert_eq!((r.status, r.code()), (400, code), "{:?}", r.body);
        other.credentials.clear();
    }
    assert_eq!(
        h.store.passkeys_of_user(&admin.id).await.unwrap().len(),
        before
    );
}
