//! The server's log stays proportionate to what is sent: hostile sign-in finishes
//! (garbage authenticator data with the extension flag, which the WebAuthn verifier used
//! to log whole, as decimal bytes, at ERROR; and oversized fields) add next to nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a failing test stops loudly

mod support;

use keyfort_softauthn::Authenticator;
use serde_json::{Value, json};
use std::process::Stdio;
use support::ServerProcess;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_finishes_do_not_amplify_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    // Even a filter that asks for every info event keeps the verifier quiet.
    let server = ServerProcess::start_logging(
        &data,
        support::free_port(),
        &[("KEYFORT_LOG", "info")],
        Stdio::from(log),
    );
    let base = server.base.clone();
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let post = |path: &str, body: Value| {
        let (http, url) = (http.clone(), format!("{base}{path}"));
        async move {
            let r = http.post(url).json(&body).send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    // Onboard admin with the first-start pass and a passkey.
    let pass = server
        .first_pass
        .clone()
        .expect("first start prints a pass");
    let (status, body) = post(
        "/api/signin/tap",
        json!({"username": "admin", "code": pass}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let mut authn = Authenticator::new([6; 16]);
    let (status, begin) = post("/api/passkeys/register/begin", json!({})).await;
    assert_eq!(status, 200, "{begin}");
    let cred = authn.create(&begin, &base).unwrap();
    let (status, body) = post(
        "/api/passkeys/register/finish",
        json!({"ceremonyId": begin["ceremonyId"], "credential": cred}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let before = std::fs::metadata(&log_path).unwrap().len();

    let mut sent = 0usize;
    for i in 0..40 {
        let (status, begin) = post("/api/signin/passkey/begin", json!({})).await;
        assert_eq!(status, 200);
        let mut cred = authn.get(&begin, &base).unwrap();
        let honest = base64_decode(cred["response"]["authenticatorData"].as_str().unwrap());
        let garbage = if i % 2 == 0 {
            // Within the size limit: the header with the extension-data flag, then junk.
            let mut d = honest[..37].to_vec();
            d[32] |= 0x80;
            d.extend(std::iter::repeat_n(0xA5u8, 900));
            d
        } else {
            vec![0x5Au8; 45_000]
        };
        sent += garbage.len();
        cred["response"]["authenticatorData"] = json!(base64_encode(&garbage));
        let (status, body) = post(
            "/api/signin/passkey/finish",
            json!({"ceremonyId": begin["ceremonyId"], "credential": cred}),
        )
        .await;
        assert_eq!(status, 400, "{body}");
    }
    // Let the server flush, then compare what it wrote with what it was sent.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let grown = std::fs::metadata(&log_path).unwrap().len() - before;
    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(
        grown < 8 * 1024,
        "{grown} bytes of log for {sent} bytes sent:\n{}",
        &text[text.len().saturating_sub(2000)..]
    );
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}
