//! The store's guarantees under concurrency, on SQLite (and PostgreSQL when
//! `KEYFORT_TEST_POSTGRES` names a server the test may create databases on).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a failing test stops loudly

use keyfort_core::session::SignInMethod;
use keyfort_store::{
    CeremonyRecord, ClientRecord, CodeRecord, GrantRecord, Issuance, NewUser, PassRecord,
    PasskeyRecord, Recorded, RefreshRecord, RevokeReason, SessionRecord, SignInEvent, SignInWrite,
    Spend, SpentCeremony, Store, StoreError, Taken, UserQuery,
};
use sqlx::Executor;

async fn sqlite() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    (Store::open(&url).await.unwrap(), dir)
}

async fn postgres() -> Option<Store> {
    let admin = std::env::var("KEYFORT_TEST_POSTGRES")
        .ok()
        .filter(|s| !s.is_empty())?;
    sqlx::any::install_default_drivers();
    let name = format!(
        "keyfort_test_store_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin)
        .await
        .unwrap();
    conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .unwrap();
    let after = admin.find("://").unwrap() + 3;
    let base = match admin[after..].find('/') {
        Some(j) => &admin[..after + j],
        None => admin.as_str(),
    };
    Some(Store::open(&format!("{base}/{name}")).await.unwrap())
}

async fn user(store: &Store, name: &str) -> keyfort_store::User {
    let new = NewUser {
        // A UUID per name (FNV-1a, 48 bits).
        id: format!(
            "00000000-0000-4000-8000-{:012x}",
            name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            }) & 0xffff_ffff_ffff
        ),
        username: name.into(),
        display_name: name.into(),
        user_type: keyfort_core::directory::UserType::Member,
        ..NewUser::default()
    };
    store.create_user(&new, "test", 1).await.unwrap()
}

fn ceremony(id: &str, expires_at: i64) -> CeremonyRecord {
    CeremonyRecord {
        id: id.into(),
        kind: "authentication".into(),
        user_id: None,
        session_id: None,
        state: "{}".into(),
        created_at: 0,
        expires_at,
    }
}

async fn ceremonies_are_taken_once(store: &Store) {
    store.put_ceremony(&ceremony("c1", 1_000)).await.unwrap();
    let mut racers = Vec::new();
    for _ in 0..8 {
        let s = store.clone();
        racers.push(tokio::spawn(async move {
            s.take_ceremony("c1", "authentication", 10).await.unwrap()
        }));
    }
    let mut live = 0;
    for r in racers {
        if matches!(r.await.unwrap(), Taken::Live(_)) {
            live += 1;
        }
    }
    assert_eq!(live, 1, "exactly one racer gets the challenge");
    store.put_ceremony(&ceremony("c2", 1_000)).await.unwrap();
    assert_eq!(
        store.take_ceremony("c2", "registration", 10).await.unwrap(),
        Taken::Unknown,
        "kind must match"
    );
    assert_eq!(
        store
            .take_ceremony("c2", "authentication", 10)
            .await
            .unwrap(),
        Taken::Unknown,
        "and it is gone"
    );
    store.put_ceremony(&ceremony("c3", 1_000)).await.unwrap();
    assert_eq!(
        store
            .take_ceremony("c3", "authentication", 1_000)
            .await
            .unwrap(),
        Taken::Expired
    );
    store.put_ceremony(&ceremony("c4", 5)).await.unwrap();
    assert_eq!(store.purge_expired(10).await.unwrap(), 1);
}

/// Spent ceremonies are single-use, and the purge takes a backlog larger than one chunk
/// while sparing what has not expired.
async fn purge_runs_in_chunks(store: &Store) {
    let spent = |id: String, expires_at| SpentCeremony { id, expires_at };
    let spends: Vec<_> = (0..1_234)
        .map(|i| {
            let store = store.clone();
            let c = spent(format!("old{i}"), 100);
            tokio::spawn(async move { store.spend_ceremony(&c).await.unwrap() })
        })
        .collect();
    for t in spends {
        assert!(t.await.unwrap(), "spent the first time");
    }
    assert!(
        !store
            .spend_ceremony(&spent("old7".into(), 100))
            .await
            .unwrap(),
        "and only once"
    );
    let live = spent("live".into(), 10_000);
    assert!(store.spend_ceremony(&live).await.unwrap());
    assert_eq!(store.purge_expired(5_000).await.unwrap(), 1_234);
    assert!(!store.ceremony_spent("old1233").await.unwrap());
    assert!(store.ceremony_spent("live").await.unwrap());
    assert_eq!(store.purge_expired(5_000).await.unwrap(), 0);
}

