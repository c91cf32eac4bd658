//! WebAuthn Level 3 in a real browser (Chromium with a virtual authenticator):
//! - hints: a policy whose only profile takes device-bound passkeys sends
//!   `security-key` first when a passkey is set up;
//! - the signal API: "My security" tells the passkey manager which passkeys
//!   Keyfort still accepts and the account's names, so one an administrator
//!   removed leaves it; a sign-in with a passkey Keyfort no longer knows signals
//!   it as unknown, with the credential and user ids Keyfort registered;
//! - related origins: `/.well-known/webauthn` serves the configured list.
//!
//! The page's calls are observed by the instrumentation of `support/browser.rs`;
//! Chromium (156) applies the signals to its virtual authenticator, whose
//! credential list the test reads.
//! Needs `KEYFORT_TEST_CHROMEDRIVER`; without it prints `SKIPPED browser_webauthn: ...`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a failing test stops loudly

#[path = "support/browser.rs"]
mod browser;
mod support;
#[path = "support/webdriver.rs"]
mod webdriver;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use browser::Browser;
use serde_json::{Value, json};
use support::ServerProcess;

const RELATED: [&str; 2] = ["https://login.example.co.uk", "https://apps.example.net"];

fn cli_json(server: &ServerProcess, args: &[&str]) -> Value {
    let out = server.cli(args, &[]);
    assert!(
        out.status.success(),
        "keyfort {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON from the CLI")
}

/// An id from the DevTools protocol (base64, or base64url for credential ids) as the
/// pages carry ids: base64url without padding.
fn url_safe(encoded: &str) -> String {
    let bytes = STANDARD
        .decode(encoded)
        .or_else(|_| URL_SAFE_NO_PAD.decode(encoded.trim_end_matches('=')))
        .expect("base64 from Chromium");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The calls named `call` in a signal log.
fn calls<'a>(log: &'a [Value], call: &str) -> Vec<&'a Value> {
    log.iter().filter(|e| e["call"] == call).collect()
}

/// The one passkey of `username`, as `user show` lists it.
fn only_passkey(server: &ServerProcess, username: &str) -> Value {
    let shown = cli_json(server, &["user", "show", username, "--json"]);
    let passkeys = shown["passkeys"].as_array().unwrap();
    assert_eq!(passkeys.len(), 1, "{shown}");
    passkeys[0].clone()
}

