//! The authentication-methods policy, enforced: a policy applied through the application
//! layer on another store handle (as the CLI or another node does) is enforced by the
//! running server at the next sign-in, within the poll interval; registration is refused
//! for a passkey no profile in scope accepts; exclusion beats every include.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a failing test stops loudly

mod support;

use keyfort_core::passkey::PasskeyType;
use keyfort_core::policy::{
    EnforcementType, ExcludeTarget, IncludeTarget, KeyRestrictions, MethodsPolicy, PasskeyProfile,
};
use keyfort_server::app::{self, AppError};
use keyfort_softauthn::{Authenticator, Overrides};
use keyfort_store::Store;
use std::time::{Duration, Instant};
use support::inproc::{Db, Harness, client, start};

const YUBIKEY: [u8; 16] = [
    0xcb, 0x69, 0x48, 0x1e, 0x8f, 0xf7, 0x40, 0x39, 0x93, 0xec, 0x0a, 0x27, 0x29, 0xa1, 0x54, 0xa8,
];
const YUBIKEY_ID: &str = "cb69481e-8ff7-4039-93ec-0a2729a154a8";
const ICLOUD: [u8; 16] = [
    0xfb, 0xfc, 0x30, 0x07, 0x15, 0x4e, 0x4e, 0xcc, 0x8c, 0x0b, 0x6e, 0x02, 0x05, 0x57, 0xd7, 0xbd,
];

fn now() -> i64 {
    keyfort_server::state::now_ms()
}

async fn apply(store: &Store, p: MethodsPolicy) -> i64 {
    app::policy::apply(store, p, None, false, "test", now())
        .await
        .unwrap()
        .version
}

async fn group(store: &Store, name: &str, members: &[&str]) -> String {
    let g = app::directory::add_group(store, name, "test", now())
        .await
        .unwrap();
    for m in members {
        app::directory::add_member(store, name, m, "test", now())
            .await
            .unwrap();
    }
    g.id
}

