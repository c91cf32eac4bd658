//! The admin API and people, on both stores. An administrator's own token, from the
//! authorization-code flow with the `keyfort.admin` scope: granted only through an
//! application that holds a role and only after a passkey sign-in; what it may do is what
//! both the person's roles and the application's allow, read at every call. A person's
//! Temporary Access Pass read (audited, never the code) and revoked, ending what it let in.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a failing test stops loudly

mod support;

use keyfort_core::roles::{PrincipalKind, Role};
use keyfort_core::strength::ACR_PHISHING_RESISTANT;
use keyfort_server::app;
use keyfort_softauthn::{Authenticator, Overrides};
use serde_json::{Value, json};
use support::api::{Reply, call, caller, revoke, token_request};
use support::inproc::{Db, Harness, TestClient, client, query, start};

on_both_stores!(
    a_person_administers_through_an_application,
    revoking_a_pass_ends_what_it_let_in,
    removing_a_passkey_ends_what_it_signed_in
);

fn now() -> i64 {
    keyfort_server::state::now_ms()
}

fn pkce() -> (String, String) {
    use base64::Engine;
    use sha2::Digest;
    let verifier = keyfort_server::crypto::random_token();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// The console's authorization request for `scope`, with PKCE.
fn authorize_url(h: &Harness, app: &TestClient, scope: &str, challenge: &str) -> String {
    let mut url = url::Url::parse(&h.url("/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &app.id)
        .append_pair("redirect_uri", &app.redirect_uri)
        .append_pair("scope", scope)
        .append_pair("state", "s1")
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    url.to_string()
}

/// Exchanges the code in `redirect` (the application's callback URL) for tokens.
async fn exchange(h: &Harness, app: &TestClient, redirect: &str, verifier: &str) -> Value {
    assert!(redirect.starts_with(&app.redirect_uri), "{redirect}");
    let code = query(redirect, "code").expect("a code");
    token_request(
        h,
        app,
        &[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", app.redirect_uri.as_str()),
            ("code_verifier", verifier),
        ],
    )
    .await
}

/// The person signed in on `browser` asks `app` for `scope`: answered at once when the
/// session is strong enough, else after a passkey sign-in with `authn`. Returns the
/// token response and whether a sign-in was needed.
async fn tokens_for(
    h: &Harness,
    browser: &reqwest::Client,
    authn: &mut Authenticator,
    app: &TestClient,
    scope: &str,
) -> (Value, bool) {
    let (verifier, challenge) = pkce();
    let (status, loc) = h
        .location(browser, &authorize_url(h, app, scope, &challenge))
        .await;
    assert_eq!(status, 303);
    let loc = loc.unwrap();
    if let Some(request) = loc.strip_prefix("/signin?request=") {
        let r = h.passkey_signin_for(browser, authn, request).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let redirect = r.body["redirect"].as_str().unwrap();
        (exchange(h, app, redirect, &verifier).await, true)
    } else {
        (exchange(h, app, &loc, &verifier).await, false)
    }
}

async fn read_users(h: &Harness, token: &str) -> Reply {
    call(h, "GET", "/users", Some(token), None).await
}

async fn add_group(h: &Harness, token: &str, name: &str) -> Reply {
    call(
        h,
        "POST",
        "/groups",
        Some(token),
        Some(json!({ "name": name })),
    )
    .await
}

fn access(t: &Value) -> &str {
    t["access_token"].as_str().unwrap()
}

fn claims(t: &Value) -> Value {
    jsonwebtoken::dangerous::insecure_decode::<Value>(t["id_token"].as_str().unwrap())
        .unwrap()
        .claims
}

async fn give(h: &Harness, kind: PrincipalKind, who: &str, role: Role) {
    app::roles::assign(&h.store, kind, who, role, "test", now())
        .await
        .unwrap();
}

async fn take(h: &Harness, kind: PrincipalKind, who: &str, role: Role) {
    app::roles::remove(&h.store, kind, who, role, "test", now())
        .await
        .unwrap();
}

async fn a_person_administers_through_an_application(db: Db) {
    let Some(h) = start(db, "admin_delegated").await else {
        return;
    };
    let mut authn = Authenticator::new([7; 16]);
    let browser = h.onboard_admin(&mut authn).await;
    let admin_id = h.store.user_by_username("admin").await.unwrap().unwrap().id;
    let console = h
        .add_client(
            false,
            &["authorization_code", "refresh_token"],
            "client_secret_basic",
            None,
        )
        .await;

    // An application without a role is not granted the scope: its token is refused.
    let (t, _) = tokens_for(&h, &browser, &mut authn, &console, "openid keyfort.admin").await;
    assert_eq!(t["scope"], "openid");
    read_users(&h, access(&t))
        .await
        .refused(403, "insufficient_scope");

    // Once it holds one, the scope needs a passkey sign-in: the session began with a
    // pass, so the person signs in again before the application has its code.
    give(
        &h,
        PrincipalKind::Client,
        &console.id,
        Role::GlobalAdministrator,
    )
    .await;
    let (t, signed_in) =
        tokens_for(&h, &browser, &mut authn, &console, "openid keyfort.admin").await;
    assert!(
        signed_in,
        "a pass session is not enough for the admin scope"
    );
    assert_eq!(t["scope"], "openid keyfort.admin");
    assert_eq!(claims(&t)["acr"], ACR_PHISHING_RESISTANT);
    let admin = access(&t).to_string();
    read_users(&h, &admin).await.answers(200);
    add_group(&h, &admin, "console-made").await.answers(201);
    let audit = h.store.audit_log(20).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|r| r.action == "group.created" && r.actor == format!("user:{admin_id}")),
        "the person is the actor"
    );
    // Nobody manages their own methods through a role, delegated or not.
    call(
        &h,
        "POST",
        "/users/admin/temporaryAccessPass",
        Some(&admin),
        Some(json!({})),
    )
    .await
    .refused(403, "own_methods");

    // The application narrows what the person does through it, read at every call.
    take(
        &h,
        PrincipalKind::Client,
        &console.id,
        Role::GlobalAdministrator,
    )
    .await;
    give(&h, PrincipalKind::Client, &console.id, Role::GlobalReader).await;
    read_users(&h, &admin).await.answers(200);
    let body = add_group(&h, &admin, "refused")
        .await
        .refused(403, "application_forbidden");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("globalAdministrator")
    );
    give(
        &h,
        PrincipalKind::Client,
        &console.id,
        Role::GlobalAdministrator,
    )
    .await;

    // A person without a role, through the same application: granted the scope (the
    // application may ask for it) and refused at the API; their role counts at once.
    let bob_browser = h.onboard_user("bob").await;
    let mut bob_key = Authenticator::new([8; 16]);
    assert_eq!(
        h.register(&bob_browser, &mut bob_key, &Overrides::default())
            .await
            .status,
        200
    );
    let (t, _) = tokens_for(
        &h,
        &bob_browser,
        &mut bob_key,
        &console,
        "openid offline_access keyfort.admin",
    )
    .await;
    let bob = access(&t).to_string();
    let body = read_users(&h, &bob).await.refused(403, "forbidden");
    assert!(body["message"].as_str().unwrap().contains("globalReader"));
    give(&h, PrincipalKind::User, "bob", Role::GlobalReader).await;
    read_users(&h, &bob).await.answers(200);
    add_group(&h, &bob, "bobs").await.refused(403, "forbidden");

    // A disabled person's token is refused, and again accepted once they are enabled.
    app::directory::set_enabled(&h.store, "bob", false, "test", now())
        .await
        .unwrap();
    read_users(&h, &bob).await.refused(401, "invalid_token");
    app::directory::set_enabled(&h.store, "bob", true, "test", now())
        .await
        .unwrap();

    // A refreshed token carries the scope on; revoking the grant ends both.
    let refreshed = token_request(
        &h,
        &console,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", t["refresh_token"].as_str().unwrap_or("")),
        ],
    )
    .await;
    let renewed = access(&refreshed).to_string();
    read_users(&h, &renewed).await.answers(200);
    revoke(&h, &console, refreshed["refresh_token"].as_str().unwrap()).await;
    for token in [&bob, &renewed] {
        read_users(&h, token).await.refused(401, "invalid_token");
    }

    // The first global administrator signed in anew still administers: nothing above
    // changed their roles, and a fresh browser needs the passkey from the start.
    let fresh = client();
    let (t, signed_in) = tokens_for(&h, &fresh, &mut authn, &console, "openid keyfort.admin").await;
    assert!(signed_in);
    call(&h, "GET", "/roleAssignments", Some(access(&t)), None)
        .await
        .answers(200);
}

