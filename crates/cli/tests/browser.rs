//! End to end in a real browser: headless Chromium driven by chromedriver over
//! W3C WebDriver, with Chrome's WebAuthn virtual authenticators standing in for
//! the user's passkey providers.
//!
//! The test needs `KEYFORT_TEST_CHROMEDRIVER` (path to chromedriver) and, if
//! Chromium is not `/usr/bin/chromium`, `KEYFORT_TEST_CHROMIUM`. Without the
//! former it prints `SKIPPED browser: ...` and passes.
//!
//! How Chromium behaves under a virtual authenticator, and how the test tells
//! autofill (conditional) from modal passkey requests: see `support/browser.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a failing test stops loudly

#[path = "support/browser.rs"]
mod browser;
mod support;
#[path = "support/webdriver.rs"]
mod webdriver;

use browser::{Browser, one_resolved_get};
use serde_json::{Value, json};
use std::time::Instant;

/// Helpers only this test needs.
impl Browser {
    /// The passkeys `/my/security` lists, as (name, type, provider) triples.
    async fn listed_passkeys(&self) -> Vec<(String, String, String)> {
        let rows = self
            .eval(
                r#"return [...document.querySelectorAll("li.passkey")].map((li) => [
                     li.querySelector(".name").textContent.trim(),
                     li.querySelector(".type").textContent.trim(),
                     li.querySelector(".aaguid").textContent.trim(),
                   ]);"#,
            )
            .await;
        serde_json::from_value(rows).expect("passkey rows")
    }
}

