//! A short run of every scenario (a few hundred operations, no timing
//! assertions) that fails if any operation errors, so the harness cannot rot.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a failing test stops loudly

use keyfort_bench::scenarios::{self, Budget, Scenario};
use keyfort_bench::{floor, provision, target};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_runs_clean() {
    let f = floor::measure(50).unwrap();
    assert!(f.per_signin_us() > 0.0);

    let dir = tempfile::tempdir().unwrap();
    let url = provision::database_url(dir.path(), None).unwrap();
    let port = target::free_port().unwrap();
    let base = format!("http://localhost:{port}");
    let store = keyfort_store::Store::open(&url).await.unwrap();
    let mut fixture = provision::provision_population(&store, &base, 24, 1500, 2)
        .await
        .unwrap();
    // The dormant population really is in the store, with distinct credentials.
    let dormant = store
        .user_by_username("dormant00001499")
        .await
        .unwrap()
        .expect("last dormant user");
    let keys = store.passkeys_of_user(&dormant.id).await.unwrap();
    assert_eq!(keys.len(), 2);
    assert_ne!(keys[0].credential_id, keys[1].credential_id);
    assert!(
        keys[0].credential.contains(&keys[0].credential_id),
        "the stored credential carries its own id"
    );
    store.close().await;
    let server = target::Server::in_process(dir.path(), port, None)
        .await
        .unwrap();
    let budget = Budget {
        duration: Duration::from_secs(60),
        max_ops: Some(120),
    };
    for s in Scenario::ALL {
        let o = scenarios::run(s, &server.base, &mut fixture, 4, budget, None)
            .await
            .unwrap();
        assert_eq!(o.errors, 0, "{}: {:?}", s.name(), o.first_error);
        assert!(o.ops >= 100, "{}: only {} operations", s.name(), o.ops);
        assert!(!o.line(Some(f.per_signin_us())).is_empty());
    }
    assert_eq!(
        fixture.authenticators.len(),
        24,
        "every authenticator comes back"
    );
}
