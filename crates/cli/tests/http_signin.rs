//! Onboarding by pass, passkey registration and the three passkey sign-ins,
//! over HTTP against a server on an ephemeral port — on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a failing test stops loudly

mod support;

use keyfort_softauthn::{Authenticator, Overrides};
use serde_json::json;
use support::inproc::{Db, client, start, start_with};

on_both_stores!(
    onboarding_registration_and_signin,
    passkey_management,
    disabled_user_loses_sessions,
    related_origins_and_hints,
    racing_deletions_keep_a_way_in,
    a_refused_passkey_is_no_way_in
);

async fn onboarding_registration_and_signin(db: Db) {
    let Some(h) = start(db, "onboarding_registration_and_signin").await else {
        return;
    };
    // Onboarding: the first-start pass signs the administrator in.
    let c = client();
    let r = h.tap_signin(&c, "admin", &h.admin_pass).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.set_cookie, "a session cookie is set");
    let (status, page) = h.get_html(&c, "/my/security").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Temporary Access Pass"),
        "the page says the session came from a pass"
    );
    assert!(page.contains("no passkeys yet"));

    // Registration of a synced passkey with a chosen AAGUID.
    let aaguid = [
        0xfb, 0xfc, 0x30, 0x07, 0x15, 0x4e, 0x4e, 0xcc, 0x8c, 0x0b, 0x6e, 0x02, 0x05, 0x57, 0xd7,
        0xbd,
    ];
    let mut synced = Authenticator::synced(aaguid);
    let r = h.register(&c, &mut synced, &Overrides::default()).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["passkeyType"], "synced");
    assert_eq!(r.body["aaGuid"], "fbfc3007-154e-4ecc-8c0b-6e020557d7bd");
    let admin = h.store.user_by_username("admin").await.unwrap().unwrap();
    let keys = h.store.passkeys_of_user(&admin.id).await.unwrap();
    assert_eq!(keys.len(), 1);
    let k = &keys[0];
    assert_eq!(
        (
            k.backup_eligible,
            k.backup_state,
            k.attestation_format.as_str()
        ),
        (true, true, "none")
    );
    assert_eq!(k.transports, "[\"internal\"]");
    assert!(!k.credential.contains(&h.admin_pass));

    // The one-time pass is spent.
    let again = h.tap_signin(&client(), "admin", &h.admin_pass).await;
    assert_eq!((again.status, again.code()), (401, "pass_used"));

    // Discoverable sign-in (the "Sign in with a passkey" button and conditional UI send no username).
    let c2 = client();
    let r = h
        .passkey_signin(&c2, &mut synced, None, &Overrides::default())
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.set_cookie);
    let (_, page) = h.get_html(&c2, "/my/security").await;
    assert!(page.contains("synced") && page.contains("fbfc3007-154e-4ecc-8c0b-6e020557d7bd"));

    // Username first: no allowCredentials (passkeys are discoverable; a list would say
    // whether the name exists); the ceremony is bound to the named user.
    let c3 = client();
    let begin = h.signin_begin(&c3, Some("Admin")).await;
    assert!(
        begin["publicKey"]["allowCredentials"]
            .as_array()
            .is_none_or(|a| a.is_empty())
    );
    assert_eq!(begin["publicKey"]["userVerification"], "required");
    let cred = synced.get(&begin, &h.base).unwrap();
    let r = h.signin_finish(&c3, &begin, &cred).await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    // A fresh passkey session may register a device-bound passkey, excluding the one it has.
    let mut bound = Authenticator::new([0x11; 16]);
    let begin = h
        .post(&c3, "/api/passkeys/register/begin", &json!({}))
        .await;
    assert_eq!(
        begin.body["publicKey"]["excludeCredentials"][0]["id"],
        k.credential_id.as_str()
    );
    assert_eq!(
        begin.body["publicKey"]["authenticatorSelection"]["residentKey"],
        "required"
    );
    assert_eq!(
        begin.body["publicKey"]["authenticatorSelection"]["userVerification"],
        "required"
    );
    let r = h.register(&c3, &mut bound, &Overrides::default()).await;
    assert_eq!(r.body["passkeyType"], "deviceBound");
    let (_, page) = h.get_html(&c3, "/my/security").await;
    assert!(page.contains("device-bound") && page.contains("synced"));

    // Sign-out ends the session on the server, not only in the browser.
    let r = c3.post(h.url("/signout")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let (status, _) = h.get_html(&c3, "/my/security").await;
    assert_eq!(status, 303, "signed out: /my/security redirects to sign-in");

    // Logs: every sign-in has a row; every change is audited.
    let rows = h.store.signin_log(100).await.unwrap();
    let ok: Vec<_> = rows
        .iter()
        .filter(|r| r.outcome == "success")
        .map(|r| r.method.as_str())
        .collect();
    assert_eq!(ok, vec!["passkey", "passkey", "temporary_access_pass"]);
    assert!(
        rows.iter()
            .any(|r| r.outcome == "failure" && r.reason == "pass_used")
    );
    let audit: Vec<String> = h
        .store
        .audit_log(100)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.action)
        .collect();
    for action in ["user.created", "tap.issued", "passkey.registered"] {
        assert!(
            audit.iter().any(|a| a == action),
            "audit has {action}: {audit:?}"
        );
    }
    assert_eq!(
        audit.iter().filter(|a| *a == "passkey.registered").count(),
        2
    );
}