/// A passkey session of `user_id`, signed in at 1,000.
fn passkey_session(id: &str, token_hash: &str, user_id: &str) -> SessionRecord {
    SessionRecord {
        id: id.into(),
        token_hash: token_hash.into(),
        user_id: user_id.into(),
        method: SignInMethod::Passkey,
        passkey_id: None,
        auth_time: 1_000,
        created_at: 1_000,
        expires_at: 10_000_000,
        last_seen_at: 1_000,
        pass_one_time: false,
        pass_expires_at: None,
        ip: None,
        user_agent: None,
    }
}

/// The sign-in log row of a successful passkey sign-in at 1,000.
fn signed_in_event(user_id: &str) -> SignInEvent {
    SignInEvent {
        at: 1_000,
        user_id: Some(user_id.into()),
        method: "passkey",
        outcome: "success",
        reason: "ok",
        ..SignInEvent::default()
    }
}

/// A confidential client `app`, for grants to hang off.
async fn app_client(store: &Store) {
    store
        .create_client(
            &ClientRecord {
                id: "app".into(),
                name: "App".into(),
                secret_hash: None,
                public_client: false,
                redirect_uris: "[]".into(),
                post_logout_redirect_uris: "[]".into(),
                grant_types: "[]".into(),
                auth_method: "client_secret_basic".into(),
                jwks: None,
                id_token_alg: "ES256".into(),
                groups_claim: false,
                created_at: 0,
                secret_rotated_at: None,
            },
            "test",
        )
        .await
        .unwrap();
}

/// A sign-in started for an authorization request commits the grant and code that answer
/// it with itself: a replayed sign-in writes neither, and a request answered before leaves
/// the sign-in standing but writes no second grant.
async fn signin_commits_its_answer(store: &Store) {
    app_client(store).await;
    let u = user(store, "answering").await;
    let session = |n: u32| {
        passkey_session(
            &format!("0190f0e0-0000-7000-8000-00000000010{n}"),
            &format!("answer-h{n}"),
            &u.id,
        )
    };
    let grant = |n: u32| GrantRecord {
        id: format!("answer-grant-{n}"),
        client_id: "app".into(),
        user_id: Some(u.id.clone()),
        session_id: Some(session(n).id),
        scope: "openid".into(),
        auth_time: Some(1_000),
        acr: None,
        amr: "[]".into(),
        nonce: None,
        not_after: None,
        created_at: 1_000,
        revoked_at: None,
    };
    let code = |n: u32| CodeRecord {
        code_hash: format!("answer-code-{n}"),
        grant_id: grant(n).id,
        redirect_uri: "https://app.example/cb".into(),
        code_challenge: None,
        created_at: 1_000,
        expires_at: 61_000,
        used_at: None,
    };
    let spent = |id: &str| SpentCeremony {
        id: id.into(),
        expires_at: 300_000,
    };
    let event = signed_in_event(&u.id);
    let (ceremony, request) = (spent("ceremony-1"), spent("request-1"));
    let signin = |n: u32, c: &SpentCeremony| {
        let (s, g, k, r) = (session(n), grant(n), code(n), request.clone());
        let (event, c) = (event.clone(), c.clone());
        async move {
            store
                .record_signin_answering(
                    SignInWrite {
                        session: &s,
                        event: &event,
                        passkey: None,
                        ceremony: Some(&c),
                        pass: None,
                    },
                    (&g, &k, &r),
                )
                .await
                .unwrap()
        }
    };
    assert_eq!(signin(1, &ceremony).await, (Recorded::SignedIn, true));
    assert!(
        store
            .session_with_user("answer-h1")
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.grant("answer-grant-1").await.unwrap(), Some(grant(1)));
    assert_eq!(store.code("answer-code-1").await.unwrap(), Some(code(1)));
    // The same ceremony again: nothing written.
    assert_eq!(signin(2, &ceremony).await, (Recorded::Replayed, false));
    assert!(
        store
            .session_with_user("answer-h2")
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.grant("answer-grant-2").await.unwrap().is_none());
    // A fresh ceremony for a request answered before: signed in, no second answer.
    assert_eq!(
        signin(3, &spent("ceremony-3")).await,
        (Recorded::SignedIn, false)
    );
    assert!(
        store
            .session_with_user("answer-h3")
            .await
            .unwrap()
            .is_some()
    );
    assert!(store.grant("answer-grant-3").await.unwrap().is_none());
    assert!(store.code("answer-code-3").await.unwrap().is_none());
}

