//! Authenticator apps (TOTP, RFC 6238) over HTTP, on SQLite and PostgreSQL: enrolment
//! from a fresh password sign-in with one code checked before anything is saved, a code
//! as the second factor after a password, one step of drift and no more, no code twice,
//! the second step sealed, spent once and short-lived, throttling, removal — and of 50
//! parallel sign-ins with one code, exactly one gets in.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a failing test stops loudly

mod support;

use keyfort_core::directory::UserDraft;
use keyfort_core::policy::{ALL_USERS, IncludeTarget, MethodState, PlainMethod};
use keyfort_server::app::{self, passwords::ImportFormat};
use keyfort_server::sealed::Envelope;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::inproc::{Db, Harness, Reply, client, start};
use totp_rs::{Algorithm, Secret, TOTP};

on_both_stores!(
    an_app_is_the_second_factor_after_a_password,
    one_code_signs_in_once_however_many_race
);

const PASSWORD: &str = "correct horse battery staple";

fn now() -> i64 {
    keyfort_server::state::now_ms()
}

fn step_now() -> u64 {
    u64::try_from(now()).unwrap() / 30_000
}

fn everyone(state: MethodState) -> PlainMethod {
    PlainMethod {
        state,
        include_targets: vec![IncludeTarget {
            id: ALL_USERS.into(),
            is_registration_required: false,
            allowed_passkey_profiles: Vec::new(),
        }],
        exclude_targets: Vec::new(),
    }
}

