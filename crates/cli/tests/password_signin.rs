//! Identifier-first sign-in and passwords, over HTTP against a server on an ephemeral
//! port — on SQLite and PostgreSQL: the ways offered for a name (strongest first, an
//! unknown name answered as a fully enrolled one), a password sign-in with an imported
//! bcrypt hash that is rehashed as Argon2id, a password leading on to the passkey a
//! person holds, the policy's say, throttling, bad input, and timing that does not tell
//! known names from unknown ones.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a failing test stops loudly

mod support;

use keyfort_core::directory::UserDraft;
use keyfort_core::policy::{
    ALL_USERS, IncludeTarget, MethodState, PlainMethod, PreferredMethodRanking,
};
use keyfort_server::app::{self, passwords::ImportFormat};
use keyfort_softauthn::{Authenticator, Overrides};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::inproc::{Db, Harness, client, start};

on_both_stores!(
    passwords_sign_in_and_lead_to_passkeys,
    password_bad_input_and_throttling,
    unknown_names_answer_like_known_ones
);

const PASSWORD: &str = "correct horse battery staple";

fn now() -> i64 {
    keyfort_server::state::now_ms()
}

async fn add_user(h: &Harness, name: &str) {
    let draft = UserDraft {
        username: name.into(),
        ..UserDraft::default()
    };
    app::directory::add_user(&h.store, &draft, "test", now())
        .await
        .unwrap();
}

/// Imports one hash for each of `names` (the file an organisation moving in would bring).
async fn import(h: &Harness, names: &[&str], hash: &str) {
    let text: String = names
        .iter()
        .map(|n| format!("{}\n", json!({ "username": n, "passwordHash": hash })))
        .collect();
    let done = app::passwords::import_passwords(
        &h.store,
        &text,
        ImportFormat::JsonLines,
        false,
        "test",
        now(),
        &|_, _| {},
    )
    .await
    .unwrap();
    assert!(
        done.committed && done.skipped.is_empty(),
        "{:?}",
        done.skipped
    );
}