#[tokio::test]
async fn webauthn_level_3_in_chromium() {
    let Some((chromedriver, chromium)) = browser::binaries("browser_webauthn") else {
        return;
    };
    let server = ServerProcess::start(&[("KEYFORT_RELATED_ORIGINS", &RELATED.join(","))]);
    let pass = server.first_pass.clone().expect("the administrator's pass");
    // Security keys only. The server takes the change up at its next policy poll (every
    // 2 s): it is in force by the time the passkey is set up, 4 s on at the earliest.
    cli_json(
        &server,
        &[
            "policy",
            "profile",
            "set",
            "default",
            "--types",
            "deviceBound",
            "--json",
        ],
    );
    let policy_changed = std::time::Instant::now();
    let browser = Browser::start(&chromedriver, &chromium, &server.base).await;

    // Related origins, as a browser fetches them.
    browser.goto("/signin/tap?username=admin").await;
    let served = browser
        .eval(
            r#"return fetch("/.well-known/webauthn").then(async (r) =>
                 [r.status, r.headers.get("content-type"), await r.json()]);"#,
        )
        .await;
    assert_eq!(served[0], 200);
    assert!(served[1].as_str().unwrap().starts_with("application/json"));
    assert_eq!(served[2], json!({ "origins": RELATED }));

    // 1. The pass leads to "Set up your passkey"; the create carries the hints.
    browser.hide_conditional_mediation().await;
    browser.submit_pass_to_setup(&pass).await;
    let authenticator = browser.add_authenticator(false).await;
    browser.take_signals().await;
    let in_force = std::time::Duration::from_secs(4);
    if let Some(left) = in_force.checked_sub(policy_changed.elapsed()) {
        tokio::time::sleep(left).await;
    }
    browser.session.click("#setup-passkey-button").await;
    browser.wait_for_page("/my/security").await;
    browser
        .wait_until(
            "the signals of My security",
            r#"(JSON.parse(sessionStorage.getItem("keyfort-test:signals") || "[]"))
                 .some((e) => e.call === "signalCurrentUserDetails")"#,
        )
        .await;
    let log = browser.take_signals().await;
    let creates = calls(&log, "create");
    assert_eq!(creates.len(), 1, "{log:?}");
    assert_eq!(
        creates[0]["args"]["hints"],
        json!(["security-key", "client-device"]),
        "a device-bound-only policy leads to a security key"
    );

    // 2. "My security" signals the accepted passkeys and the names.
    let held = browser.session.virtual_credentials(&authenticator).await;
    assert_eq!(held.len(), 1);
    let credential_id = url_safe(held[0]["credentialId"].as_str().unwrap());
    let user_id = url_safe(held[0]["userHandle"].as_str().unwrap());
    let passkey = only_passkey(&server, "admin");
    let accepted = calls(&log, "signalAllAcceptedCredentials");
    assert_eq!(accepted.len(), 1, "{log:?}");
    assert_eq!(
        accepted[0]["args"],
        json!({ "rpId": "localhost", "userId": user_id, "allAcceptedCredentialIds": [credential_id] })
    );
    let details = calls(&log, "signalCurrentUserDetails");
    assert_eq!(details[0]["args"]["userId"], user_id.as_str());
    assert_eq!(details[0]["args"]["name"], "admin");

    // 3. An administrator removes it; the next visit signals that none is accepted.
    let removed = cli_json(
        &server,
        &[
            "user",
            "remove-passkey",
            "admin",
            passkey["id"].as_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(removed["remaining"], 0);
    browser.goto("/my/security").await;
    browser.wait_for_page("/my/security").await;
    browser
        .wait_until(
            "the signal after the removal",
            r#"(JSON.parse(sessionStorage.getItem("keyfort-test:signals") || "[]"))
                 .some((e) => e.call === "signalAllAcceptedCredentials")"#,
        )
        .await;
    let log = browser.take_signals().await;
    assert_eq!(
        calls(&log, "signalAllAcceptedCredentials")[0]["args"],
        json!({ "rpId": "localhost", "userId": user_id, "allAcceptedCredentialIds": [] })
    );
    // Chromium applies the signal to its virtual authenticator: the passkey is gone.
    let left = browser.session.virtual_credentials(&authenticator).await;
    assert!(left.is_empty(), "the removed passkey stays: {left:?}");

    // 4. A passkey Keyfort no longer knows, used to sign in, is signalled unknown.
    browser.register_passkey("Second", 1).await;
    let second = only_passkey(&server, "admin");
    let held = browser.session.virtual_credentials(&authenticator).await;
    let second_id = held
        .iter()
        .map(|c| url_safe(c["credentialId"].as_str().unwrap()))
        .find(|id| id != &credential_id)
        .expect("the second passkey in the authenticator");
    cli_json(
        &server,
        &[
            "user",
            "remove-passkey",
            "admin",
            second["id"].as_str().unwrap(),
            "--json",
        ],
    );
    browser.sign_out().await;
    browser.goto("/signin").await;
    browser.take_signals().await;
    browser.session.click("#passkey-button").await;
    browser
        .wait_until(
            "the refusal of the unknown passkey",
            r#"document.getElementById("status")?.dataset.code !== undefined"#,
        )
        .await;
    assert_eq!(
        browser
            .eval(r#"return document.getElementById("status").dataset.code;"#)
            .await,
        "unknown_credential"
    );
    let log = browser.take_signals().await;
    let unknown = calls(&log, "signalUnknownCredential");
    assert_eq!(unknown.len(), 1, "{log:?}");
    assert_eq!(
        unknown[0]["args"],
        json!({ "rpId": "localhost", "credentialId": second_id })
    );
    let left = browser.session.virtual_credentials(&authenticator).await;
    assert!(left.is_empty(), "the unknown passkey stays: {left:?}");
}
