//! The registration campaign over HTTP, on SQLite and PostgreSQL: a person without a
//! passkey is asked after signing in, snoozes are counted (and audited), after three the
//! passkey is required — no snooze, and no application answered — until one exists; a
//! policy out of range is refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a failing test stops loudly

mod support;

use keyfort_core::directory::UserDraft;
use keyfort_core::policy::{ALL_USERS, IncludeTarget, MethodState, PlainMethod};
use keyfort_server::app::{self, passwords::ImportFormat};
use keyfort_softauthn::{Authenticator, Overrides};
use serde_json::json;
use std::time::{Duration, Instant};
use support::inproc::{Db, Harness, client, start};

on_both_stores!(asked_snoozed_then_required);

const PASSWORD: &str = "correct horse battery staple";

fn now() -> i64 {
    keyfort_server::state::now_ms()
}

async fn sign_in(h: &Harness, c: &reqwest::Client) -> String {
    let r = h
        .post(
            c,
            "/api/signin/password",
            &json!({ "username": "cam", "password": PASSWORD }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["redirect"].as_str().unwrap().to_string()
}

async fn asked_snoozed_then_required(db: Db) {
    let Some(h) = start(db, "asked_snoozed_then_required").await else {
        return;
    };
    let draft = UserDraft {
        username: "cam".into(),
        ..UserDraft::default()
    };
    app::directory::add_user(&h.store, &draft, "test", now())
        .await
        .unwrap();
    let hash = keyfort_server::crypto::hash_code(PASSWORD).unwrap();
    let line = format!("{}\n", json!({ "username": "cam", "passwordHash": hash }));
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

    // Out of range is refused; a 0-day snooze asks at every sign-in.
    let mut p = app::policy::load(&h.store).await.unwrap().policy;
    p.password = PlainMethod {
        state: MethodState::Enabled,
        include_targets: vec![IncludeTarget {
            id: ALL_USERS.into(),
            is_registration_required: false,
            allowed_passkey_profiles: Vec::new(),
        }],
        exclude_targets: Vec::new(),
    };
    p.registration_campaign.snooze_duration_in_days = 15;
    let refused = app::policy::apply(&h.store, p.clone(), None, false, "test", now()).await;
    assert!(
        refused.as_ref().is_err_and(|e| e
            .to_string()
            .contains("registrationCampaign.snoozeDurationInDays")),
        "{refused:?}"
    );
    p.registration_campaign.snooze_duration_in_days = 0;
    app::policy::apply(&h.store, p, None, false, "test", now())
        .await
        .unwrap();
    let started = Instant::now();
    loop {
        let r = h
            .post(
                &client(),
                "/api/signin/choices",
                &json!({ "username": "cam" }),
            )
            .await;
        if r.body["preferred"] == "password" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Three times asked, three times snoozed.
    for left in [3, 2, 1] {
        let c = client();
        assert_eq!(sign_in(&h, &c).await, "/signin/setup");
        let (status, page) = h.get_html(&c, "/signin/setup").await;
        assert_eq!(status, 200);
        assert!(page.contains(r#"data-reason="campaign""#), "{page}");
        assert!(page.contains(&format!("{left} more time")), "{page}");
        assert!(page.contains("setup-snooze"));
        let r = h.post(&c, "/api/campaign/snooze", &json!({})).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["snoozes"], 4 - left);
    }
    let audit = h.store.audit_log(100).await.unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|a| a.action == "campaign.snoozed")
            .count(),
        3
    );

    // Now required: no snooze, and an application's request waits for the passkey.
    let c = client();
    assert_eq!(sign_in(&h, &c).await, "/signin/setup");
    let (_, page) = h.get_html(&c, "/signin/setup").await;
    assert!(page.contains(r#"data-reason="required""#), "{page}");
    assert!(!page.contains("setup-snooze") && !page.contains("setup-skip"));
    let r = h.post(&c, "/api/campaign/snooze", &json!({})).await;
    assert_eq!((r.status, r.code()), (409, "registration_required"));
    let app_client = h
        .add_client(true, &["authorization_code"], "none", None)
        .await;
    let mut url = url::Url::parse(&h.url("/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &app_client.id)
        .append_pair("redirect_uri", &app_client.redirect_uri)
        .append_pair("scope", "openid")
        .append_pair("state", "s1")
        .append_pair(
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        )
        .append_pair("code_challenge_method", "S256");
    let (status, to) = h.location(&c, url.as_str()).await;
    let to = to.unwrap_or_default();
    assert!(
        (300..400).contains(&status) && to.starts_with("/signin/setup?request="),
        "{status} {to}"
    );

    // A passkey registered from the fresh sign-in ends the campaign: the request is
    // answered.
    let mut key = Authenticator::synced([5; 16]);
    let r = h.register(&c, &mut key, &Overrides::default()).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let (status, to) = h.location(&c, url.as_str()).await;
    let to = to.unwrap_or_default();
    assert!(
        (300..400).contains(&status) && to.starts_with(&app_client.redirect_uri),
        "{status} {to}"
    );
    assert!(to.contains("code="), "{to}");
    // Nothing left to snooze; and no snooze without a session.
    let r = h.post(&c, "/api/campaign/snooze", &json!({})).await;
    assert_eq!((r.status, r.code()), (409, "not_asked"));
    let r = h.post(&client(), "/api/campaign/snooze", &json!({})).await;
    assert_eq!(r.status, 401, "{:?}", r.body);
}