async fn passkey_management(db: Db) {
    let Some(h) = start(db, "passkey_management").await else {
        return;
    };
    let mut a = Authenticator::new([2; 16]);
    let c = h.onboard_admin(&mut a).await;
    let admin = h.store.user_by_username("admin").await.unwrap().unwrap();
    let id = h.store.passkeys_of_user(&admin.id).await.unwrap()[0]
        .id
        .clone();

    let r = h
        .post(
            &c,
            &format!("/api/passkeys/{id}/rename"),
            &json!({ "displayName": "  Work laptop " }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let (_, page) = h.get_html(&c, "/my/security").await;
    assert!(page.contains("Work laptop"));
    assert!(
        page.contains("class=\"last-way-in") && !page.contains("class=\"delete"),
        "the only passkey that signs in offers no delete button, and says why"
    );

    let r = h
        .post(
            &c,
            &format!("/api/passkeys/{id}/rename"),
            &json!({ "displayName": "" }),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "invalid_name"));
    let r = h
        .post(
            &c,
            &format!("/api/passkeys/{}/rename", uuid_zero()),
            &json!({ "displayName": "x" }),
        )
        .await;
    assert_eq!((r.status, r.code()), (404, "not_found"));
    // An id that is not a passkey id at all names nothing, and is not looked up.
    let r = h
        .post(
            &c,
            "/api/passkeys/not-a-passkey/rename",
            &json!({ "displayName": "x" }),
        )
        .await;
    assert_eq!((r.status, r.code()), (404, "not_found"));

    // Another user cannot rename or delete the administrator's passkey: it is not theirs.
    let bob = h
        .store
        .create_user(
            &keyfort_store::NewUser {
                id: keyfort_server::crypto::uuid_v4(),
                username: "bob".into(),
                display_name: "Bob".into(),
                user_type: keyfort_core::directory::UserType::Member,
                ..Default::default()
            },
            "test",
            keyfort_server::state::now_ms(),
        )
        .await
        .unwrap();
    let pass = h.mint_pass(&bob, 60, true).await;
    let other = client();
    assert_eq!(h.tap_signin(&other, "bob", &pass.code).await.status, 200);
    let r = h
        .post(
            &other,
            &format!("/api/passkeys/{id}/rename"),
            &json!({ "displayName": "mine now" }),
        )
        .await;
    assert_eq!((r.status, r.code()), (404, "not_found"));
    let r = other
        .delete(h.url(&format!("/api/passkeys/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let keys = h.store.passkeys_of_user(&admin.id).await.unwrap();
    assert_eq!(
        (keys.len(), keys[0].display_name.as_str()),
        (1, "Work laptop"),
        "nothing changed"
    );

    // The only passkey that signs the administrator in stays: refused, nothing changed.
    let r = c
        .delete(h.url(&format!("/api/passkeys/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "last_method", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("add another passkey"),
        "{body}"
    );
    assert_eq!(h.store.passkeys_of_user(&admin.id).await.unwrap().len(), 1);

    // With a second passkey, the first may go; the second then is the last way in.
    let mut second = Authenticator::new([12; 16]);
    let r = h.register(&c, &mut second, &Overrides::default()).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let (_, page) = h.get_html(&c, "/my/security").await;
    assert_eq!(
        page.matches("class=\"delete").count(),
        2,
        "both may be deleted"
    );
    let r = c
        .delete(h.url(&format!("/api/passkeys/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let left = h.store.passkeys_of_user(&admin.id).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_ne!(left[0].id, id);
    let r = c
        .delete(h.url(&format!("/api/passkeys/{}", left[0].id)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409, "the remaining one is now the last way in");
    let audit: Vec<String> = h
        .store
        .audit_log(100)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.action)
        .collect();
    assert!(
        audit.contains(&"passkey.renamed".to_string())
            && audit.contains(&"passkey.deleted".to_string())
    );
    // The deleted passkey no longer signs in.
    let r = h
        .passkey_signin(&client(), &mut a, None, &Overrides::default())
        .await;
    assert_eq!((r.status, r.code()), (401, "unknown_credential"));
}

fn uuid_zero() -> &'static str {
    "00000000-0000-4000-8000-000000000000"
}

async fn disabled_user_loses_sessions(db: Db) {
    let Some(h) = start(db, "disabled_user_loses_sessions").await else {
        return;
    };
    let mut a = Authenticator::new([3; 16]);
    let c = h.onboard_admin(&mut a).await;
    h.store
        .set_user_enabled("admin", false, "test", keyfort_server::state::now_ms())
        .await
        .unwrap();
    let (status, _) = h.get_html(&c, "/my/security").await;
    assert_eq!(status, 303, "a disabled user's session is gone");
    let before = h.signin_rows().await;
    let r = h
        .passkey_signin(&client(), &mut a, None, &Overrides::default())
        .await;
    assert_eq!((r.status, r.code()), (403, "user_disabled"));
    assert!(!r.set_cookie);
    assert_eq!(h.signin_rows().await, before + 1);
    assert_eq!(h.last_signin().await.reason, "user_disabled");
}

/// `/.well-known/webauthn` serves the configured related origins (and is not found while
/// none is); a ceremony from a related origin is accepted, one from elsewhere refused;
/// a device-bound-only policy sends registration hints.
async fn related_origins_and_hints(db: Db) {
    let Some(plain) = start(db, "http_signin::related_origins::plain").await else {
        return;
    };
    let r = plain.get_json(&client(), "/.well-known/webauthn").await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (404, Some("not_found"))
    );
    drop(plain);

    const RELATED: &str = "https://login.example.co.uk";
    let Some(h) = start_with(
        db,
        "http_signin::related_origins",
        &[(
            "KEYFORT_RELATED_ORIGINS",
            "https://login.example.co.uk/, https://apps.example.net",
        )],
    )
    .await
    else {
        return;
    };
    let r = h.get_json(&client(), "/.well-known/webauthn").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        json!({ "origins": [RELATED, "https://apps.example.net"] })
    );

    // Registration and sign-in from the related origin; a foreign origin is refused.
    let c = client();
    assert_eq!(h.tap_signin(&c, "admin", &h.admin_pass).await.status, 200);
    let mut authn = Authenticator::new([7; 16]);
    let begin = h.post(&c, "/api/passkeys/register/begin", &json!({})).await;
    assert!(
        begin.body["publicKey"].get("hints").is_none(),
        "the default profile takes any passkey: no hints"
    );
    let credential = authn
        .create_with(&begin.body, RELATED, &Overrides::default())
        .unwrap();
    let r = h
        .post(
            &c,
            "/api/passkeys/register/finish",
            &json!({ "ceremonyId": begin.body["ceremonyId"], "credential": credential }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let begin = h.signin_begin(&client(), None).await;
    let foreign = authn.get(&begin, "https://login.example.org").unwrap();
    let r = h.signin_finish(&client(), &begin, &foreign).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(!r.set_cookie);
    let begin = h.signin_begin(&client(), None).await;
    let related = authn.get(&begin, RELATED).unwrap();
    let r = h.signin_finish(&client(), &begin, &related).await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    // Security keys only: the browser is told so.
    let input = keyfort_server::app::policy_edits::ProfileInput {
        passkey_types: Some(vec![keyfort_core::passkey::PasskeyType::DeviceBound]),
        ..Default::default()
    };
    h.change_default_profile(input).await.unwrap();
    // A node takes up a stored change at its next policy poll.
    tokio::time::sleep(keyfort_server::POLICY_POLL * 2).await;
    let begin = h.post(&c, "/api/passkeys/register/begin", &json!({})).await;
    assert_eq!(begin.status, 200, "{:?}", begin.body);
    assert_eq!(
        begin.body["publicKey"]["hints"],
        json!(["security-key", "client-device"])
    );
}

/// Two deletions of a person's two passkeys at once: exactly one lands, the other is
/// refused `last_method`, and one passkey is left — over several rounds.
async fn racing_deletions_keep_a_way_in(db: Db) {
    let Some(h) = start(db, "racing_deletions_keep_a_way_in").await else {
        return;
    };
    let mut a = Authenticator::new([21; 16]);
    let c = h.onboard_admin(&mut a).await;
    let admin = h.store.user_by_username("admin").await.unwrap().unwrap();
    for round in 0..5u8 {
        let mut another = Authenticator::new([30 + round; 16]);
        let r = h.register(&c, &mut another, &Overrides::default()).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let ids: Vec<String> = h
            .store
            .passkeys_of_user(&admin.id)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.id)
            .collect();
        assert_eq!(ids.len(), 2);
        let delete = |id: &str| {
            let request = c.delete(h.url(&format!("/api/passkeys/{id}")));
            async move { request.send().await.unwrap().status().as_u16() }
        };
        let (first, second) = tokio::join!(delete(&ids[0]), delete(&ids[1]));
        let mut statuses = vec![first, second];
        statuses.sort_unstable();
        assert_eq!(statuses, vec![200, 409], "round {round}");
        let left = h.store.passkeys_of_user(&admin.id).await.unwrap();
        assert_eq!(left.len(), 1, "round {round}: one passkey stays");
    }
}

/// A passkey the policy refuses cannot sign in: it is never the last way in, may always
/// be deleted, and does not count as another way in for the one that can.
async fn a_refused_passkey_is_no_way_in(db: Db) {
    let Some(h) = start(db, "a_refused_passkey_is_no_way_in").await else {
        return;
    };
    let mut device = Authenticator::new([41; 16]);
    let c = h.onboard_admin(&mut device).await;
    let mut synced = Authenticator::synced([42; 16]);
    let r = h.register(&c, &mut synced, &Overrides::default()).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let admin = h.store.user_by_username("admin").await.unwrap().unwrap();
    let keys = h.store.passkeys_of_user(&admin.id).await.unwrap();
    let id_of = |t: keyfort_core::passkey::PasskeyType| {
        keys.iter()
            .find(|p| p.passkey_type == t)
            .unwrap()
            .id
            .clone()
    };
    let device_id = id_of(keyfort_core::passkey::PasskeyType::DeviceBound);
    let synced_id = id_of(keyfort_core::passkey::PasskeyType::Synced);

    // Device-bound passkeys only from now on: the synced one cannot sign in.
    let input = keyfort_server::app::policy_edits::ProfileInput {
        passkey_types: Some(vec![keyfort_core::passkey::PasskeyType::DeviceBound]),
        ..Default::default()
    };
    h.change_default_profile(input).await.unwrap();
    tokio::time::sleep(keyfort_server::POLICY_POLL * 2).await;

    let (_, page) = h.get_html(&c, "/my/security").await;
    assert_eq!(page.matches("class=\"last-way-in").count(), 1, "{page}");
    let r = c
        .delete(h.url(&format!("/api/passkeys/{device_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409, "the refused synced passkey is no way in");
    let r = c
        .delete(h.url(&format!("/api/passkeys/{synced_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "a refused passkey may always go");
    let left = h.store.passkeys_of_user(&admin.id).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, device_id);
}
