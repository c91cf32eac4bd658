//! `keyfort client …` and `keyfort keys rotate` against a running server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a failing test stops loudly

mod support;

use serde_json::Value;
use support::ServerProcess;

fn json(out: std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn client_credentials(base: &str, id: &str, secret: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{base}/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn introspect(base: &str, id: &str, secret: &str, token: &str) -> bool {
    let r = reqwest::Client::new()
        .post(format!("{base}/introspect"))
        .basic_auth(id, Some(secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    r.json::<Value>().await.unwrap()["active"]
        .as_bool()
        .unwrap()
}

fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_secrets_and_key_rotation() {
    let s = ServerProcess::start(&[("KEYFORT_MAINTENANCE_INTERVAL_SECONDS", "1")]);
    let env: [(&str, &str); 0] = [];
    // Registration: validation first.
    let keys = tempfile::tempdir().unwrap();
    let not_json = keys.path().join("not-json.jwks");
    std::fs::write(&not_json, "not a key set").unwrap();
    let empty = keys.path().join("empty.jwks");
    std::fs::write(&empty, r#"{"keys":[]}"#).unwrap();
    let (not_json, empty) = (not_json.to_str().unwrap(), empty.to_str().unwrap());
    let with_keys = |file| {
        vec![
            "client",
            "add",
            "App",
            "--redirect-uri",
            "https://app.example/cb",
            "--jwks",
            file,
        ]
    };
    for bad in [
        with_keys(not_json),
        with_keys(empty),
        with_keys("/nonexistent/keys.jwks"),
        vec![
            "client",
            "add",
            "App",
            "--redirect-uri",
            "https://app.example/cb",
            "--auth-method",
            "private_key_jwt",
        ],
        vec![
            "client",
            "add",
            "App",
            "--redirect-uri",
            "http://app.example/cb",
        ],
        vec![
            "client",
            "add",
            "App",
            "--redirect-uri",
            "https://app.example/cb#frag",
        ],
        vec!["client", "add", "App"],
        vec![
            "client",
            "add",
            "App",
            "--grant",
            "password",
            "--redirect-uri",
            "https://app.example/cb",
        ],
        vec![
            "client",
            "add",
            "App",
            "--public",
            "--grant",
            "client_credentials",
        ],
        vec![
            "client",
            "add",
            "App",
            "--redirect-uri",
            "https://app.example/cb",
            "--id-token-alg",
            "HS256",
        ],
    ] {
        let out = s.cli(&bad, &env);
        assert_eq!(
            out.status.code(),
            Some(64),
            "{bad:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let app = json(s.cli(
        &[
            "client",
            "add",
            "Reports",
            "--grant",
            "client_credentials",
            "--json",
        ],
        &env,
    ));
    let id = app["clientId"].as_str().unwrap().to_string();
    let secret = app["clientSecret"].as_str().unwrap().to_string();
    assert_eq!(app["issuer"], s.base);
    let public = json(s.cli(
        &[
            "client",
            "add",
            "SPA",
            "--public",
            "--redirect-uri",
            "http://localhost:5173/cb",
            "--json",
        ],
        &env,
    ));
    assert!(
        public["clientSecret"].is_null(),
        "public clients have no secret"
    );
    assert_eq!(public["tokenEndpointAuthMethod"], "none");
    let list = json(s.cli(&["client", "list", "--json"], &env));
    assert_eq!(list.as_array().unwrap().len(), 2);
    let shown = json(s.cli(&["client", "show", &id, "--json"], &env));
    assert!(
        shown.get("clientSecret").is_none() && !shown.to_string().contains(&secret),
        "the secret is never shown again"
    );

    let (status, tokens) = client_credentials(&s.base, &id, &secret).await;
    assert_eq!(status, 200, "{tokens}");
    let first = tokens["access_token"].as_str().unwrap().to_string();

    // Secret rotation: the old secret stops working at once.
    let rotated = json(s.cli(&["client", "rotate-secret", &id, "--json"], &env));
    let new_secret = rotated["clientSecret"].as_str().unwrap().to_string();
    assert_eq!(client_credentials(&s.base, &id, &secret).await.0, 401);
    assert_eq!(client_credentials(&s.base, &id, &new_secret).await.0, 200);
    assert_eq!(
        s.cli(
            &[
                "client",
                "rotate-secret",
                public["clientId"].as_str().unwrap()
            ],
            &env
        )
        .status
        .code(),
        Some(64)
    );

    // Key rotation: new tokens use the new key; the old public key stays published and old tokens stay valid.
    let jwks_before: Value = reqwest::get(format!("{}/jwks", s.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        jwks_before["keys"].as_array().unwrap().len(),
        3,
        "ES256, EdDSA and RS256"
    );
    let added = json(s.cli(&["keys", "rotate", "--alg", "ES256", "--json"], &env));
    let new_kid = added[0]["kid"].as_str().unwrap().to_string();
    let mut published = false;
    for _ in 0..50 {
        let jwks: Value = reqwest::get(format!("{}/jwks", s.base))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let kids: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        if kids.contains(&new_kid.as_str()) {
            assert!(
                kids.contains(&kid(&first).as_str()),
                "the old key is still published"
            );
            assert_eq!(kids.len(), 4);
            published = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(published, "the running server picked up the new key");
    let (_, tokens) = client_credentials(&s.base, &id, &new_secret).await;
    assert_eq!(kid(tokens["access_token"].as_str().unwrap()), new_kid);
    assert!(
        introspect(&s.base, &id, &new_secret, &first).await,
        "a token signed by the old key is still good"
    );

    // Removal: the client and its tokens are gone.
    json(s.cli(&["client", "remove", &id, "--json"], &env));
    assert_eq!(client_credentials(&s.base, &id, &new_secret).await.0, 401);
    let audit = json(s.cli(&["log", "audit", "--json"], &env));
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    for a in [
        "client.created",
        "client.secret_rotated",
        "signing_key.added",
        "client.removed",
    ] {
        assert!(actions.contains(&a), "{a} audited: {actions:?}");
    }
    assert!(!audit.to_string().contains(&new_secret));
}