/// A grant goes once nothing issued from it is left and it is past the grace period;
/// one with a live refresh token, or a young one, stays.
async fn grants_go_with_their_last_token(store: &Store) {
    app_client(store).await;
    let hour = 3_600_000;
    let issue = |id: &'static str, created_at: i64, refresh_expires: Option<i64>| async move {
        let grant = GrantRecord {
            id: id.into(),
            client_id: "app".into(),
            user_id: None,
            session_id: None,
            scope: "".into(),
            auth_time: None,
            acr: None,
            amr: "[]".into(),
            nonce: None,
            not_after: None,
            created_at,
            revoked_at: None,
        };
        let refresh = refresh_expires.map(|expires_at| RefreshRecord {
            token_hash: format!("r-{id}"),
            grant_id: id.into(),
            created_at,
            expires_at,
            used_at: None,
        });
        let jti = format!("a-{id}");
        assert!(
            store
                .issue(&Issuance {
                    spend: Spend::Nothing,
                    new_grant: Some(&grant),
                    access: Some((&jti, id, created_at + 5 * 60_000)),
                    refresh: refresh.as_ref(),
                    now: created_at,
                })
                .await
                .unwrap()
        );
    };
    let now = 10 * hour;
    issue("spent", now - 3 * hour, None).await;
    issue("refreshing", now - 3 * hour, Some(now + hour)).await;
    issue("young", now - 30 * 60_000, None).await;
    // Three expired access-token records, then the one grant past the grace period that
    // has nothing left ("young" has nothing left either, but is inside the grace period).
    assert_eq!(store.purge_expired(now).await.unwrap(), 4);
    assert!(store.grant("spent").await.unwrap().is_none());
    assert!(store.grant("refreshing").await.unwrap().is_some());
    assert!(store.grant("young").await.unwrap().is_some());
    assert!(store.refresh_token("r-refreshing").await.unwrap().is_some());

    // A refresh token comes with its grant and the grant's user in one read; one whose grant
    // has no user, or an unknown one, reads as nothing.
    let rita = user(store, "rita").await;
    let grant = GrantRecord {
        id: "with-user".into(),
        client_id: "app".into(),
        user_id: Some(rita.id.clone()),
        session_id: None,
        scope: "openid".into(),
        auth_time: Some(now),
        acr: None,
        amr: "[]".into(),
        nonce: Some("n".into()),
        not_after: None,
        created_at: now,
        revoked_at: None,
    };
    let refresh = RefreshRecord {
        token_hash: "r-with-user".into(),
        grant_id: "with-user".into(),
        created_at: now,
        expires_at: now + hour,
        used_at: None,
    };
    let issuance = Issuance {
        spend: Spend::Nothing,
        new_grant: Some(&grant),
        access: None,
        refresh: Some(&refresh),
        now,
    };
    assert!(store.issue(&issuance).await.unwrap());
    let (r, g, u) = store
        .refresh_token_with_grant("r-with-user")
        .await
        .unwrap()
        .expect("the token, its grant and its user");
    assert_eq!((r, g, u.id), (refresh, grant, rita.id));
    assert!(
        store
            .refresh_token_with_grant("r-refreshing")
            .await
            .unwrap()
            .is_none(),
        "its grant has no user"
    );
    assert!(
        store
            .refresh_token_with_grant("r-unknown")
            .await
            .unwrap()
            .is_none()
    );
}

