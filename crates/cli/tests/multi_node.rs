//! Two `keyfort serve` processes on one PostgreSQL: a ceremony begun on one
//! node finishes on the other, because no node keeps state another needs; a policy
//! change through the admin API on one node is enforced by the other within seconds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a failing test stops loudly

mod support;

use keyfort_softauthn::Authenticator;
use serde_json::{Value, json};
use support::ServerProcess;

async fn post(c: &reqwest::Client, url: String, origin: &str, body: &Value) -> (u16, Value) {
    let r = c
        .post(url)
        .header("origin", origin)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A passkey sign-in begun on one node and finished on another: the status and body of
/// the finish, and the finish request (to replay it).
async fn sign_in(
    c: &reqwest::Client,
    begin_on: &str,
    finish_on: &str,
    origin: &str,
    authn: &mut Authenticator,
) -> (u16, Value, Value) {
    let (status, begin) = post(
        c,
        format!("{begin_on}/api/signin/passkey/begin"),
        origin,
        &json!({}),
    )
    .await;
    assert_eq!(status, 200, "{begin}");
    let assertion = authn.get(&begin, origin).unwrap();
    let finish = json!({"ceremonyId": begin["ceremonyId"], "credential": assertion});
    let (status, body) = post(
        c,
        format!("{finish_on}/api/signin/passkey/finish"),
        origin,
        &finish,
    )
    .await;
    (status, body, finish)
}

/// A CLI run that must succeed.
fn succeeded(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ceremonies_cross_nodes() {
    let Some(admin_url) = support::skip_without_postgres("multi_node") else {
        return;
    };
    let db = support::fresh_postgres_database(&admin_url).await;
    // Both nodes sit behind one public URL, as behind a load balancer.
    let port_a = support::free_port();
    let public = format!("http://localhost:{port_a}");
    // Nodes share the master key that encrypts the signing keys in the shared store.
    let env = [
        ("KEYFORT_DATABASE_URL", db.as_str()),
        ("KEYFORT_PUBLIC_URL", public.as_str()),
        (
            "KEYFORT_MASTER_KEY",
            "a2V5Zm9ydC10ZXN0LW1hc3Rlci1rZXktMzItYnl0ZXM",
        ),
    ];
    let dir_a = tempfile::tempdir().unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    let a = ServerProcess::start_in(dir_a.path(), port_a, &env);
    let b = ServerProcess::start_in(dir_b.path(), support::free_port(), &env);
    let pass = a
        .first_pass
        .clone()
        .expect("the first node to start prints the pass");
    assert!(
        b.first_pass.is_none(),
        "the second node finds the administrator and prints nothing"
    );
    let node_a = format!("http://127.0.0.1:{}", a.port);
    let node_b = format!("http://127.0.0.1:{}", b.port);

    // The browser session is in the store: a pass sign-in on A is a session on B.
    let c = support::inproc::client();
    let (status, body) = post(
        &c,
        format!("{node_a}/api/signin/tap"),
        &public,
        &json!({"username": "admin", "code": pass}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let session = c.get(format!("{node_a}/")).send().await.unwrap();
    assert_eq!(session.headers()["location"], "/my/security");
    // reqwest keeps cookies per host; carry the session to node B's address explicitly.
    let cookie = c.get(format!("{node_a}/my/security")).send().await.unwrap();
    assert_eq!(cookie.status(), 200);

    let mut authn = Authenticator::synced([7; 16]);
    // Registration: begin on A, finish on B (same browser session, cookie sent to both).
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let c2 = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (status, body) = post(
        &c2,
        format!("{node_b}/api/signin/tap"),
        &public,
        &json!({"username": "admin", "code": pass}),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("pass_used")),
        "the one-time pass is spent on every node"
    );
    let issued = a.cli(&["tap", "issue", "admin", "--multi-use", "--json"], &env);
    succeeded(&issued);
    let issued: Value = serde_json::from_slice(&issued.stdout).unwrap();
    let code = issued["temporaryAccessPass"].as_str().unwrap();
    let (status, _) = post(
        &c2,
        format!("{node_a}/api/signin/tap"),
        &public,
        &json!({"username": "admin", "code": code}),
    )
    .await;
    assert_eq!(status, 200);
    let token = jar_cookie(&jar, &node_a);
    jar.add_cookie_str(
        &format!("keyfort_session={token}"),
        &node_b.parse().unwrap(),
    );

    let (status, begin) = post(
        &c2,
        format!("{node_a}/api/passkeys/register/begin"),
        &public,
        &json!({}),
    )
    .await;
    assert_eq!(status, 200, "{begin}");
    let credential = authn.create(&begin, &public).unwrap();
    let (status, body) = post(
        &c2,
        format!("{node_b}/api/passkeys/register/finish"),
        &public,
        &json!({"ceremonyId": begin["ceremonyId"], "credential": credential}),
    )
    .await;
    assert_eq!(
        status, 200,
        "registration finished on the other node: {body}"
    );

    // Sign-in: begin on B, finish on A.
    let fresh = support::inproc::client();
    let (status, body, finish) = sign_in(&fresh, &node_b, &node_a, &public, &mut authn).await;
    assert_eq!(status, 200, "sign-in finished on the other node: {body}");
    // And the ceremony is gone on both: replaying it on B fails.
    let (status, body) = post(
        &fresh,
        format!("{node_b}/api/signin/passkey/finish"),
        &public,
        &finish,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("challenge_invalid"))
    );

    // A policy change through the admin API on A is enforced by B within 5 seconds:
    // removing `synced` from the default profile refuses the synced passkey there.
    let registered = a.cli(
        &[
            "client",
            "add",
            "Policy robot",
            "--grant",
            "client_credentials",
            "--json",
        ],
        &env,
    );
    succeeded(&registered);
    let registered: Value = serde_json::from_slice(&registered.stdout).unwrap();
    let client_id = registered["clientId"].as_str().unwrap();
    let secret = registered["clientSecret"].as_str().unwrap();
    let assigned = a.cli(
        &[
            "role",
            "assign",
            "authenticationPolicyAdministrator",
            client_id,
            "--client",
        ],
        &env,
    );
    succeeded(&assigned);
    let token: Value = reqwest::Client::new()
        .post(format!("{node_a}/token"))
        .basic_auth(client_id, Some(secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "keyfort.admin"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().expect("an admin token");
    let api = format!("{node_a}/api/v1/admin/policies/authenticationMethods");
    let current: Value = reqwest::Client::new()
        .get(&api)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut policy = current["policy"].clone();
    policy["fido2"]["passkeyProfiles"][0]["passkeyTypes"] = json!(["deviceBound"]);
    let put = reqwest::Client::new()
        .put(&api)
        .bearer_auth(token)
        .json(&json!({ "version": current["version"], "policy": policy }))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let changed = std::time::Instant::now();
    loop {
        let c = support::inproc::client();
        let (status, body, _) = sign_in(&c, &node_b, &node_b, &public, &mut authn).await;
        if status == 403 {
            assert_eq!(body["error"], "passkey_type_not_allowed", "{body}");
            break;
        }
        assert_eq!(status, 200, "{body}");
        assert!(
            changed.elapsed() < std::time::Duration::from_secs(5),
            "node B still accepts the synced passkey after {:?}",
            changed.elapsed()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    // Both nodes report ready; the log, read through the CLI, has every attempt.
    for node in [&node_a, &node_b] {
        assert_eq!(
            reqwest::get(format!("{node}/readyz"))
                .await
                .unwrap()
                .status(),
            200
        );
    }
    let log = b.cli(&["log", "signins", "--json"], &env);
    let rows: Value = serde_json::from_slice(&log.stdout).unwrap();
    let outcomes: Vec<(&str, &str)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["method"].as_str().unwrap(),
                r["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    // Newest first: the refused sign-in after the policy change, any accepted while B
    // had not read it yet, then the ceremonies above.
    assert_eq!(outcomes[0], ("passkey", "failure"));
    let before_change = &outcomes[outcomes.len() - 5..];
    assert_eq!(
        before_change,
        vec![
            ("passkey", "failure"),
            ("passkey", "success"),
            ("temporary_access_pass", "success"),
            ("temporary_access_pass", "failure"),
            ("temporary_access_pass", "success"),
        ]
    );
}

fn jar_cookie(jar: &reqwest::cookie::Jar, base: &str) -> String {
    use reqwest::cookie::CookieStore;
    let header = jar
        .cookies(&base.parse().unwrap())
        .expect("a session cookie");
    let header = header.to_str().unwrap().to_string();
    header
        .split(';')
        .find_map(|p| {
            p.trim()
                .strip_prefix("keyfort_session=")
                .map(str::to_string)
        })
        .expect("keyfort_session")
}
