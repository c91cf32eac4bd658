//! Hostile and broken input: each answered with a clear 4xx and a stable code,
//! nothing changed, and a sign-in log row where it was a sign-in attempt.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a failing test stops loudly

mod support;

use keyfort_server::sealed::{Envelope, Sealer};
use keyfort_softauthn::{Authenticator, Overrides};
use keyfort_store::{CeremonyRecord, PassRecord, Taken};
use serde_json::{Value, json};
use support::inproc::{Db, Harness, Reply, client, start};

on_both_stores!(
    assertion_refusals,
    pass_refusals,
    request_refusals,
    registration_refusals
);

fn now() -> i64 {
    keyfort_server::state::now_ms()
}

/// A directory user without any passkey.
async fn add_member(h: &Harness, username: &str) {
    h.store
        .create_user(
            &keyfort_store::NewUser {
                id: keyfort_server::crypto::uuid_v4(),
                username: username.into(),
                display_name: username.into(),
                user_type: keyfort_core::directory::UserType::Member,
                ..Default::default()
            },
            "test",
            now(),
        )
        .await
        .unwrap();
}

/// State that a refused sign-in must leave alone.
#[derive(Debug, PartialEq)]
struct Snapshot {
    sign_count: i64,
    last_used: Option<i64>,
    cloned: bool,
}

async fn snapshot(h: &Harness) -> Snapshot {
    let admin = h.store.user_by_username("admin").await.unwrap().unwrap();
    let k = h.store.passkeys_of_user(&admin.id).await.unwrap().remove(0);
    Snapshot {
        sign_count: k.sign_count,
        last_used: k.last_used_at,
        cloned: k.possibly_cloned,
    }
}

/// Asserts a refused sign-in: status, code, no session, a log row with the code as reason.
async fn refused(h: &Harness, r: &Reply, status: u16, code: &str, rows_before: usize) {
    assert_eq!((r.status, r.code()), (status, code), "{:?}", r.body);
    assert!(
        r.body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "a human message"
    );
    assert!(!r.set_cookie, "{code}: no session");
    assert_eq!(
        h.signin_rows().await,
        rows_before + 1,
        "{code}: one sign-in log row"
    );
    let row = h.last_signin().await;
    assert_eq!(
        (row.outcome.as_str(), row.reason.as_str()),
        ("failure", code)
    );
}