#[tokio::test]
async fn passkeys_in_chromium() {
    let Some((chromedriver, chromium)) = browser::binaries("browser") else {
        return;
    };
    let started = Instant::now();

    let (server, pass) = browser::server_with_first_pass();
    let browser = Browser::start(&chromedriver, &chromium, &server.base).await;

    // 1. Onboarding: the administrator signs in with the printed pass...
    browser.open_admin_pass_signin().await;
    let prefilled = browser
        .eval(r#"return document.getElementById("tap-username").value;"#)
        .await;
    assert_eq!(
        prefilled,
        json!("admin"),
        "the pass page prefills the username"
    );
    browser.submit_pass(&pass).await;
    assert!(
        browser.shows_pass_notice().await,
        "a pass session is told to add a passkey"
    );
    assert_eq!(
        browser
            .eval(r#"return document.getElementById("no-passkeys") !== null;"#)
            .await,
        json!(true),
        "no passkeys yet"
    );

    // ...and registers a passkey with a synced provider (backup eligible).
    let synced = browser.add_authenticator(true).await;
    browser.register_passkey("Synced key", 1).await;
    let listed = browser.listed_passkeys().await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let (name, kind, provider) = &listed[0];
    assert_eq!(name, "Synced key");
    assert_eq!(
        kind, "synced",
        "a backup-eligible credential is a synced passkey"
    );
    assert!(!provider.is_empty(), "the provider (AAGUID) is shown");
    let credentials = browser.session.virtual_credentials(&synced).await;
    assert_eq!(
        credentials.len(),
        1,
        "the authenticator holds the new passkey"
    );
    assert_eq!(credentials[0]["rpId"], json!("localhost"));
    assert_eq!(credentials[0]["isResidentCredential"], json!(true));
    assert_eq!(credentials[0]["backupEligibility"], json!(true));

    // 2. Sign out.
    browser.sign_out().await;

    // 3. Sign in through autofill: the page's conditional request completes by
    //    itself under the virtual authenticator (see `support/browser.rs`).
    browser.take_credential_gets().await;
    browser.goto("/signin").await;
    browser.wait_for_page("/my/security").await;
    let gets = browser.take_credential_gets().await;
    assert_eq!(
        gets,
        one_resolved_get("conditional"),
        "the autofill (conditional) request, and only it, signed in"
    );
    assert!(
        !browser.shows_pass_notice().await,
        "this session comes from a passkey, not the pass"
    );
    let listed = browser.listed_passkeys().await;
    assert_eq!(
        listed.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(),
        ["Synced key"],
        "signed in as admin, whose passkey is listed"
    );

    // 4. Sign out, then sign in username-first. Conditional mediation is hidden
    //    so that only the request started by #continue can sign in.
    browser.sign_out().await;
    browser.hide_conditional_mediation().await;
    browser.goto("/signin").await;
    browser.session.type_into("#username", "admin").await;
    browser.session.click("#continue").await;
    browser.wait_for_page("/my/security").await;
    let gets = browser.take_credential_gets().await;
    assert_eq!(
        gets,
        one_resolved_get("optional"),
        "the username-first (modal) request signed in"
    );
    assert!(!browser.shows_pass_notice().await);

    // 5. A device-bound passkey: swap the synced provider for one without
    //    backup eligibility and register, within 5 minutes of the passkey sign-in.
    browser.session.remove_virtual_authenticator(&synced).await;
    let device = browser.add_authenticator(false).await;
    browser.register_passkey("Device key", 2).await;
    let mut listed = browser.listed_passkeys().await;
    listed.sort();
    let kinds: Vec<(&str, &str)> = listed
        .iter()
        .map(|(name, kind, _)| (name.as_str(), kind.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [("Device key", "device-bound"), ("Synced key", "synced")],
        "one synced and one device-bound passkey"
    );
    let credentials = browser.session.virtual_credentials(&device).await;
    assert_eq!(credentials.len(), 1);
    assert_eq!(credentials[0]["backupEligibility"], json!(false));
    let sign_count = browser.sign_count(&device).await;

    // 6. Sign out and back in with the "Sign in with a passkey" button
    //    (discoverable, no username), now with the device-bound passkey.
    //    Conditional mediation is still hidden, so autofill cannot beat the click.
    browser.sign_out().await;
    browser.goto("/signin").await;
    browser.session.click("#passkey-button").await;
    browser.wait_for_page("/my/security").await;
    let gets = browser.take_credential_gets().await;
    assert_eq!(
        gets,
        one_resolved_get("optional"),
        "the discoverable (modal) request signed in"
    );
    let used = browser.sign_count(&device).await;
    assert!(
        used > sign_count,
        "the device-bound passkey was used (sign count {sign_count} -> {used})"
    );
    assert_eq!(browser.listed_passkeys().await.len(), 2);

    // The sign-in log has the pass and the three passkey sign-ins, and no failure.
    let out = server.cli(&["log", "signins", "--json"], &[]);
    assert!(
        out.status.success(),
        "keyfort log signins failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).expect("JSON sign-in log");
    let count = |method: &str, outcome: &str| {
        rows.iter()
            .filter(|r| r["method"] == json!(method) && r["outcome"] == json!(outcome))
            .filter(|r| r["username"] == json!("admin"))
            .count()
    };
    assert_eq!(count("temporary_access_pass", "success"), 1, "{rows:#?}");
    assert_eq!(count("passkey", "success"), 3, "{rows:#?}");
    assert!(
        rows.iter().all(|r| r["outcome"] == json!("success")),
        "no failed sign-in: {rows:#?}"
    );

    // 7. The administrator removes `synced` from the default profile. Register one more
    //    synced passkey first (this session is a passkey sign-in under 5 minutes old).
    browser.session.remove_virtual_authenticator(&device).await;
    let synced_again = browser.add_authenticator(true).await;
    browser.register_passkey("Synced key 2", 3).await;
    let out = server.cli(
        &[
            "policy",
            "profile",
            "set",
            "default",
            "--types",
            "deviceBound",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "keyfort policy profile set failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // "My security" names each synced passkey the policy no longer accepts, and why;
    // every node reads the new policy within seconds.
    let started_waiting = Instant::now();
    loop {
        browser.goto("/my/security").await;
        let refused = browser
            .eval(
                r#"return [...document.querySelectorAll("li.passkey")]
                     .filter((li) => li.querySelector('[data-code="passkey_type_not_allowed"]'))
                     .map((li) => li.querySelector(".name").textContent.trim()).sort();"#,
            )
            .await;
        if refused == json!(["Synced key", "Synced key 2"]) {
            break;
        }
        assert!(
            started_waiting.elapsed() < std::time::Duration::from_secs(10),
            "refused passkeys listed: {refused}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    let text = browser
        .eval(r#"return document.querySelector('[data-code="passkey_type_not_allowed"]').textContent;"#)
        .await;
    assert!(
        text.as_str()
            .unwrap_or("")
            .contains("no longer accepts this type of passkey"),
        "{text}"
    );
    // Signing in with the synced passkey is refused with a clear message, and stays on
    // the sign-in page.
    browser.sign_out().await;
    browser.goto("/signin").await;
    browser.take_credential_gets().await;
    browser.session.click("#passkey-button").await;
    browser
        .wait_until(
            "the refusal on the sign-in page",
            r#"document.getElementById("status").classList.contains("error")"#,
        )
        .await;
    let message = browser
        .eval(r#"return document.getElementById("status").textContent;"#)
        .await;
    assert!(
        message.as_str().unwrap_or("").contains("type of passkey"),
        "{message}"
    );
    let (url, _) = browser.where_am_i().await;
    assert!(url.contains("/signin"), "{url}");
    assert_eq!(
        browser
            .session
            .virtual_credentials(&synced_again)
            .await
            .len(),
        1,
        "the refused passkey stays on the authenticator"
    );
    let out = server.cli(&["log", "signins", "--json"], &[]);
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).expect("JSON sign-in log");
    assert!(
        rows.iter()
            .any(|r| r["reason"] == json!("passkey_type_not_allowed")
                && r["username"] == json!("admin")),
        "{rows:#?}"
    );

    eprintln!(
        "browser: passkey flows passed in Chromium in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