async fn one_time_pass_is_spent_once(store: &Store) {
    let u = user(store, "alice").await;
    let pass = PassRecord {
        id: "p1".into(),
        user_id: u.id.clone(),
        code_hash: "h".into(),
        created_at: 1,
        start_at: 1,
        lifetime_minutes: 60,
        one_time: true,
        used_at: None,
        failed_attempts: 0,
        created_by: "test".into(),
    };
    assert!(!store.put_pass(&pass, "alice", "test").await.unwrap());
    // A sign-in whose session cannot be written (its id is taken) fails and leaves the
    // pass unspent: the pass is spent in the sign-in's own commit.
    let taken = pass_session("pass-s0", "pass-h0", &u.id);
    let event = pass_event(&u.id);
    assert_eq!(
        store.record_signin(bare(&taken, &event)).await.unwrap(),
        Recorded::SignedIn
    );
    let clash = pass_session("pass-s0", "pass-h-other", &u.id);
    assert!(
        store
            .record_signin(with_pass(&clash, &event, "p1"))
            .await
            .is_err()
    );
    let kept = store.pass_of_user(&u.id).await.unwrap().unwrap();
    assert_eq!(
        kept.used_at, None,
        "a failed sign-in does not burn the pass"
    );
    // Racing sign-ins with the one-time pass: exactly one session, one log row.
    let logged_before = store.signin_log(100).await.unwrap().len();
    let mut racers = Vec::new();
    for n in 1..=8 {
        let s = store.clone();
        let (session, event) = (
            pass_session(&format!("pass-s{n}"), &format!("pass-h{n}"), &u.id),
            pass_event(&u.id),
        );
        racers.push(tokio::spawn(async move {
            s.record_signin(with_pass(&session, &event, "p1"))
                .await
                .unwrap()
        }));
    }
    let mut won = 0;
    for r in racers {
        match r.await.unwrap() {
            Recorded::SignedIn => won += 1,
            other => assert_eq!(other, Recorded::PassSpent),
        }
    }
    assert_eq!(won, 1);
    let sessions = (1..=8).map(|n| format!("pass-h{n}"));
    let mut found = 0;
    for h in sessions {
        found += usize::from(store.session_with_user(&h).await.unwrap().is_some());
    }
    assert_eq!(found, 1, "the losers wrote no session");
    let logged = store.signin_log(100).await.unwrap().len();
    assert_eq!(logged, logged_before + 1, "the losers wrote no log row");
    let spent = store.pass_of_user(&u.id).await.unwrap().unwrap();
    assert_eq!(spent.used_at, Some(2_000));
    // A new pass replaces the old one.
    let replacement = PassRecord {
        id: "p2".into(),
        ..pass
    };
    assert!(store.put_pass(&replacement, "alice", "test").await.unwrap());
    assert_eq!(store.pass_of_user(&u.id).await.unwrap().unwrap().id, "p2");
    // A wrong code is counted in the commit of its refusal's log row.
    let refused = SignInEvent {
        outcome: "failure",
        reason: "invalid_credentials",
        ..pass_event(&u.id)
    };
    store.log_pass_failure(&refused, "p2").await.unwrap();
    assert_eq!(
        store
            .pass_of_user(&u.id)
            .await
            .unwrap()
            .unwrap()
            .failed_attempts,
        1
    );
    let log = store.signin_log(1).await.unwrap();
    assert_eq!(log[0].reason, "invalid_credentials");
    let audit = store.audit_log(10).await.unwrap();
    assert_eq!(audit.iter().filter(|a| a.action == "tap.issued").count(), 2);
    assert!(
        audit
            .iter()
            .all(|a| !a.after.as_deref().unwrap_or("").contains("\"h\"")),
        "no hash in the audit log"
    );
}

/// A sign-in's write with no passkey, ceremony or pass.
fn bare<'a>(session: &'a SessionRecord, event: &'a SignInEvent) -> SignInWrite<'a> {
    SignInWrite {
        session,
        event,
        passkey: None,
        ceremony: None,
        pass: None,
    }
}

fn with_pass<'a>(
    session: &'a SessionRecord,
    event: &'a SignInEvent,
    pass: &'a str,
) -> SignInWrite<'a> {
    SignInWrite {
        pass: Some(pass),
        ..bare(session, event)
    }
}

fn pass_session(id: &str, token_hash: &str, user_id: &str) -> SessionRecord {
    SessionRecord {
        method: SignInMethod::TemporaryAccessPass,
        auth_time: 2_000,
        pass_one_time: true,
        ..passkey_session(id, token_hash, user_id)
    }
}

fn pass_event(user_id: &str) -> SignInEvent {
    SignInEvent {
        at: 2_000,
        method: "temporary_access_pass",
        ..signed_in_event(user_id)
    }
}