async fn assertion_refusals(db: Db) {
    let Some(h) = start(db, "assertion_refusals").await else {
        return;
    };
    let mut a = Authenticator::new([4; 16]);
    h.onboard_admin(&mut a).await;
    // One good sign-in so the counter is established.
    let r = h
        .passkey_signin(&client(), &mut a, None, &Overrides::default())
        .await;
    assert_eq!(r.status, 200);
    let base = snapshot(&h).await;
    let c = client();

    let cases: Vec<(Overrides, u16, &str)> = vec![
        (
            Overrides {
                origin: Some("https://evil.example".into()),
                ..Default::default()
            },
            400,
            "origin_mismatch",
        ),
        (
            Overrides {
                rp_id: Some("evil.example".into()),
                ..Default::default()
            },
            400,
            "rp_id_mismatch",
        ),
        (
            Overrides {
                clear_uv: true,
                ..Default::default()
            },
            400,
            "user_verification_required",
        ),
        (
            Overrides {
                challenge: Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into()),
                ..Default::default()
            },
            400,
            "challenge_mismatch",
        ),
    ];
    for (o, status, code) in cases {
        let before = h.signin_rows().await;
        let counter = a.credentials[0].counter;
        let r = h.passkey_signin(&c, &mut a, None, &o).await;
        refused(&h, &r, status, code, before).await;
        a.credentials[0].counter = counter;
        assert_eq!(snapshot(&h).await, base, "{code}: nothing changed");
    }

    // Malformed JSON.
    let before = h.signin_rows().await;
    let r = h
        .post_raw(
            &c,
            "/api/signin/passkey/finish",
            b"{\"ceremonyId\": ".to_vec(),
        )
        .await;
    refused(&h, &r, 400, "malformed_json", before).await;
    // Well-formed JSON of the wrong shape.
    let before = h.signin_rows().await;
    let r = h
        .post(
            &c,
            "/api/signin/passkey/finish",
            &json!({ "ceremonyId": 5 }),
        )
        .await;
    refused(&h, &r, 400, "invalid_request", before).await;

    // Reused challenge: the first finish succeeds, replaying it (same challenge, fresh signature) fails.
    let begin = h.signin_begin(&c, None).await;
    let cred = a.get(&begin, &h.base).unwrap();
    assert_eq!(h.signin_finish(&c, &begin, &cred).await.status, 200);
    let replay = a.get(&begin, &h.base).unwrap();
    let before = h.signin_rows().await;
    let r = h.signin_finish(&client(), &begin, &replay).await;
    refused(&h, &r, 400, "challenge_invalid", before).await;
    // And replaying the very same response bytes.
    let before = h.signin_rows().await;
    let r = h.signin_finish(&client(), &begin, &cred).await;
    refused(&h, &r, 400, "challenge_invalid", before).await;
    let base = snapshot(&h).await;

    // Expired challenge: the sealed ceremony resealed (with the server's key) with its
    // expiry in the past.
    let sealer = h.sealer();
    let mut begin = h.signin_begin(&c, None).await;
    let id = begin["ceremonyId"].as_str().unwrap();
    let mut envelope: Envelope<Value> = sealer.open("authentication", id).unwrap();
    envelope.exp = now() - 1;
    begin["ceremonyId"] = sealer.seal("authentication", &envelope).unwrap().into();
    let cred = a.get(&begin, &h.base).unwrap();
    let before = h.signin_rows().await;
    let r = h.signin_finish(&c, &begin, &cred).await;
    refused(&h, &r, 400, "challenge_expired", before).await;
    a.credentials[0].counter -= 1;
    assert_eq!(snapshot(&h).await, base);

    // Ceremony ids this server did not seal for a sign-in: tampered, sealed under another
    // key, sealed for another kind of ceremony, oversized, empty.
    let begin = h.signin_begin(&c, None).await;
    let id = begin["ceremonyId"].as_str().unwrap().to_string();
    let mut envelope: Envelope<Value> = sealer.open("authentication", &id).unwrap();
    let mut tampered = id.clone().into_bytes();
    let i = tampered.len() / 2;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    envelope.exp = now() + 60_000;
    let forged = [
        String::from_utf8(tampered).unwrap(),
        Sealer::from_key([9; 32])
            .unwrap()
            .seal("authentication", &envelope)
            .unwrap(),
        sealer.seal("registration", &envelope).unwrap(),
        "A".repeat(keyfort_server::sealed::MAX_SEALED_LEN + 1),
        String::new(),
    ];
    for f in forged {
        let mut begin = begin.clone();
        begin["ceremonyId"] = f.clone().into();
        let cred = a.get(&begin, &h.base).unwrap();
        let before = h.signin_rows().await;
        let r = h.signin_finish(&c, &begin, &cred).await;
        refused(&h, &r, 400, "challenge_invalid", before).await;
        a.credentials[0].counter -= 1;
        assert_eq!(
            snapshot(&h).await,
            base,
            "{}…: nothing changed",
            &f[..f.len().min(16)]
        );
    }

    // A refused finish spends its ceremony too: a valid answer to it afterwards is refused.
    let begin = h.signin_begin(&c, None).await;
    let before = h.signin_rows().await;
    let r = h
        .post(
            &c,
            "/api/signin/passkey/finish",
            &json!({ "ceremonyId": begin["ceremonyId"], "credential": {
                "id": "AAAA", "rawId": "AAAA", "type": "public-key",
                "response": { "authenticatorData": "AAAA", "clientDataJSON": "AAAA", "signature": "AAAA" }
            }}),
        )
        .await;
    refused(&h, &r, 401, "unknown_credential", before).await;
    let cred = a.get(&begin, &h.base).unwrap();
    let before = h.signin_rows().await;
    let r = h.signin_finish(&c, &begin, &cred).await;
    refused(&h, &r, 400, "challenge_invalid", before).await;
    a.credentials[0].counter -= 1;
    assert_eq!(snapshot(&h).await, base);

    // Unknown credential: a passkey Keyfort never registered.
    let mut stranger = Authenticator::new([5; 16]);
    stranger
        .create(
            &json!({"publicKey": {"rp": {"id": "localhost"}, "user": {"id": "AQ", "name": "x", "displayName": "x"},
                "challenge": "AA", "pubKeyCredParams": [{"alg": -7}]}}),
            &h.base,
        )
        .unwrap();
    let before = h.signin_rows().await;
    let r = h
        .passkey_signin(&c, &mut stranger, None, &Overrides::default())
        .await;
    refused(&h, &r, 401, "unknown_credential", before).await;

    // Username first with someone else's passkey.
    add_member(&h, "bob").await;
    // Username first for bob, answered with admin's passkey: refused at finish.
    let begin = h.signin_begin(&c, Some("bob")).await;
    let cred = a.get(&begin, &h.base).unwrap();
    let before = h.signin_rows().await;
    let r = h.signin_finish(&c, &begin, &cred).await;
    refused(&h, &r, 401, "unknown_credential", before).await;
    a.credentials[0].counter -= 1;

    // Sign-count regression: refused, flagged as possibly cloned, audited, and blocked from then on.
    let before = h.signin_rows().await;
    let r = h
        .passkey_signin(
            &c,
            &mut a,
            None,
            &Overrides {
                counter: Some(1),
                ..Default::default()
            },
        )
        .await;
    refused(&h, &r, 401, "sign_count_regression", before).await;
    let after = snapshot(&h).await;
    assert_eq!((after.sign_count, after.cloned), (base.sign_count, true));
    let audit = h.store.audit_log(5).await.unwrap();
    assert_eq!(audit[0].action, "passkey.possibly_cloned");
    let before = h.signin_rows().await;
    let r = h
        .passkey_signin(
            &c,
            &mut a,
            None,
            &Overrides {
                counter: Some(1000),
                ..Default::default()
            },
        )
        .await;
    refused(&h, &r, 403, "credential_suspended", before).await;
}