/// A user with an Argon2id password, passwords and apps on for everyone, enforced.
async fn user_with_password(h: &Harness, name: &str) {
    let draft = UserDraft {
        username: name.into(),
        ..UserDraft::default()
    };
    app::directory::add_user(&h.store, &draft, "test", now())
        .await
        .unwrap();
    let hash = keyfort_server::crypto::hash_code(PASSWORD).unwrap();
    let line = format!("{}\n", json!({ "username": name, "passwordHash": hash }));
    app::passwords::import_passwords(
        &h.store,
        &line,
        ImportFormat::JsonLines,
        false,
        "test",
        now(),
        &|_, _| {},
    )
    .await
    .unwrap();
    let mut p = app::policy::load(&h.store).await.unwrap().policy;
    if p.password.state != MethodState::Enabled {
        p.password = everyone(MethodState::Enabled);
        p.software_oath = everyone(MethodState::Enabled);
        app::policy::apply(&h.store, p, None, false, "test", now())
            .await
            .unwrap();
    }
    let started = Instant::now();
    while choices(h, name).await["preferred"] != "password" {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "policy in force"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn choices(h: &Harness, name: &str) -> Value {
    h.post(
        &client(),
        "/api/signin/choices",
        &json!({ "username": name }),
    )
    .await
    .body
}

async fn password(h: &Harness, c: &reqwest::Client, name: &str) -> Reply {
    h.post(
        c,
        "/api/signin/password",
        &json!({ "username": name, "password": PASSWORD }),
    )
    .await
}

async fn code_signin(h: &Harness, c: &reqwest::Client, pending: &Value, code: &str) -> Reply {
    h.post(
        c,
        "/api/signin/totp",
        &json!({ "pending": pending, "code": code }),
    )
    .await
}

/// Enrols an app from `c`'s session; its code generator and the step the first code was for.
async fn enrol(h: &Harness, c: &reqwest::Client, name: &str) -> (TOTP, u64) {
    let begin = h.post(c, "/api/totp/enrol/begin", &json!({})).await;
    assert_eq!(begin.status, 200, "{:?}", begin.body);
    let uri = begin.body["otpauthUri"].as_str().unwrap();
    assert!(
        uri.starts_with("otpauth://totp/Keyfort%20%28localhost%29:"),
        "{uri}"
    );
    assert!(begin.body["qrSvg"].as_str().unwrap().starts_with("<?xml"));
    let secret = Secret::Encoded(begin.body["secret"].as_str().unwrap().to_string())
        .to_bytes()
        .unwrap();
    let totp = TOTP::new_unchecked(Algorithm::SHA1, 6, 0, 30, secret.clone(), None, name.into());
    let enrolment = begin.body["enrolment"].clone();
    let finish = |code: String| {
        let body = json!({ "enrolment": enrolment, "code": code });
        async move { h.post(c, "/api/totp/enrol/finish", &body).await }
    };
    // A wrong or malformed first code saves nothing.
    let s = step_now();
    let wrong = format!(
        "{:06}",
        (totp.generate(s * 30).parse::<u32>().unwrap() + 1) % 1_000_000
    );
    let r = finish(wrong).await;
    assert_eq!((r.status, r.code()), (401, "invalid_code"), "{:?}", r.body);
    let r = finish("12345".into()).await;
    assert_eq!((r.status, r.code()), (400, "invalid_code_format"));
    let user = h.store.user_by_username(name).await.unwrap().unwrap();
    assert!(h.store.totp_of_user(&user.id).await.unwrap().is_none());
    // The code the app shows now saves it; the secret is stored sealed.
    let r = finish(totp.generate(s * 30)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let stored = h.store.totp_of_user(&user.id).await.unwrap().unwrap();
    assert!(
        !stored
            .secret_sealed
            .contains(begin.body["secret"].as_str().unwrap())
    );
    assert!(stored.secret_sealed.len() > secret.len());
    (totp, stored.last_step.unwrap().try_into().unwrap())
}

async fn an_app_is_the_second_factor_after_a_password(db: Db) {
    let Some(h) = start(db, "an_app_is_the_second_factor_after_a_password").await else {
        return;
    };
    user_with_password(&h, "tia").await;
    // A fresh password sign-in of someone holding nothing stronger adds the app.
    let c = client();
    let r = password(&h, &c, "tia").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let (totp, enrolled_step) = enrol(&h, &c, "tia").await;
    let again = h.post(&c, "/api/totp/enrol/begin", &json!({})).await;
    assert_eq!((again.status, again.code()), (409, "totp_exists"));
    let audit = h.store.audit_log(50).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.action == "totp.registered" && a.target.as_deref() == Some("tia"))
    );

    // Now the app leads (a password, then a code), the password alone after it.
    assert_eq!(
        choices(&h, "tia").await,
        json!({ "preferred": "softwareOath", "others": ["password"] })
    );
    let c = client();
    let r = password(&h, &c, "tia").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["secondFactor"], "softwareOath");
    assert!(!r.set_cookie, "a right password alone makes no session");
    let pending = r.body["pending"].clone();
    let code_at = |step: u64| totp.generate(step * 30);

    // The enrolment's own code never signs in; nor one two steps away.
    let r = code_signin(&h, &c, &pending, &code_at(enrolled_step)).await;
    assert_eq!((r.status, r.code()), (401, "code_used"));
    let r = code_signin(&h, &c, &pending, &code_at(enrolled_step + 3)).await;
    assert_eq!((r.status, r.code()), (401, "invalid_code"));
    let r = code_signin(&h, &c, &pending, &code_at(enrolled_step.saturating_sub(2))).await;
    assert!(
        matches!(r.code(), "invalid_code" | "code_used"),
        "{:?}",
        r.body
    );
    let r = code_signin(&h, &c, &pending, "12a456").await;
    assert_eq!((r.status, r.code()), (400, "invalid_code_format"));
    // One step ahead (a phone clock a little fast) signs in.
    let next = code_at(enrolled_step + 1);
    let r = code_signin(&h, &c, &pending, &next).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.set_cookie);
    let row = h.last_signin().await;
    assert_eq!(
        (row.method.as_str(), row.outcome.as_str()),
        ("password_totp", "success")
    );

    // The second step is spent with the sign-in; a used code is refused on replay.
    let r = code_signin(&h, &client(), &pending, &next).await;
    assert!(r.status == 400 || r.status == 401, "{:?}", r.body);
    let fresh = password(&h, &client(), "tia").await.body["pending"].clone();
    let r = code_signin(&h, &client(), &fresh, &next).await;
    assert_eq!((r.status, r.code()), (401, "code_used"));

    // A forged or expired second step is refused.
    let r = code_signin(&h, &client(), &json!("not-sealed"), &next).await;
    assert_eq!((r.status, r.code()), (400, "signin_step_invalid"));
    let tia = h.store.user_by_username("tia").await.unwrap().unwrap();
    let expired = h
        .sealer()
        .seal(
            keyfort_server::totp::PENDING_KIND,
            &Envelope {
                id: "expired-step".into(),
                exp: now() - 1,
                body: keyfort_server::totp::Pending {
                    user_id: tia.id.clone(),
                },
            },
        )
        .unwrap();
    let r = code_signin(&h, &client(), &json!(expired), &next).await;
    assert_eq!((r.status, r.code()), (401, "signin_step_expired"));

    // Six wrong codes, then a delay.
    let mut last = 0;
    for _ in 0..7 {
        last = code_signin(&h, &client(), &fresh, "000000").await.status;
    }
    assert_eq!(last, 429, "throttled");

    // Removed on My security, audited: the password alone signs in again.
    let removed = c.delete(h.url("/api/totp")).send().await.unwrap();
    assert_eq!(removed.status().as_u16(), 200);
    let audit = h.store.audit_log(50).await.unwrap();
    assert!(audit.iter().any(|a| a.action == "totp.removed"));
    assert_eq!(
        choices(&h, "tia").await,
        json!({ "preferred": "password", "others": [] })
    );
}