async fn conflicts_are_named(store: &Store) {
    user(store, "bob").await;
    let dup = NewUser {
        id: "another".into(),
        username: "bob".into(),
        display_name: "B".into(),
        user_type: keyfort_core::directory::UserType::Member,
        ..NewUser::default()
    };
    assert!(matches!(
        store.create_user(&dup, "test", 1).await,
        Err(StoreError::Conflict("user"))
    ));
    assert!(matches!(
        store.set_user_enabled("nobody", false, "test", 1).await,
        Err(StoreError::NotFound("user"))
    ));
    let audit = store.audit_log(10).await.unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|a| a.action == "user.created" && a.target.as_deref() == Some("bob"))
            .count(),
        1,
        "a refused change writes no audit row"
    );
}

async fn bulk_import_crosses_batches(store: &Store) {
    let users: Vec<NewUser> = (0..2_500)
        .map(|i| NewUser {
            id: format!("00000000-0000-4000-9000-{i:012}"),
            username: format!("bulk{i:05}"),
            display_name: format!("Bulk {i}"),
            user_type: keyfort_core::directory::UserType::Member,
            ..NewUser::default()
        })
        .collect();
    store.import_users(&users, "test", 5).await.unwrap();
    assert_eq!(store.count_users().await.unwrap(), 2_500);
    assert_eq!(
        store
            .user_by_username("bulk02499")
            .await
            .unwrap()
            .unwrap()
            .display_name,
        "Bulk 2499"
    );
    // A duplicate anywhere rolls the whole import back.
    let again = vec![
        NewUser {
            id: "fresh".into(),
            username: "fresh".into(),
            display_name: "F".into(),
            user_type: keyfort_core::directory::UserType::Member,
            ..NewUser::default()
        },
        users[7].clone(),
    ];
    assert!(matches!(
        store.import_users(&again, "test", 6).await,
        Err(StoreError::Conflict("user"))
    ));
    assert!(store.user_by_username("fresh").await.unwrap().is_none());
    let audit = store.audit_log(10).await.unwrap();
    assert_eq!(
        audit.iter().filter(|a| a.action == "user.imported").count(),
        1,
        "one audit row per import"
    );

    // Passkeys: two for each of the first 600 users, then a batch with one credential id
    // already taken, which imports nothing.
    let key = |i: usize, k: usize| PasskeyRecord {
        id: format!("key-{i}-{k}"),
        user_id: users[i].id.clone(),
        credential_id: format!("cred-{i}-{k}"),
        credential: "{}".into(),
        aaguid: "00000000-0000-0000-0000-000000000000".into(),
        sign_count: 0,
        backup_eligible: true,
        backup_state: true,
        passkey_type: keyfort_core::passkey::PasskeyType::Synced,
        attestation_format: "none".into(),
        attested: false,
        transports: "[]".into(),
        display_name: format!("Key {k}"),
        created_at: 5,
        last_used_at: None,
        possibly_cloned: false,
    };
    let keys: Vec<PasskeyRecord> = (0..600).flat_map(|i| [key(i, 1), key(i, 2)]).collect();
    store.import_passkeys(&keys, "test", 7).await.unwrap();
    let of_last = store.passkeys_of_user(&users[599].id).await.unwrap();
    assert_eq!(of_last.len(), 2);
    assert_eq!(of_last[0], keys[1198]);
    let mut clash = vec![key(700, 1), key(0, 2)];
    clash[1].id = "key-other".into();
    assert!(matches!(
        store.import_passkeys(&clash, "test", 8).await,
        Err(StoreError::Conflict("credential"))
    ));
    assert!(
        store
            .passkeys_of_user(&users[700].id)
            .await
            .unwrap()
            .is_empty()
    );
    let audit = store.audit_log(10).await.unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|a| a.action == "passkey.imported")
            .count(),
        1,
        "a refused import writes no audit row"
    );
}