async fn pass_refusals(db: Db) {
    let Some(h) = start(db, "pass_refusals").await else {
        return;
    };
    let c = client();
    let admin = h.store.user_by_username("admin").await.unwrap().unwrap();

    // Wrong pass, and an unknown username: the same answer.
    let before = h.signin_rows().await;
    let r = h.tap_signin(&c, "admin", "wrongpass").await;
    refused(&h, &r, 401, "invalid_credentials", before).await;
    let before = h.signin_rows().await;
    let r = h.tap_signin(&c, "nobody", "wrongpass").await;
    refused(&h, &r, 401, "invalid_credentials", before).await;
    assert_eq!(
        h.store
            .pass_of_user(&admin.id)
            .await
            .unwrap()
            .unwrap()
            .failed_attempts,
        1
    );

    // Expired pass (a known code whose lifetime ended).
    let expired = PassRecord {
        id: keyfort_server::crypto::uuid_v4(),
        user_id: admin.id.clone(),
        code_hash: keyfort_server::crypto::hash_code("expired2").unwrap(),
        created_at: now() - 3_600_000,
        start_at: now() - 3_600_000,
        lifetime_minutes: 10,
        one_time: true,
        used_at: None,
        failed_attempts: 0,
        created_by: "test".into(),
    };
    h.store.put_pass(&expired, "admin", "test").await.unwrap();
    let before = h.signin_rows().await;
    let r = h.tap_signin(&c, "admin", "expired2").await;
    refused(&h, &r, 401, "pass_expired", before).await;

    // A used one-time pass.
    let issued = h.mint_pass(&admin, 10, true).await;
    assert_eq!(
        h.tap_signin(&client(), "admin", &issued.code).await.status,
        200
    );
    let before = h.signin_rows().await;
    let r = h.tap_signin(&c, "admin", &issued.code).await;
    refused(&h, &r, 401, "pass_used", before).await;

    // Wrong codes never lock a pass: past the free attempts they earn a growing delay, a
    // 429 with Retry-After, for the right code too while it lasts (so the delay cannot be
    // used to test codes). The name typed is the key, known or not: the same answers.
    let issued = h.mint_pass(&admin, 60, false).await;
    for name in ["admin", "nobody"] {
        h.store
            .clear_attempts(&format!("tap:{name}"))
            .await
            .unwrap();
        let free = keyfort_server::throttle::PASS_BACKOFF.free_failures;
        for i in 0..=free {
            let code = h
                .tap_signin(&c, name, &format!("guess{i}"))
                .await
                .code()
                .to_string();
            assert_eq!(code, "invalid_credentials", "{name}: attempt {i}");
        }
        // The delay started with the last free attempt's successor (1 s, doubling): keep
        // guessing until told to wait (an Argon2 check in a debug build may outlast it).
        let mut told_to_wait = false;
        for _ in 0..20 {
            if h.tap_signin(&c, name, "guessmore").await.code() == "too_many_attempts" {
                told_to_wait = true;
                break;
            }
        }
        assert!(told_to_wait, "{name}");
        let r = c
            .post(h.url("/api/signin/tap"))
            .json(&json!({ "username": name, "code": issued.code }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 429, "{name}: the right code waits too");
        let retry: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(retry >= 1, "{name}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "too_many_attempts");
        assert_eq!(body["retryAfterSeconds"], retry);
        assert_eq!(h.last_signin().await.reason, "too_many_attempts");
        if name == "admin" {
            tokio::time::sleep(std::time::Duration::from_millis(retry * 1000 + 100)).await;
            let r = h.tap_signin(&client(), "admin", &issued.code).await;
            assert_eq!(r.status, 200, "once the delay has passed: {:?}", r.body);
        }
    }

    // A disabled user's right pass.
    let issued = h.mint_pass(&admin, 60, true).await;
    h.store
        .set_user_enabled("admin", false, "test", now())
        .await
        .unwrap();
    let before = h.signin_rows().await;
    let r = h.tap_signin(&c, "admin", &issued.code).await;
    refused(&h, &r, 403, "user_disabled", before).await;
    let pass = h.store.pass_of_user(&admin.id).await.unwrap().unwrap();
    assert_eq!(
        pass.used_at, None,
        "a refused sign-in does not spend the pass"
    );

    // Not JSON at all.
    let before = h.signin_rows().await;
    let r = c
        .post(h.url("/api/signin/tap"))
        .header("content-type", "text/plain")
        .body("username=admin")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    assert_eq!(h.signin_rows().await, before + 1);
    assert_eq!(h.last_signin().await.reason, "unsupported_media_type");
}

async fn request_refusals(db: Db) {
    let Some(h) = start(db, "request_refusals").await else {
        return;
    };
    let c = client();
    // Oversized body.
    let big = format!("{{\"username\": \"{}\"}}", "a".repeat(100_000));
    let before = h.signin_rows().await;
    let r = h.post_raw(&c, "/api/signin/tap", big.into_bytes()).await;
    refused(&h, &r, 413, "payload_too_large", before).await;
    // Cross-site request.
    let r = c
        .post(h.url("/api/signin/passkey/begin"))
        .header("origin", "https://evil.example")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "cross_origin_request");
    // A browser's own word decides: cross-site (whatever Origin says) is refused, and a
    // same-origin form post whose Origin is `null` (no-referrer) is let through.
    for (site, origin, status) in [
        ("cross-site", h.base.as_str(), 403),
        ("same-site", h.base.as_str(), 403),
        ("same-origin", "null", 200),
    ] {
        let r = c
            .post(h.url("/api/signin/passkey/begin"))
            .header("sec-fetch-site", site)
            .header("origin", origin)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{site} {origin}");
    }
    // Unknown field in begin, unknown endpoint.
    let r = h
        .post(
            &c,
            "/api/signin/passkey/begin",
            &json!({ "usernme": "admin" }),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "invalid_request"));
    let r = h.post(&c, "/api/nothing-here", &json!({})).await;
    assert_eq!((r.status, r.code()), (404, "not_found"));
    // Username-first never reveals whether a username exists: the same options for a
    // known name with a passkey, a known name without one, and a stranger — nothing but
    // the challenge differs.
    let mut second = Authenticator::new([9; 16]);
    let signed_in = client();
    let r = h.tap_signin(&signed_in, "admin", &h.admin_pass).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        h.register(&signed_in, &mut second, &Overrides::default())
            .await
            .status,
        200
    );
    let shape = |mut v: Value| {
        v["publicKey"]["challenge"] = Value::Null;
        v.as_object_mut().unwrap().remove("ceremonyId");
        v
    };
    let known = shape(h.signin_begin(&c, Some("admin")).await);
    add_member(&h, "carol").await;
    let without_passkey = shape(h.signin_begin(&c, Some("carol")).await);
    let unknown = shape(h.signin_begin(&c, Some("mallory")).await);
    assert_eq!(known, unknown);
    assert_eq!(without_passkey, unknown);
    assert!(
        known["publicKey"]["allowCredentials"]
            .as_array()
            .is_none_or(|a| a.is_empty()),
        "{known}"
    );
    // And the same time: medians over alternating samples (a known user's answer used
    // to take ~12% longer, for reading its passkeys).
    let mut times = [Vec::new(), Vec::new()];
    for i in 0..400 {
        let name = if i % 2 == 0 { "admin" } else { "mallory" };
        let t = std::time::Instant::now();
        h.signin_begin(&c, Some(name)).await;
        times[i % 2].push(t.elapsed().as_secs_f64());
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (k, u) = (median(&mut times[0]), median(&mut times[1]));
    eprintln!(
        "username-first begin, median of 200 each: known {:.3} ms, unknown {:.3} ms (×{:.3})",
        k * 1e3,
        u * 1e3,
        k / u
    );
    // The shape above is the proof; this bound only catches a gross difference (a
    // shared machine's noise is larger than the ~12% the passkey read used to cost).
    assert!(
        (0.67..1.5).contains(&(k / u)),
        "known {k:.6}s vs unknown {u:.6}s"
    );
    // Signed-out requests to session endpoints.
    let r = h.post(&c, "/api/passkeys/register/begin", &json!({})).await;
    assert_eq!((r.status, r.code()), (401, "not_signed_in"));
    let r = c
        .delete(h.url("/api/passkeys/00000000-0000-4000-8000-000000000000"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // A forged session cookie.
    let forged = reqwest::Client::new();
    let r = forged
        .get(h.url("/my/security"))
        .header("cookie", "keyfort_session=forged")
        .send()
        .await
        .unwrap();
    assert_eq!(r.url().path(), "/signin", "redirected to sign-in");
}

async fn registration_refusals(db: Db) {
    let Some(h) = start(db, "registration_refusals").await else {
        return;
    };
    let c = client();
    assert_eq!(h.tap_signin(&c, "admin", &h.admin_pass).await.status, 200);
    let admin = h.store.user_by_username("admin").await.unwrap().unwrap();
    let mut a = Authenticator::new([6; 16]);
    let cases: Vec<(Overrides, &str)> = vec![
        (
            Overrides {
                clear_uv: true,
                ..Default::default()
            },
            "user_verification_required",
        ),
        (
            Overrides {
                origin: Some("https://evil.example".into()),
                ..Default::default()
            },
            "origin_mismatch",
        ),
        (
            Overrides {
                rp_id: Some("evil.example".into()),
                ..Default::default()
            },
            "rp_id_mismatch",
        ),
    ];
    for (o, code) in cases {
        let r = h.register(&c, &mut a, &o).await;
        assert_eq!((r.status, r.code()), (400, code), "{:?}", r.body);
        assert!(
            h.store
                .passkeys_of_user(&admin.id)
                .await
                .unwrap()
                .is_empty(),
            "{code}: nothing registered"
        );
    }
    // A ceremony is single-use and bound to the session that began it.
    let begin = h.post(&c, "/api/passkeys/register/begin", &json!({})).await;
    let cred = a.create(&begin.body, &h.base).unwrap();
    let other = client();
    let issued = h.mint_pass(&admin, 60, false).await;
    assert_eq!(
        h.tap_signin(&other, "admin", &issued.code).await.status,
        200
    );
    let body = json!({ "ceremonyId": begin.body["ceremonyId"], "credential": cred });
    let r = h.post(&other, "/api/passkeys/register/finish", &body).await;
    assert_eq!(
        (r.status, r.code()),
        (400, "challenge_invalid"),
        "another session cannot finish it"
    );
    let r = h.post(&c, "/api/passkeys/register/finish", &body).await;
    assert_eq!(
        (r.status, r.code()),
        (400, "challenge_invalid"),
        "and it is gone"
    );
    // A pass session past its registration window.
    let rec = CeremonyRecord {
        id: "x".into(),
        kind: "registration".into(),
        user_id: None,
        session_id: None,
        state: "{}".into(),
        created_at: 0,
        expires_at: 1,
    };
    h.store.put_ceremony(&rec).await.unwrap();
    assert_eq!(
        h.store
            .take_ceremony("x", "registration", now())
            .await
            .unwrap(),
        Taken::Expired
    );
    assert!(
        h.store
            .passkeys_of_user(&admin.id)
            .await
            .unwrap()
            .is_empty()
    );
}