async fn userinfo(h: &Harness, token: &str) -> u16 {
    reqwest::Client::new()
        .get(h.url("/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn revoking_a_pass_ends_what_it_let_in(db: Db) {
    let Some(h) = start(db, "admin_people::revoke_pass").await else {
        return;
    };
    // Bob signs in with a multi-use pass, and an application gets tokens from that session.
    let bob = h.onboard_user("bob").await;
    let app = h
        .add_client(false, &["authorization_code"], "client_secret_basic", None)
        .await;
    let mut unused = Authenticator::new([9; 16]);
    let (t, signed_in) = tokens_for(&h, &bob, &mut unused, &app, "openid").await;
    assert!(!signed_in, "the pass session answers at once");
    let bobs_token = access(&t).to_string();
    assert_eq!(userinfo(&h, &bobs_token).await, 200);
    let (status, _) = h.get_html(&bob, "/my/security").await;
    assert_eq!(status, 200);

    // A reader sees the pass as metadata, never its code; the view is audited.
    let (_, reader) = caller(&h, &[Role::GlobalReader], "keyfort.admin").await;
    let shown = call(
        &h,
        "GET",
        "/users/bob/temporaryAccessPass",
        Some(&reader),
        None,
    )
    .await
    .answers(200);
    assert_eq!(shown["isUsable"], true);
    assert_eq!(shown["isUsableOnce"], false);
    assert!(shown.get("temporaryAccessPass").is_none(), "{shown}");
    let audit = h.store.audit_log(10).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|r| r.action == "tap.viewed" && r.target.as_deref() == Some("bob")),
        "the view is audited"
    );
    // Readers cannot revoke; a helpdesk administrator cannot revoke an administrator's.
    call(
        &h,
        "DELETE",
        "/users/bob/temporaryAccessPass",
        Some(&reader),
        None,
    )
    .await
    .refused(403, "forbidden");
    let (_, helpdesk) = caller(&h, &[Role::AuthenticationAdministrator], "keyfort.admin").await;
    app::passes::issue_pass(&h.store, "admin", None, false, "test", now())
        .await
        .unwrap();
    call(
        &h,
        "DELETE",
        "/users/admin/temporaryAccessPass",
        Some(&helpdesk),
        None,
    )
    .await
    .refused(403, "forbidden");
    call(
        &h,
        "GET",
        "/users/nobody/temporaryAccessPass",
        Some(&reader),
        None,
    )
    .await
    .refused(404, "not_found");

    // The helpdesk revokes Bob's: his pass session and the application's tokens end.
    let revoked = call(
        &h,
        "DELETE",
        "/users/bob/temporaryAccessPass",
        Some(&helpdesk),
        None,
    )
    .await
    .answers(200);
    assert_eq!(revoked["sessionsEnded"], 1);
    assert_eq!(revoked["grantsRevoked"], 1);
    assert_eq!(revoked["temporaryAccessPass"]["isUsable"], false);
    assert_eq!(userinfo(&h, &bobs_token).await, 401);
    let (status, _) = h.get_html(&bob, "/my/security").await;
    assert_ne!(status, 200, "the pass session ended");
    let audit = h.store.audit_log(10).await.unwrap();
    let row = audit.iter().find(|r| r.action == "tap.revoked").unwrap();
    assert_eq!(row.target.as_deref(), Some("bob"));
    // Gone: a second revocation, and a view, find nothing.
    call(
        &h,
        "DELETE",
        "/users/bob/temporaryAccessPass",
        Some(&helpdesk),
        None,
    )
    .await
    .refused(404, "not_found");
    call(
        &h,
        "GET",
        "/users/bob/temporaryAccessPass",
        Some(&reader),
        None,
    )
    .await
    .refused(404, "not_found");
}