/// Every revocation commits with its audit row; a second one changes and audits nothing.
async fn revocations_are_audited_with_their_change(store: &Store) {
    app_client(store).await;
    let u = user(store, "revoked").await;
    let session = passkey_session("rev-session", "rev-h", &u.id);
    let event = signed_in_event(&u.id);
    assert_eq!(
        store.record_signin(bare(&session, &event)).await.unwrap(),
        Recorded::SignedIn
    );
    let grant = |id: &str| GrantRecord {
        id: id.into(),
        client_id: "app".into(),
        user_id: Some(u.id.clone()),
        session_id: Some("rev-session".into()),
        scope: "openid".into(),
        auth_time: Some(1_000),
        acr: None,
        amr: "[]".into(),
        nonce: None,
        not_after: None,
        created_at: 1_000,
        revoked_at: None,
    };
    for id in ["rev-a", "rev-b", "rev-c"] {
        let jti = format!("jti-{id}");
        let g = grant(id);
        let issued = store
            .issue(&Issuance {
                spend: Spend::Nothing,
                new_grant: Some(&g),
                access: Some((&jti, id, 600_000)),
                refresh: None,
                now: 1_000,
            })
            .await
            .unwrap();
        assert!(issued);
    }
    let count = |audit: &[keyfort_store::AuditRow], action: &str| {
        audit.iter().filter(|a| a.action == action).count()
    };
    assert!(
        store
            .revoke_grant(&grant("rev-a"), RevokeReason::CodeReplay, 2_000)
            .await
            .unwrap()
    );
    assert!(
        !store
            .revoke_grant(&grant("rev-a"), RevokeReason::RefreshReuse, 2_001)
            .await
            .unwrap(),
        "revoked before: nothing written"
    );
    assert!(
        store
            .revoke_access_token("jti-rev-b", "app", 2_000)
            .await
            .unwrap()
    );
    assert!(
        !store
            .revoke_access_token("jti-rev-b", "app", 2_001)
            .await
            .unwrap()
    );
    // Sign-out revokes what is left of the session's grants (b and c, not a again).
    assert_eq!(
        store
            .end_session("rev-session", &u.id, true, 3_000)
            .await
            .unwrap(),
        2
    );
    assert!(store.session_with_user("rev-h").await.unwrap().is_none());
    let audit = store.audit_log(50).await.unwrap();
    assert_eq!(count(&audit, "grant.revoked_code_replay"), 1);
    assert_eq!(count(&audit, "grant.revoked_refresh_reuse"), 0);
    assert_eq!(count(&audit, "access_token.revoked_by_client"), 1);
    let ended: Vec<_> = audit
        .iter()
        .filter(|a| a.action == "session.ended")
        .collect();
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].target.as_deref(), Some("rev-session"));
    assert!(
        ended[0]
            .after
            .as_deref()
            .unwrap_or("")
            .contains("\"grantsRevoked\":2")
    );
    for id in ["rev-a", "rev-b", "rev-c"] {
        assert!(store.grant(id).await.unwrap().unwrap().revoked_at.is_some());
    }
}

/// A change to a user moves its version and records when; reading it changes nothing.
async fn changes_move_the_row_version(store: &Store) {
    user(store, "versioned").await;
    let v = store.user_version("versioned").await.unwrap().unwrap();
    assert_eq!((v.version, v.updated_at), (1, None));
    store
        .set_user_enabled("versioned", false, "test", 5_000)
        .await
        .unwrap();
    let v = store.user_version("versioned").await.unwrap().unwrap();
    assert_eq!((v.version, v.updated_at), (2, Some(5_000)));
    store
        .set_user_enabled("versioned", true, "test", 6_000)
        .await
        .unwrap();
    let v = store.user_version("versioned").await.unwrap().unwrap();
    assert_eq!((v.version, v.updated_at), (3, Some(6_000)));
    assert!(store.user_version("nobody").await.unwrap().is_none());
}

/// The sign-in read brings the passkey, its owner and the owner's memberships version,
/// which moves with each membership change (in that change's commit) and with nothing
/// else; a failed change leaves it where it was.
async fn the_signin_read_carries_the_memberships_version(store: &Store) {
    let u = user(store, "member").await;
    let key = PasskeyRecord {
        id: "key-member".into(),
        user_id: u.id.clone(),
        credential_id: "cred-member".into(),
        credential: "{}".into(),
        aaguid: "00000000-0000-0000-0000-000000000000".into(),
        sign_count: 0,
        backup_eligible: false,
        backup_state: false,
        passkey_type: keyfort_core::passkey::PasskeyType::DeviceBound,
        attestation_format: "none".into(),
        attested: false,
        transports: "[]".into(),
        display_name: "Key".into(),
        created_at: 5,
        last_used_at: None,
        possibly_cloned: false,
    };
    store
        .insert_passkey(&key, None, "member", "test", 5)
        .await
        .unwrap();
    let version = || async {
        let f = store
            .passkey_for_signin("cred-member")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (f.passkey, f.user.id.as_str()),
            (key.clone(), u.id.as_str())
        );
        f.memberships_version
    };
    assert_eq!(version().await, 0);
    let g = store
        .create_group("00000000-0000-4000-8000-0000000000a1", "g1", "test", 6)
        .await
        .unwrap();
    assert_eq!(version().await, 0, "a new group is nobody's membership");
    store
        .add_group_member(&g, &u.id, "member", "test", 7)
        .await
        .unwrap();
    assert_eq!(version().await, 1);
    assert!(matches!(
        store.add_group_member(&g, &u.id, "member", "test", 8).await,
        Err(StoreError::Conflict("membership"))
    ));
    assert_eq!(version().await, 1, "a refused change moves nothing");
    store
        .set_user_enabled("member", false, "test", 9)
        .await
        .unwrap();
    assert_eq!(
        version().await,
        1,
        "other changes to the user do not move it"
    );
    assert!(
        store
            .passkey_for_signin("cred-none")
            .await
            .unwrap()
            .is_none()
    );
}