async fn one_code_signs_in_once_however_many_race(db: Db) {
    let Some(h) = start(db, "one_code_signs_in_once_however_many_race").await else {
        return;
    };
    user_with_password(&h, "ray").await;
    let c = client();
    assert_eq!(password(&h, &c, "ray").await.status, 200);
    // An enrolment is the session's own: another session, or a forged one, saves nothing.
    let begun = h.post(&c, "/api/totp/enrol/begin", &json!({})).await;
    let other = client();
    assert_eq!(password(&h, &other, "ray").await.status, 200);
    for (session, enrolment) in [
        (&other, begun.body["enrolment"].clone()),
        (&c, json!("forged")),
    ] {
        let r = h
            .post(
                session,
                "/api/totp/enrol/finish",
                &json!({ "enrolment": enrolment, "code": "123456" }),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (400, "enrolment_invalid"),
            "{:?}",
            r.body
        );
    }
    let r = h.post(&client(), "/api/totp/enrol/begin", &json!({})).await;
    assert_eq!(r.status, 401, "no session, no enrolment");
    let (totp, step) = enrol(&h, &c, "ray").await;
    // Fifty right passwords, each waiting for its code; then one code for all at once.
    let mut pendings = Vec::new();
    for _ in 0..50 {
        let r = password(&h, &client(), "ray").await;
        pendings.push(r.body["pending"].clone());
    }
    let code = totp.generate((step + 1) * 30);
    let h = std::sync::Arc::new(h);
    let racers: Vec<_> = pendings
        .into_iter()
        .map(|p| {
            let (h, code) = (h.clone(), code.clone());
            tokio::spawn(async move { code_signin(&h, &client(), &p, &code).await })
        })
        .collect();
    let mut ok = 0;
    for r in racers {
        let r = r.await.unwrap();
        match r.status {
            200 => ok += 1,
            401 | 429 => assert!(
                matches!(r.code(), "code_used" | "too_many_attempts"),
                "{:?}",
                r.body
            ),
            s => panic!("unexpected {s}: {:?}", r.body),
        }
    }
    assert_eq!(
        ok, 1,
        "exactly one of 50 racing sign-ins with one code gets in"
    );
}
