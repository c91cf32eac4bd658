//! Onboarding in a real browser: a new employee gets a one-time Temporary Access
//! Pass from the CLI, opens an application (the relying party of
//! `support/rp.rs`), signs in with the pass, is led to "Set up your passkey",
//! registers one in Chromium's virtual authenticator and lands in the
//! application. Later the passkey alone signs them in to it, and the pass no
//! longer works.
//!
//! Needs `KEYFORT_TEST_CHROMEDRIVER` (and `KEYFORT_TEST_CHROMIUM` when Chromium
//! is not `/usr/bin/chromium`); without it prints `SKIPPED browser_onboarding: ...`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a failing test stops loudly

#[path = "support/browser.rs"]
mod browser;
#[path = "support/rp.rs"]
mod rp;
mod support;
#[path = "support/webdriver.rs"]
mod webdriver;

use browser::{Browser, one_resolved_get};
use serde_json::{Value, json};
use std::time::Instant;

const ACR_MFA: &str = "urn:keyfort:acr:mfa";
const ACR_PHISHING_RESISTANT: &str = "urn:keyfort:acr:phishing-resistant";

/// Runs a CLI command that must succeed and answers JSON.
fn cli_json(server: &support::ServerProcess, args: &[&str]) -> Value {
    let out = server.cli(args, &[]);
    assert!(
        out.status.success(),
        "keyfort {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON from the CLI")
}

impl Browser {
    /// Signs in on the open pass page with `username` and `pass`.
    async fn enter_pass(&self, username: &str, pass: &str) {
        self.session.type_into("#tap-username", username).await;
        self.session.type_into("#tap-code", pass).await;
        self.session.click("#tap-submit").await;
    }

    async fn attribute(&self, css: &str, name: &str) -> Value {
        self.eval(&format!(
            "const e = document.querySelector({}); return e ? e.getAttribute({}) : null;",
            json!(css),
            json!(name)
        ))
        .await
    }
}

#[tokio::test]
async fn a_new_employee_is_onboarded_with_a_pass() {
    let Some((chromedriver, chromium)) = browser::binaries("browser_onboarding") else {
        return;
    };
    let started = Instant::now();
    let (server, _admin_pass) = browser::server_with_first_pass();
    let (_rp_server, rp_base) = rp::start(&server).await;
    cli_json(
        &server,
        &[
            "user",
            "add",
            "newbie",
            "--display-name",
            "Nia Newbie",
            "--json",
        ],
    );
    let issued = cli_json(&server, &["tap", "issue", "newbie", "--one-time", "--json"]);
    let pass = issued["temporaryAccessPass"].as_str().unwrap().to_string();
    assert_eq!(issued["isUsableOnce"], true);

    let browser = Browser::start(&chromedriver, &chromium, &server.base).await;

    // 1. The application sends the new employee to Keyfort; they have nothing but the pass.
    browser.session.goto(&format!("{rp_base}/login")).await;
    browser.wait_for_page("/signin").await;
    browser.hide_conditional_mediation().await;
    browser.session.click("#tap-link").await;
    browser.wait_for_page("/signin/tap").await;
    browser.enter_pass("newbie", &pass).await;

    // 2. "Set up your passkey", for the application that asked.
    browser.wait_for_page("/signin/setup").await;
    assert_eq!(
        browser.attribute("#setup-why", "data-reason").await,
        json!("first_passkey"),
        "a person without a passkey is told why they set one up"
    );
    assert_eq!(
        browser
            .eval(r#"return document.querySelector(".context strong")?.textContent ?? null;"#)
            .await,
        json!("Test RP"),
        "the page names the application that waits"
    );
    assert!(
        browser.text("setup-why").await.contains("works only once"),
        "a one-time pass is explained as such"
    );
    let authenticator = browser.add_authenticator(false).await;
    browser
        .session
        .type_into("#setup-passkey-name", "Work laptop")
        .await;
    browser.session.click("#setup-passkey-button").await;

    // 3. Registered, and straight on to the application, signed in with the pass.
    let (sub, acr, amr, username) = browser.rp_result(&rp_base).await;
    assert_eq!(username, "newbie");
    assert_eq!(acr, ACR_MFA, "the session is the pass's");
    assert_eq!(amr, ["otp", "mfa"]);
    assert_eq!(
        browser
            .session
            .virtual_credentials(&authenticator)
            .await
            .len(),
        1,
        "the authenticator holds the new passkey"
    );

    // "My security" confirms it and no longer asks for a passkey.
    browser.goto("/my/security").await;
    browser.wait_for_page("/my/security").await;
    let names = browser
        .eval(
            r#"return [...document.querySelectorAll("li.passkey .name")].map((e) => e.textContent.trim());"#,
        )
        .await;
    assert_eq!(names, json!(["Work laptop"]));
    let status = browser.text("status").await;
    assert!(
        status.contains("Work laptop") && status.contains("set up"),
        "the page confirms the new passkey: {status:?}"
    );
    let notice = browser
        .eval(r#"return document.querySelector("p.notice")?.textContent ?? null;"#)
        .await;
    assert!(
        notice
            .as_str()
            .is_some_and(|n| n.contains("Next time, sign in with your passkey")),
        "the pass notice says what to do next: {notice}"
    );

    // 4. Signed out, the passkey alone signs them in to the application.
    browser.sign_out().await;
    browser.take_credential_gets().await;
    browser.session.goto(&format!("{rp_base}/login")).await;
    browser.wait_for_page("/signin").await;
    browser.session.click("#passkey-button").await;
    let (passkey_sub, passkey_acr, passkey_amr, _) = browser.rp_result(&rp_base).await;
    assert_eq!(passkey_sub, sub, "the same person");
    assert_eq!(passkey_acr, ACR_PHISHING_RESISTANT);
    assert!(
        passkey_amr.iter().any(|m| m == "mfa"),
        "amr {passkey_amr:?}"
    );
    browser.goto("/my/security").await;
    browser.wait_for_page("/my/security").await;
    assert!(
        !browser.shows_pass_notice().await,
        "this session comes from the passkey"
    );
    assert_eq!(
        browser.take_credential_gets().await,
        one_resolved_get("optional")
    );

    // 5. The one-time pass is spent.
    browser.sign_out().await;
    browser.goto("/signin/tap").await;
    browser.enter_pass("newbie", &pass).await;
    browser
        .wait_until(
            "the refusal of the spent pass",
            r#"document.getElementById("status")?.dataset.code !== undefined"#,
        )
        .await;
    assert_eq!(
        browser.attribute("#status", "data-code").await,
        json!("pass_used"),
        "{}",
        browser.text("status").await
    );
    assert_eq!(
        browser.eval("return location.pathname;").await,
        json!("/signin/tap"),
        "no session: the page stays"
    );
    eprintln!(
        "browser_onboarding: onboarding passed in Chromium in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