/// A page of users follows the username index from the cursor, filtered.
async fn users_come_a_page_at_a_time(store: &Store) {
    for name in ["pa", "pb", "pc", "q_x", "q%y"] {
        user(store, name).await;
    }
    store
        .set_user_enabled("pb", false, "test", 2_000)
        .await
        .unwrap();
    let page = |after: Option<&str>, limit, enabled, prefix: Option<&str>| {
        let q = UserQuery {
            after: after.map(str::to_string),
            limit,
            enabled,
            username_prefix: prefix.map(str::to_string),
        };
        async move {
            store
                .users_page(&q)
                .await
                .unwrap()
                .into_iter()
                .map(|u| u.username)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(page(None, 2, None, Some("p")).await, ["pa", "pb"]);
    assert_eq!(page(Some("pb"), 2, None, Some("p")).await, ["pc"]);
    assert_eq!(page(None, 10, Some(false), Some("p")).await, ["pb"]);
    assert_eq!(page(None, 10, Some(true), Some("p")).await, ["pa", "pc"]);
    // The prefix is compared as text: no pattern characters.
    assert_eq!(page(None, 10, None, Some("q_")).await, ["q_x"]);
    assert_eq!(page(None, 10, None, Some("q%")).await, ["q%y"]);
}

/// A cookie's session comes back with its user in one read; the idle timer moves at most
/// once a minute, and a touch within the minute is not written.
async fn sessions_come_with_their_user(store: &Store) {
    let u = user(store, "sessionuser").await;
    let s = passkey_session("0190f0e0-0000-7000-8000-000000000001", "h1", &u.id);
    let event = signed_in_event(&u.id);
    let r = store.record_signin(bare(&s, &event)).await.unwrap();
    assert_eq!(r, Recorded::SignedIn);
    let (read, owner) = store.session_with_user("h1").await.unwrap().unwrap();
    assert_eq!(read, s);
    assert_eq!(
        (owner.id.as_str(), owner.username.as_str()),
        (u.id.as_str(), "sessionuser")
    );
    assert_eq!(owner.last_signin_at, Some(1_000));
    assert!(store.session_with_user("h2").await.unwrap().is_none());

    store.touch_session(&read, 30_000).await.unwrap();
    let (read, _) = store.session_with_user("h1").await.unwrap().unwrap();
    assert_eq!(read.last_seen_at, 1_000, "within the minute: not written");
    store.touch_session(&read, 61_000).await.unwrap();
    let (read, _) = store.session_with_user("h1").await.unwrap().unwrap();
    assert_eq!(read.last_seen_at, 61_000);
    // A stale copy (another request already moved it) changes nothing.
    let stale = SessionRecord {
        last_seen_at: 1_000,
        ..read.clone()
    };
    store.touch_session(&stale, 62_000).await.unwrap();
    let (read, _) = store.session_with_user("h1").await.unwrap().unwrap();
    assert_eq!(read.last_seen_at, 61_000);
}

fn import_row(line: u64, username: &str) -> keyfort_store::PasswordImport {
    keyfort_store::PasswordImport {
        line,
        username: username.into(),
        hash: format!("$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW{line}"),
        scheme: "bcrypt".into(),
    }
}

async fn password_imports_are_all_or_nothing(store: &Store) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    assert!(
        !store
            .set_password(&alice.id, "alice", "$argon2id$old", "argon2id", "test", 5)
            .await
            .unwrap()
    );
    // A username no user has rolls the whole import back.
    let rows = vec![
        import_row(1, "alice"),
        import_row(2, "nobody"),
        import_row(3, "bob"),
    ];
    let strict = store
        .import_passwords(rows.clone(), false, "test", 10)
        .await;
    assert!(
        matches!(strict, Err(StoreError::NotFound("user"))),
        "{strict:?}"
    );
    assert_eq!(
        store
            .password_of_user(&alice.id)
            .await
            .unwrap()
            .unwrap()
            .hash,
        "$argon2id$old"
    );
    assert!(store.password_of_user(&bob.id).await.unwrap().is_none());
    let audited = |log: &[keyfort_store::AuditRow], action: &str| {
        log.iter().filter(|r| r.action == action).count()
    };
    assert_eq!(
        audited(&store.audit_log(100).await.unwrap(), "password.imported"),
        0
    );
    // Skipping: the others go in, each audited, the unknown one reported.
    let done = store
        .import_passwords(rows, true, "test", 20)
        .await
        .unwrap();
    assert_eq!((done.added, done.replaced), (1, 1));
    assert_eq!(done.unknown.iter().map(|u| u.line).collect::<Vec<_>>(), [2]);
    let a = store.password_of_user(&alice.id).await.unwrap().unwrap();
    assert_eq!(
        (a.scheme.as_str(), a.source.as_str(), a.created_at),
        ("bcrypt", "imported", 20)
    );
    let log = store.audit_log(100).await.unwrap();
    assert_eq!(audited(&log, "password.imported"), 2);
    assert_eq!(audited(&log, "password.set"), 1);
    assert!(
        log.iter().all(|r| !format!("{r:?}").contains("R9h/cIPz")),
        "no hash in the audit log"
    );
}

macro_rules! on_both {
    ($($name:ident),*) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let (store, _dir) = super::sqlite().await;
                super::$name(&store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match super::postgres().await {
                    Some(store) => super::$name(&store).await,
                    None => eprintln!("SKIPPED store postgres: KEYFORT_TEST_POSTGRES is not set"),
                }
            }
        }
    )*};
}