/// Turns passwords on (for everyone, or off) and waits until the server enforces it.
async fn passwords(h: &Harness, state: MethodState, probe: &str, expect: &Value) {
    let mut p = app::policy::load(&h.store).await.unwrap().policy;
    p.password = PlainMethod {
        state,
        include_targets: vec![IncludeTarget {
            id: ALL_USERS.into(),
            is_registration_required: false,
            allowed_passkey_profiles: Vec::new(),
        }],
        exclude_targets: Vec::new(),
    };
    app::policy::apply(&h.store, p, None, false, "test", now())
        .await
        .unwrap();
    let started = Instant::now();
    loop {
        if &choices(h, probe).await == expect {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the policy took effect within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn choices(h: &Harness, name: &str) -> Value {
    let r = h
        .post(
            &client(),
            "/api/signin/choices",
            &json!({ "username": name }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

async fn password_signin(
    h: &Harness,
    c: &reqwest::Client,
    name: &str,
    pw: &str,
) -> support::inproc::Reply {
    h.post(
        c,
        "/api/signin/password",
        &json!({ "username": name, "password": pw }),
    )
    .await
}

fn bcrypt_of(pw: &str) -> String {
    bcrypt::hash(pw, 6).unwrap()
}

async fn passwords_sign_in_and_lead_to_passkeys(db: Db) {
    let Some(h) = start(db, "passwords_sign_in_and_lead_to_passkeys").await else {
        return;
    };
    let mut key = Authenticator::synced([7; 16]);
    let _admin = h.onboard_admin(&mut key).await;
    add_user(&h, "pat").await;
    // An organisation moves in with bcrypt hashes.
    import(&h, &["pat", "admin"], &bcrypt_of(PASSWORD)).await;
    assert_eq!(
        choices(&h, "admin").await,
        json!({ "preferred": "passkey", "others": [] }),
        "passwords are off by default: only the passkey"
    );
    passwords(
        &h,
        MethodState::Enabled,
        "pat",
        &json!({ "preferred": "password", "others": [] }),
    )
    .await;
    // A passkey always leads; the password is another way, last.
    assert_eq!(
        choices(&h, "Admin").await,
        json!({ "preferred": "passkey", "others": ["password"] })
    );

    // Pat holds only a password: it signs them in, single-factor.
    let c = client();
    let r = password_signin(&h, &c, "pat", PASSWORD).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.set_cookie);
    assert_eq!(
        r.body["redirect"], "/signin/setup",
        "the registration campaign (on by default) asks for a passkey"
    );
    let row = h.last_signin().await;
    assert_eq!(
        (row.method.as_str(), row.outcome.as_str()),
        ("password", "success")
    );
    let pat = h.store.user_by_username("pat").await.unwrap().unwrap();
    // The bcrypt hash is replaced by Argon2id now that the password is known, audited.
    let stored = h.store.password_of_user(&pat.id).await.unwrap().unwrap();
    assert_eq!(stored.scheme, "argon2id");
    assert!(stored.hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    let audit = h.store.audit_log(50).await.unwrap();
    let rehashed = audit
        .iter()
        .find(|a| a.action == "password.rehashed")
        .expect("the rehash is audited");
    assert_eq!(rehashed.target.as_deref(), Some("pat"));
    assert!(!rehashed.after.as_deref().unwrap_or("").contains("$argon2"));
    // …and the new hash signs in too.
    let again = password_signin(&h, &client(), "pat", PASSWORD).await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(
        h.store
            .password_of_user(&pat.id)
            .await
            .unwrap()
            .unwrap()
            .hash,
        stored.hash,
        "a strong hash is left alone"
    );

    // The password session may register Pat's first passkey, and no second.
    let mut pats_key = Authenticator::synced([8; 16]);
    let r = h.register(&c, &mut pats_key, &Overrides::default()).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let begin = h.post(&c, "/api/passkeys/register/begin", &json!({})).await;
    assert_eq!(
        (begin.status, begin.code()),
        (403, "reauthentication_required"),
        "{:?}",
        begin.body
    );

    // Now Pat holds a passkey: it is offered first, and the password leads on to it.
    assert_eq!(
        choices(&h, "pat").await,
        json!({ "preferred": "passkey", "others": ["password"] })
    );
    let c2 = client();
    let r = password_signin(&h, &c2, "pat", PASSWORD).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({ "secondFactor": "passkey", "otherSecondFactors": [] })
    );
    assert!(!r.set_cookie, "a password alone makes no session");
    let (status, _) = h.get_html(&c2, "/my/security").await;
    assert_ne!(status, 200, "not signed in");
    let r = h
        .passkey_signin(&c2, &mut pats_key, Some("pat"), &Overrides::default())
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    // The ranking setting: off for the first factor, the person picks from every way;
    // off for both, also the second factor.
    for (setting, second) in [
        (
            PreferredMethodRanking::SecondFactorOnly,
            json!({ "secondFactor": "passkey", "otherSecondFactors": [] }),
        ),
        (
            PreferredMethodRanking::Off,
            json!({ "otherSecondFactors": ["passkey"] }),
        ),
    ] {
        let mut p = app::policy::load(&h.store).await.unwrap().policy;
        p.preferred_method_ranking = setting;
        app::policy::apply(&h.store, p, None, false, "test", now())
            .await
            .unwrap();
        // Both answers move with the policy in force.
        let picks = json!({ "others": ["passkey", "password"] });
        let started = Instant::now();
        while choices(&h, "pat").await != picks
            || password_signin(&h, &client(), "pat", PASSWORD).await.body != second
        {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{setting:?} in force"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            choices(&h, "no-such-person").await,
            picks,
            "unknown names alike"
        );
    }
    let mut p = app::policy::load(&h.store).await.unwrap().policy;
    p.preferred_method_ranking = PreferredMethodRanking::FirstAndSecondFactor;
    app::policy::apply(&h.store, p, None, false, "test", now())
        .await
        .unwrap();

    // The policy turns passwords off: only the right password learns why.
    passwords(
        &h,
        MethodState::Disabled,
        "admin",
        &json!({ "preferred": "passkey", "others": [] }),
    )
    .await;
    let r = password_signin(&h, &client(), "pat", PASSWORD).await;
    assert_eq!((r.status, r.code()), (403, "password_disabled_by_policy"));
    let r = password_signin(&h, &client(), "pat", "wrong wrong wrong wrong").await;
    assert_eq!((r.status, r.code()), (401, "invalid_credentials"));

    // With passwords off, Pat's only passkey is the last way in and stays; with them on,
    // the password is another way in and the passkey may go.
    let id = h.store.passkeys_of_user(&pat.id).await.unwrap()[0]
        .id
        .clone();
    let delete = || async {
        let r = c2
            .delete(h.url(&format!("/api/passkeys/{id}")))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        (status, body["error"].as_str().unwrap_or("").to_string())
    };
    assert_eq!(delete().await, (409, "last_method".to_string()));
    passwords(
        &h,
        MethodState::Enabled,
        "pat",
        &json!({ "preferred": "passkey", "others": ["password"] }),
    )
    .await;
    assert_eq!(delete().await.0, 200);
    assert!(h.store.passkeys_of_user(&pat.id).await.unwrap().is_empty());
}

async fn password_bad_input_and_throttling(db: Db) {
    let Some(h) = start(db, "password_bad_input_and_throttling").await else {
        return;
    };
    add_user(&h, "sam").await;
    add_user(&h, "gone").await;
    import(&h, &["sam", "gone"], &bcrypt_of(PASSWORD)).await;
    passwords(
        &h,
        MethodState::Enabled,
        "sam",
        &json!({ "preferred": "password", "others": [] }),
    )
    .await;
    let rows = h.signin_row_count().await;

    // Malformed and oversized bodies: 400, a log row, no session.
    let r = h
        .post_raw(&client(), "/api/signin/password", b"{not json".to_vec())
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    let r = h
        .post(
            &client(),
            "/api/signin/password",
            &json!({ "username": "sam" }),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    let long = "x".repeat(2000);
    let r = password_signin(&h, &client(), "sam", &long).await;
    assert_eq!((r.status, r.code()), (400, "password_too_long"));
    assert!(!r.set_cookie);
    assert!(h.signin_row_count().await >= rows + 3, "each is logged");
    let r = h
        .post(
            &client(),
            "/api/signin/choices",
            &json!({ "username": long }),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "invalid_username"));

    // A disabled account: only the right password learns it.
    app::directory::set_enabled(&h.store, "gone", false, "test", now())
        .await
        .unwrap();
    let r = password_signin(&h, &client(), "gone", PASSWORD).await;
    assert_eq!((r.status, r.code()), (403, "user_disabled"));
    let r = password_signin(&h, &client(), "gone", "not the password at all").await;
    assert_eq!((r.status, r.code()), (401, "invalid_credentials"));

    // Six wrong passwords are checked, then a growing delay — for a known name and an
    // unknown one alike — says when to try again; the right password waits too.
    for name in ["sam", "nobody-here"] {
        for i in 0..6 {
            let r = password_signin(&h, &client(), name, "wrong password number x").await;
            assert_eq!(
                (r.status, r.code()),
                (401, "invalid_credentials"),
                "{name} try {i}"
            );
        }
        let r = password_signin(&h, &client(), name, PASSWORD).await;
        assert_eq!((r.status, r.code()), (429, "too_many_attempts"), "{name}");
        // Case and spacing name the same count.
        let variant = format!("  {}  ", name.to_uppercase());
        let r = password_signin(&h, &client(), &variant, PASSWORD).await;
        assert_eq!(
            (r.status, r.code()),
            (429, "too_many_attempts"),
            "{variant:?}"
        );
        assert!(r.body["message"].as_str().unwrap().contains("Try again in"));
    }
    let row = h.last_signin().await;
    assert_eq!(
        (row.method.as_str(), row.reason.as_str()),
        ("password", "too_many_attempts")
    );
}

/// The median of `samples`.
fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

async fn unknown_names_answer_like_known_ones(db: Db) {
    let Some(h) = start(db, "unknown_names_answer_like_known_ones").await else {
        return;
    };
    const N: usize = 40;
    // Known names, each with an Argon2id password as Keyfort writes them (one hash,
    // imported for all: the timing is the verification's, not the hashing's).
    let hash = keyfort_server::crypto::hash_code(PASSWORD).unwrap();
    let known: Vec<String> = (0..N).map(|i| format!("known{i}")).collect();
    for k in &known {
        add_user(&h, k).await;
    }
    let names: Vec<&str> = known.iter().map(String::as_str).collect();
    import(&h, &names, &hash).await;
    let mut key = Authenticator::synced([9; 16]);
    let admin = h.onboard_admin(&mut key).await;
    drop(admin);
    import(&h, &["admin"], &hash).await;
    passwords(
        &h,
        MethodState::Enabled,
        "known0",
        &json!({ "preferred": "password", "others": [] }),
    )
    .await;

    // The same choices for an unknown name as for a fully enrolled known one.
    let enrolled = choices(&h, "admin").await;
    assert_eq!(
        enrolled,
        json!({ "preferred": "passkey", "others": ["password"] })
    );
    assert_eq!(choices(&h, "no-such-person").await, enrolled);

    // A wrong password: the same status and body, known or not, and the same time —
    // interleaved, so drift on a shared machine falls on both alike.
    let (mut k_times, mut u_times) = (Vec::new(), Vec::new());
    let mut bodies = std::collections::HashSet::new();
    for (i, k) in known.iter().enumerate() {
        for (name, times) in [
            (k.clone(), &mut k_times),
            (format!("unknown{i}"), &mut u_times),
        ] {
            let t = Instant::now();
            let r = password_signin(&h, &client(), &name, "not the right password").await;
            times.push(t.elapsed());
            assert_eq!(r.status, 401);
            bodies.insert(r.body.to_string());
        }
    }
    assert_eq!(bodies.len(), 1, "one answer for both: {bodies:?}");
    let (k, u) = (median(k_times), median(u_times));
    let ratio = k.as_secs_f64() / u.as_secs_f64();
    println!("wrong password, median of {N}: known {k:?}, unknown {u:?}, ratio {ratio:.2}");
    // Skipping the verification for unknown names would make the ratio ~20; a shared,
    // busy machine moves it by less than 2.
    assert!((0.5..2.0).contains(&ratio), "known {k:?} vs unknown {u:?}");

    // The choices: same body, same time.
    let (mut k_times, mut u_times) = (Vec::new(), Vec::new());
    for i in 0..N {
        for (name, times) in [
            ("admin".to_string(), &mut k_times),
            (format!("u{i}"), &mut u_times),
        ] {
            let t = Instant::now();
            let body = choices(&h, &name).await;
            times.push(t.elapsed());
            assert_eq!(body, enrolled);
        }
    }
    let (k, u) = (median(k_times), median(u_times));
    let ratio = k.as_secs_f64() / u.as_secs_f64();
    println!("choices, median of {N}: known {k:?}, unknown {u:?}, ratio {ratio:.2}");
    assert!((0.5..2.0).contains(&ratio), "known {k:?} vs unknown {u:?}");
}