async fn removing_a_passkey_ends_what_it_signed_in(db: Db) {
    let Some(h) = start(db, "admin_people::remove_passkey").await else {
        return;
    };
    // Bob registers a passkey from his pass session, signs in with it on a phone, and an
    // application gets tokens from the phone's session.
    let bob = h.onboard_user("bob").await;
    let mut authn = Authenticator::new([3; 16]);
    let r = h.register(&bob, &mut authn, &Overrides::default()).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let phone = client();
    let r = h
        .passkey_signin(&phone, &mut authn, None, &Overrides::default())
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let app = h
        .add_client(false, &["authorization_code"], "client_secret_basic", None)
        .await;
    let (t, signed_in) = tokens_for(&h, &phone, &mut authn, &app, "openid").await;
    assert!(!signed_in, "the phone's session answers at once");
    let phones_token = access(&t).to_string();
    assert_eq!(userinfo(&h, &phones_token).await, 200);
    let user = h.store.user_by_username("bob").await.unwrap().unwrap();
    let passkey = h.store.passkeys_of_user(&user.id).await.unwrap().remove(0);
    // What the pages signal to Bob's passkey manager: the one passkey Keyfort accepts.
    let signals = h.get_json(&bob, "/api/passkeys/signals").await;
    assert_eq!(signals.status, 200);
    assert_eq!(
        signals.body["allAcceptedCredentialIds"],
        json!([passkey.credential_id])
    );
    assert_eq!(signals.body["name"], "bob");
    assert_eq!(signals.body["rpId"], "localhost");
    assert_eq!(
        h.get_json(&client(), "/api/passkeys/signals").await.status,
        401
    );

    // Readers cannot remove it; ids that name no passkey of Bob's are not found.
    let path = format!("/users/bob/passkeys/{}", passkey.id);
    let (_, reader) = caller(&h, &[Role::GlobalReader], "keyfort.admin").await;
    call(&h, "DELETE", &path, Some(&reader), None)
        .await
        .refused(403, "forbidden");
    let (_, helpdesk) = caller(&h, &[Role::AuthenticationAdministrator], "keyfort.admin").await;
    for other in [
        "/users/bob/passkeys/not-a-passkey",
        "/users/bob/passkeys/00000000-0000-0000-0000-000000000000",
    ] {
        call(&h, "DELETE", other, Some(&helpdesk), None)
            .await
            .refused(404, "not_found");
    }
    // An administrator's passkeys are beyond the helpdesk (and Bob's id is not theirs).
    call(
        &h,
        "DELETE",
        &format!("/users/admin/passkeys/{}", passkey.id),
        Some(&helpdesk),
        None,
    )
    .await
    .refused(403, "forbidden");
    call(
        &h,
        "DELETE",
        &format!("/users/nobody/passkeys/{}", passkey.id),
        Some(&helpdesk),
        None,
    )
    .await
    .refused(404, "not_found");
    assert_eq!(h.store.passkeys_of_user(&user.id).await.unwrap().len(), 1);

    // The helpdesk removes it: the phone's session and the application's tokens end;
    // the pass session, which the passkey did not sign in, stays.
    let removed = call(&h, "DELETE", &path, Some(&helpdesk), None)
        .await
        .answers(200);
    assert_eq!(removed["removed"], passkey.id.as_str());
    assert_eq!(removed["remaining"], 0);
    assert_eq!(removed["sessionsEnded"], 1);
    assert_eq!(removed["grantsRevoked"], 1);
    assert_eq!(userinfo(&h, &phones_token).await, 401);
    let (status, _) = h.get_html(&phone, "/my/security").await;
    assert_ne!(status, 200, "the phone's session ended");
    let (status, _) = h.get_html(&bob, "/my/security").await;
    assert_eq!(status, 200, "the pass session stays");
    let audit = h.store.audit_log(10).await.unwrap();
    let row = audit
        .iter()
        .find(|r| r.action == "passkey.deleted")
        .unwrap();
    assert_eq!(row.target.as_deref(), Some("bob"));
    assert!(row.actor.starts_with("client:"), "{}", row.actor);
    let signals = h.get_json(&bob, "/api/passkeys/signals").await;
    assert_eq!(signals.body["allAcceptedCredentialIds"], json!([]));
    // Gone: a second removal finds nothing, and the passkey signs nobody in.
    call(&h, "DELETE", &path, Some(&helpdesk), None)
        .await
        .refused(404, "not_found");
    let r = h
        .passkey_signin(&client(), &mut authn, None, &Overrides::default())
        .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (401, Some("unknown_credential"))
    );
}