/// Signs in until the answer's code is `code` (the server re-reads the policy on its
/// own), and says how long that took.
async fn until_code(h: &Harness, authn: &mut Authenticator, user: &str, code: &str) -> Duration {
    let start = Instant::now();
    loop {
        let r = h
            .passkey_signin(&client(), authn, Some(user), &Overrides::default())
            .await;
        let got = if r.status == 200 { "ok" } else { r.code() };
        if got == code {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "still {got} ({:?}) after 10 s",
            r.body
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn profiles_enforced(db: Db) {
    let Some(h) = start(db, "policy").await else {
        return;
    };
    // Alice: a synced passkey; Bob: a device-bound YubiKey.
    let alice = h.onboard_user("alice").await;
    let mut synced = Authenticator::synced(ICLOUD);
    let r = h.register(&alice, &mut synced, &Overrides::default()).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let bob = h.onboard_user("bob").await;
    let mut yubikey = Authenticator::new(YUBIKEY);
    let r = h.register(&bob, &mut yubikey, &Overrides::default()).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    until_code(&h, &mut synced, "alice", "ok").await;

    // The administrator removes `synced` from the default profile: Alice's passkey is
    // refused at its next sign-in (the log row says why), Bob's still signs in.
    let mut p = MethodsPolicy::default();
    p.fido2.passkey_profiles[0].passkey_types = vec![PasskeyType::DeviceBound];
    assert_eq!(apply(&h.store, p.clone()).await, 1);
    let took = until_code(&h, &mut synced, "alice", "passkey_type_not_allowed").await;
    assert!(took < Duration::from_secs(5), "enforced after {took:?}");
    let row = h.last_signin().await;
    assert_eq!(
        (row.reason.as_str(), row.username.as_deref()),
        ("passkey_type_not_allowed", Some("alice"))
    );
    until_code(&h, &mut yubikey, "bob", "ok").await;
    // "My security" says which passkey the policy no longer accepts, and why.
    let (status, page) = h.get_html(&alice, "/my/security").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("data-code=\"passkey_type_not_allowed\"")
            && page.contains("no longer accepts this type of passkey"),
        "{page}"
    );
    let (_, page) = h.get_html(&bob, "/my/security").await;
    assert!(
        page.contains("policy-ok") && !page.contains("policy-refused"),
        "{page}"
    );
    // Registering another synced passkey is refused too, and stores nothing.
    let mut another = Authenticator::synced(ICLOUD);
    let r = h
        .register(&alice, &mut another, &Overrides::default())
        .await;
    assert_eq!((r.status, r.code()), (403, "passkey_type_not_allowed"));
    let alice_id = h.store.user_by_username("alice").await.unwrap().unwrap().id;
    assert_eq!(h.store.passkeys_of_user(&alice_id).await.unwrap().len(), 1);

    // Administrators: attested device-bound keys of one model only. Bob's YubiKey is
    // device-bound and on the allow list but not attested: it still signs in
    // (attestation is a registration rule), while a second, unattested key cannot be
    // registered; Carol, a contractor, is excluded from passkeys altogether.
    let admins = group(&h.store, "admins", &["bob"]).await;
    let contractors = group(&h.store, "contractors", &[]).await;
    let carol = h.onboard_user("carol").await;
    let mut carols = Authenticator::new(YUBIKEY);
    let r = h.register(&carol, &mut carols, &Overrides::default()).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    app::directory::add_member(&h.store, "contractors", "carol", "test", now())
        .await
        .unwrap();
    p.fido2.passkey_profiles.push(PasskeyProfile {
        id: "admins".into(),
        name: "Administrators".into(),
        passkey_types: vec![PasskeyType::DeviceBound],
        attestation_enforcement: keyfort_core::policy::AttestationEnforcement::RegistrationOnly,
        key_restrictions: KeyRestrictions {
            is_enforced: true,
            enforcement_type: EnforcementType::Allow,
            aa_guids: vec![YUBIKEY_ID.into()],
        },
    });
    // Only the administrators' profile for administrators: a target per group.
    p.fido2.include_targets = vec![IncludeTarget {
        id: admins.clone(),
        is_registration_required: true,
        allowed_passkey_profiles: vec!["admins".into()],
    }];
    p.fido2.exclude_targets = vec![ExcludeTarget {
        id: contractors.clone(),
    }];
    assert_eq!(apply(&h.store, p.clone()).await, 2);
    until_code(&h, &mut carols, "carol", "passkeys_excluded").await;
    until_code(&h, &mut yubikey, "bob", "ok").await;
    // Alice is in no target now.
    until_code(&h, &mut synced, "alice", "passkeys_not_in_scope").await;
    let bob = {
        let c = client();
        let r = h
            .passkey_signin(&c, &mut yubikey, Some("bob"), &Overrides::default())
            .await;
        assert_eq!(r.status, 200);
        c
    };
    let mut second = Authenticator::new(YUBIKEY);
    let r = h.register(&bob, &mut second, &Overrides::default()).await;
    assert_eq!((r.status, r.code()), (403, "attestation_required"));

    // A membership change is enforced at the very next sign-in, whatever node made it:
    // a node reuses the groups it read for a user only while the user's memberships
    // version (read with the passkey) holds. Alice joins the administrators: in scope
    // again, and refused by their profile.
    let r = h
        .passkey_signin(&client(), &mut synced, Some("alice"), &Overrides::default())
        .await;
    assert_eq!(r.code(), "passkeys_not_in_scope");
    app::directory::add_member(&h.store, "admins", "alice", "test", now())
        .await
        .unwrap();
    let r = h
        .passkey_signin(&client(), &mut synced, Some("alice"), &Overrides::default())
        .await;
    assert_eq!((r.status, r.code()), (403, "passkey_type_not_allowed"));

    // The explanation names the profile and the rule for each passkey.
    let e = app::policy::explain(&h.store, app::providers::shipped(), "bob", Vec::new())
        .await
        .unwrap();
    assert_eq!(e.policy_version, 2);
    assert_eq!(e.passkey_profiles, vec!["admins".to_string()]);
    let k = &e.passkeys[0];
    assert!(k.sign_in_accepted && !k.registration_accepted, "{k:?}");
    assert_eq!(k.profiles[0].reason, Some("attestation_required"));
    let e = app::policy::explain(&h.store, app::providers::shipped(), "carol", Vec::new())
        .await
        .unwrap();
    let fido2 = e.methods.iter().find(|m| m.method == "fido2").unwrap();
    assert_eq!(
        (fido2.scope, fido2.excluded_by.as_deref()),
        ("excluded", Some("contractors"))
    );

    // A change from a version that is no longer current is refused; a dry run and a
    // refused document change nothing; every stored change is audited.
    let stale = app::policy::apply(&h.store, p.clone(), Some(1), false, "test", now()).await;
    assert!(
        matches!(stale, Err(AppError::Stale { current: 2 })),
        "{stale:?}"
    );
    let mut bad = p.clone();
    bad.fido2.include_targets[0].id = "no-such-group".into();
    let refused = app::policy::apply(&h.store, bad, None, false, "test", now()).await;
    let Err(AppError::Policy(r)) = refused else {
        panic!("{refused:?}")
    };
    assert_eq!(r.field, "fido2.includeTargets[0].id");
    let dry = app::policy::apply(
        &h.store,
        MethodsPolicy::default(),
        None,
        true,
        "test",
        now(),
    )
    .await
    .unwrap();
    assert!(dry.dry_run && !dry.changes.is_empty());
    assert_eq!(h.store.policy_version("methods").await.unwrap(), 2);
    let audited = h
        .store
        .audit_log(1000)
        .await
        .unwrap()
        .iter()
        .filter(|r| r.action == "policy.updated")
        .count();
    assert_eq!(audited, 2);
}

on_both_stores!(profiles_enforced);

fn aaguid(s: &str) -> [u8; 16] {
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

const HELLO: &str = "08987058-cadc-4b81-b6e1-30de50dcbe96";
const HELLO_OTHER: &str = "9ddd1817-af5a-4672-a2b9-3e3dd95000a9";
const GOOGLE: &str = "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4";

async fn set_keys(h: &Harness, rule: app::policy_edits::KeyRule) -> i64 {
    let input = app::policy_edits::ProfileInput {
        keys: Some(rule),
        ..Default::default()
    };
    h.change_default_profile(input).await.unwrap().version
}

/// A key restriction written with provider names: registration and sign-in accepted or
/// refused by the AAGUIDs the name stands for, names shown back to people.
async fn providers_by_name(db: Db) {
    use app::policy_edits::KeyRule;
    let Some(h) = start(db, "policy::providers_by_name").await else {
        return;
    };
    let dana = h.onboard_user("dana").await;
    let mut hello = Authenticator::new(aaguid(HELLO));
    assert_eq!(
        h.register(&dana, &mut hello, &Overrides::default())
            .await
            .status,
        200
    );
    let erin = h.onboard_user("erin").await;
    let mut google = Authenticator::synced(aaguid(GOOGLE));
    assert_eq!(
        h.register(&erin, &mut google, &Overrides::default())
            .await
            .status,
        200
    );

    // Allow "Windows Hello": stored as every AAGUID of that name.
    let allow = KeyRule::Allow {
        providers: vec!["Windows Hello".into()],
        aaguids: vec![],
    };
    assert_eq!(set_keys(&h, allow).await, 1);
    let stored = app::policy::load(&h.store).await.unwrap().policy;
    let keys = &stored.profile("default").unwrap().key_restrictions;
    assert!(keys.is_enforced && keys.aa_guids.iter().any(|a| a == HELLO_OTHER));
    assert!(keys.aa_guids.iter().all(|a| a != GOOGLE));
    until_code(&h, &mut google, "erin", "passkey_model_not_allowed").await;
    until_code(&h, &mut hello, "dana", "ok").await;
    // Another Windows Hello AAGUID registers; a Google one does not.
    let mut hello2 = Authenticator::new(aaguid(HELLO_OTHER));
    let r = h.register(&dana, &mut hello2, &Overrides::default()).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let mut google2 = Authenticator::synced(aaguid(GOOGLE));
    let r = h.register(&erin, &mut google2, &Overrides::default()).await;
    assert_eq!((r.status, r.code()), (403, "passkey_model_not_allowed"));

    // Block "Google Password Manager" instead: the roles swap for Erin only.
    let block = KeyRule::Block {
        providers: vec!["google password manager".into()],
        aaguids: vec![],
    };
    assert_eq!(set_keys(&h, block).await, 2);
    until_code(&h, &mut google, "erin", "passkey_model_blocked").await;
    until_code(&h, &mut hello2, "dana", "ok").await;

    // An unknown name changes nothing.
    let unknown = KeyRule::Allow {
        providers: vec!["Windows".into()],
        aaguids: vec![],
    };
    let r = h
        .change_default_profile(app::policy_edits::ProfileInput {
            keys: Some(unknown),
            ..Default::default()
        })
        .await;
    assert_eq!(r.unwrap_err().code(), "unknown_provider");
    assert_eq!(h.store.policy_version("methods").await.unwrap(), 2);

    // Names wherever the AAGUID appears: My security, the user's record, the explanation.
    let (_, page) = h.get_html(&dana, "/my/security").await;
    assert!(
        page.contains("<span class=\"provider\">Windows Hello</span>"),
        "{page}"
    );
    let (_, page) = h.get_html(&erin, "/my/security").await;
    assert!(
        page.contains("Google Password Manager") && page.contains("passkey_model_blocked"),
        "{page}"
    );
    let detail = app::directory::show_user(&h.store, app::providers::shipped(), "erin", now())
        .await
        .unwrap();
    assert_eq!(
        detail.passkeys[0].provider_name.as_deref(),
        Some("Google Password Manager")
    );
    let e = app::policy::explain(&h.store, app::providers::shipped(), "erin", Vec::new())
        .await
        .unwrap();
    assert_eq!(
        e.passkeys[0].provider_name.as_deref(),
        Some("Google Password Manager")
    );
    assert_eq!(e.passkeys[0].sign_in_reason, Some("passkey_model_blocked"));
}

on_both_stores!(providers_by_name);

/// Attestation enforced at registration against the anchors an administrator
/// configured: a packed statement chaining to one is attested and accepted, one chaining
/// elsewhere or no statement at all is refused, and what each showed is recorded.
async fn attestation_enforced(db: Db) {
    use app::policy_edits::ProfileInput;
    use keyfort_core::policy::AttestationEnforcement;
    use keyfort_softauthn::TestCa;
    let ca = TestCa::new("Keyfort test vendor root").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("anchors.pem");
    std::fs::write(&file, ca.pem()).unwrap();
    let settings = [
        ("KEYFORT_THROTTLE_PASS_PER_IP_PER_MINUTE", "100000"),
        ("KEYFORT_THROTTLE_SIGNIN_PER_IP_PER_MINUTE", "100000"),
        ("KEYFORT_ATTESTATION_CA_FILE", file.to_str().unwrap()),
    ];
    let Some(h) = support::inproc::start_with(db, "policy::attestation_enforced", &settings).await
    else {
        return;
    };
    let input = ProfileInput {
        attestation_enforcement: Some(AttestationEnforcement::RegistrationOnly),
        ..Default::default()
    };
    h.change_default_profile(input).await.unwrap();
    let frank = h.onboard_user("frank").await;
    // The node reads the new policy within its poll interval: wait for the refusal of an
    // unattested passkey, which is the first effect of the change.
    let start = Instant::now();
    loop {
        let mut plain = Authenticator::new(YUBIKEY);
        let r = h.register(&frank, &mut plain, &Overrides::default()).await;
        if r.status == 403 {
            assert_eq!(r.code(), "attestation_required");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "{:?}", r.body);
        // Registered before the policy reached this node: remove it again.
        let id = r.body["id"].as_str().unwrap().to_string();
        let frank_id = h.store.user_by_username("frank").await.unwrap().unwrap().id;
        h.store
            .delete_passkey(&frank_id, &id, "frank", "test", now())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut stranger = Authenticator::new(YUBIKEY).attested_by(
        TestCa::new("Unknown vendor")
            .unwrap()
            .attestation(YUBIKEY)
            .unwrap(),
    );
    let r = h
        .register(&frank, &mut stranger, &Overrides::default())
        .await;
    assert_eq!((r.status, r.code()), (403, "attestation_required"));
    let mut forged = Authenticator::new(YUBIKEY).attested_by(ca.attestation(YUBIKEY).unwrap());
    forged.forge_attestation = true;
    let r = h.register(&frank, &mut forged, &Overrides::default()).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    let mut attested = Authenticator::new(YUBIKEY).attested_by(ca.attestation(YUBIKEY).unwrap());
    let r = h
        .register(&frank, &mut attested, &Overrides::default())
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    until_code(&h, &mut attested, "frank", "ok").await;

    // Only the accepted passkey was stored, with what its attestation showed.
    let detail = app::directory::show_user(&h.store, app::providers::shipped(), "frank", now())
        .await
        .unwrap();
    assert_eq!(detail.passkeys.len(), 1, "{:?}", detail.passkeys);
    let k = &detail.passkeys[0];
    assert!(k.attestation_verified);
    let a = k.attestation.as_ref().unwrap();
    assert_eq!(
        (a.level.as_str(), a.not_attested_reason.as_deref()),
        ("attested", None)
    );
    assert_eq!(a.certificates.len(), 1);
    let e = app::policy::explain(&h.store, app::providers::shipped(), "frank", Vec::new())
        .await
        .unwrap();
    assert!(e.passkeys[0].registration_accepted && e.passkeys[0].attested);
    let audited = h.store.audit_log(100).await.unwrap();
    assert!(
        audited.iter().any(|r| r.action == "passkey.registered"
            && r.after
                .as_deref()
                .is_some_and(|a| a.contains("\"level\":\"attested\""))),
        "{audited:?}"
    );
    // The record goes with its passkey.
    let frank_id = h.store.user_by_username("frank").await.unwrap().unwrap().id;
    h.store
        .delete_passkey(&frank_id, &k.id, "frank", "test", now())
        .await
        .unwrap();
    assert!(
        h.store
            .attestations_of_user(&frank_id)
            .await
            .unwrap()
            .is_empty()
    );
}

on_both_stores!(attestation_enforced);

/// Signs in with a pass until the answer's code is `code` (the server re-reads the
/// policy on its own). Waits on the sign-in choices first, which no throttle counts, so
/// the pass attempts stay few.
async fn until_pass_code(h: &Harness, user: &str, pass: &str, code: &str) {
    let start = Instant::now();
    let pass_offered = code.is_empty();
    loop {
        let r = h
            .post(
                &client(),
                "/api/signin/choices",
                &serde_json::json!({ "username": user }),
            )
            .await;
        if (r.body["preferred"] == "temporaryAccessPass") == pass_offered {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{:?}", r.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    loop {
        let r = h.tap_signin(&client(), user, pass).await;
        let got = if r.status == 200 { "" } else { r.code() };
        if got == code {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{:?}", r.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Passes are issued on the policy's terms (its lifetime range, length and one-time
/// rule), only to users the method applies to, and a pass the policy stops allowing
/// cannot be used: the holder of the right code is told why, anyone else is not.
async fn passes_follow_the_policy(db: Db) {
    let Some(h) = start(db, "policy::passes").await else {
        return;
    };
    let issue = async |user: &str, lifetime: Option<i64>, one_time: bool| {
        app::passes::issue_pass(&h.store, user, lifetime, one_time, "test", now()).await
    };
    for name in ["alice", "bob"] {
        h.add_user(name).await;
    }
    // The default policy: 60 to 480 minutes, 60 by default, eight characters.
    let pass = issue("alice", None, false).await.unwrap();
    assert_eq!((pass.lifetime_in_minutes, pass.is_usable_once), (60, false));
    assert_eq!(pass.temporary_access_pass.len(), 8);
    for bad in [30, 481] {
        let e = issue("alice", Some(bad), false).await.unwrap_err();
        assert_eq!(e.code(), "invalid_lifetime");
        assert!(e.to_string().contains("between 60 and 480"), "{e}");
    }

    // Contractors excluded; every pass one-time, twelve characters, from ten minutes.
    let contractors = group(&h.store, "contractors", &["bob"]).await;
    let mut p = MethodsPolicy::default();
    let t = &mut p.temporary_access_pass;
    t.exclude_targets = vec![ExcludeTarget {
        id: contractors.clone(),
    }];
    t.is_usable_once = true;
    t.default_length = 12;
    t.minimum_lifetime_in_minutes = 10;
    apply(&h.store, p.clone()).await;
    let pass = issue("alice", Some(10), false).await.unwrap();
    assert_eq!((pass.lifetime_in_minutes, pass.is_usable_once), (10, true));
    assert_eq!(pass.temporary_access_pass.len(), 12);
    let e = issue("bob", None, false).await.unwrap_err();
    assert_eq!(e.code(), "method_not_allowed_for_user");
    assert!(e.to_string().contains(&contractors), "{e}");
    let shown = app::directory::show_user(&h.store, app::providers::shipped(), "bob", now())
        .await
        .unwrap();
    assert!(shown.temporary_access_pass.is_none(), "nothing issued");

    // Alice's pass works until she joins the excluded group; then the right code is
    // told why, a wrong one only that it does not match, and the listing says so.
    let alice_pass = pass.temporary_access_pass;
    app::directory::add_member(&h.store, "contractors", "alice", "test", now())
        .await
        .unwrap();
    until_pass_code(&h, "alice", &alice_pass, "pass_disabled_by_policy").await;
    let r = h.tap_signin(&client(), "alice", "wrongwrongxx").await;
    assert_eq!((r.status, r.code()), (401, "invalid_credentials"));
    let shown = app::directory::show_user(&h.store, app::providers::shipped(), "alice", now())
        .await
        .unwrap();
    let listed = shown.temporary_access_pass.unwrap();
    assert!(!listed.is_usable);
    assert_eq!(
        serde_json::to_value(listed.method_usability_reason).unwrap(),
        "disabledByPolicy"
    );

    // The method disabled: no pass for anyone.
    p.temporary_access_pass.state = keyfort_core::policy::MethodState::Disabled;
    apply(&h.store, p).await;
    let e = issue("alice", None, false).await.unwrap_err();
    assert_eq!(e.code(), "method_disabled");
}

on_both_stores!(passes_follow_the_policy);