on_both!(
    ceremonies_are_taken_once,
    one_time_pass_is_spent_once,
    conflicts_are_named,
    bulk_import_crosses_batches,
    purge_runs_in_chunks,
    grants_go_with_their_last_token,
    sessions_come_with_their_user,
    revocations_are_audited_with_their_change,
    changes_move_the_row_version,
    users_come_a_page_at_a_time,
    the_signin_read_carries_the_memberships_version,
    signin_commits_its_answer,
    password_imports_are_all_or_nothing,
    a_rehash_never_overwrites_a_newer_password
);

async fn a_rehash_never_overwrites_a_newer_password(store: &Store) {
    let carol = user(store, "carol").await;
    store
        .set_password(&carol.id, "carol", "$2b$10$imported", "bcrypt", "test", 5)
        .await
        .unwrap();
    // An administrator sets a new password while a sign-in verified the old one.
    store
        .set_password(
            &carol.id,
            "carol",
            "$argon2id$set-meanwhile",
            "argon2id",
            "test",
            6,
        )
        .await
        .unwrap();
    let stale = store
        .rehash_password(&carol.id, "carol", "$2b$10$imported", "$argon2id$rehash", 7)
        .await
        .unwrap();
    assert!(!stale, "the hash verified is no longer the stored one");
    let now = store.password_of_user(&carol.id).await.unwrap().unwrap();
    assert_eq!(now.hash, "$argon2id$set-meanwhile");
    let log = store.audit_log(100).await.unwrap();
    assert!(!log.iter().any(|r| r.action == "password.rehashed"));
    // The stored hash verified: replaced, and audited in the same commit.
    let done = store
        .rehash_password(
            &carol.id,
            "carol",
            "$argon2id$set-meanwhile",
            "$argon2id$rehash",
            8,
        )
        .await
        .unwrap();
    assert!(done);
    let now = store.password_of_user(&carol.id).await.unwrap().unwrap();
    assert_eq!(
        (now.hash.as_str(), now.scheme.as_str()),
        ("$argon2id$rehash", "argon2id")
    );
    let log = store.audit_log(100).await.unwrap();
    let row = log
        .iter()
        .find(|r| r.action == "password.rehashed")
        .unwrap();
    assert_eq!(row.target.as_deref(), Some("carol"));
    let trail = format!("{:?}{:?}", row.before, row.after);
    assert!(!trail.contains('$'), "no hash in the audit row: {trail}");
}
