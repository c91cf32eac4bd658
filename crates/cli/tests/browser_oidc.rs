//! OpenID Connect end to end in a real browser: headless Chromium (driven by
//! chromedriver, with a WebAuthn virtual authenticator) signs in to a small
//! relying-party web app (`support/rp.rs`) that runs inside this test and uses
//! the `openidconnect` crate against a `keyfort serve` process.
//!
//! It checks step-up by `acr_values`: a Temporary Access Pass session answers
//! a plain request at once (acr `urn:keyfort:acr:mfa`, amr `otp mfa`), while a
//! request for `urn:keyfort:acr:phishing-resistant` sends the browser through
//! `/signin?request=…`, which demands a passkey, and a new passkey ceremony.
//!
//! Needs `KEYFORT_TEST_CHROMEDRIVER` (path to chromedriver) and, if Chromium is
//! not `/usr/bin/chromium`, `KEYFORT_TEST_CHROMIUM`. Without the former it
//! prints `SKIPPED browser_oidc: ...` and passes.
//!
//! Under a virtual authenticator Chromium resolves the sign-in page's autofill
//! (conditional) request at once when a credential exists (see
//! `support/browser.rs`). So that the test can look at the sign-in page and
//! then sign in with the "Sign in with a passkey" button, a script installed
//! through the DevTools protocol makes conditional mediation look unavailable
//! on Keyfort's origin, and records each `navigator.credentials.get` call in
//! `sessionStorage`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a failing test stops loudly

#[path = "support/browser.rs"]
mod browser;
#[path = "support/rp.rs"]
mod rp;
mod support;
#[path = "support/webdriver.rs"]
mod webdriver;

use browser::one_resolved_get;
use serde_json::json;
use std::time::{Duration, Instant};

const ACR_MFA: &str = "urn:keyfort:acr:mfa";
const ACR_PHISHING_RESISTANT: &str = "urn:keyfort:acr:phishing-resistant";

#[tokio::test]
async fn oidc_step_up_in_chromium() {
    let Some((chromedriver, chromium)) = browser::binaries("browser_oidc") else {
        return;
    };
    let started = Instant::now();
    let mut lap = Instant::now();
    let mut timings: Vec<(&str, Duration)> = Vec::new();
    let mut step = |name: &'static str| {
        timings.push((name, lap.elapsed()));
        lap = Instant::now();
    };

    // Keyfort, and the relying party registered with it.
    let (server, pass) = browser::server_with_first_pass();
    let (_rp_server, rp_base) = rp::start(&server).await;
    step("Keyfort, client registration, discovery");

    let browser = browser::Browser::start(&chromedriver, &chromium, &server.base).await;
    step("chromedriver and Chromium");

    // 1. The administrator signs in with the printed pass and registers a passkey;
    //    the browser session is still the pass session.
    browser.open_admin_pass_signin().await;
    browser.submit_pass(&pass).await;
    assert!(
        browser.shows_pass_notice().await,
        "the session comes from the pass"
    );
    // From now on Keyfort's pages in this tab offer no passkey autofill.
    browser.hide_conditional_mediation().await;
    // A device-bound provider (not backup eligible, as by Chrome's defaults).
    let authenticator = browser.add_authenticator(false).await;
    browser.register_passkey("Laptop", 1).await;
    assert!(
        browser.shows_pass_notice().await,
        "registering a passkey does not change the pass session"
    );
    let registered_count = browser.sign_count(&authenticator).await;
    assert!(
        browser.take_credential_gets().await.is_empty(),
        "no passkey sign-in so far"
    );
    step("pass sign-in and passkey registration");

    // 2. A plain request: the pass session answers it at once.
    browser.session.goto(&format!("{rp_base}/login")).await;
    let (sub, acr, amr, username) = browser.rp_result(&rp_base).await;
    assert_eq!(acr, ACR_MFA, "a pass session is multi-factor");
    assert_eq!(amr, ["otp", "mfa"], "a pass is a one-time password");
    assert_eq!(username, "admin");
    assert!(
        !sub.is_empty() && sub != "admin",
        "sub is the stable user id: {sub:?}"
    );
    assert_eq!(
        browser.sign_count(&authenticator).await,
        registered_count,
        "no passkey ceremony for a request the pass session satisfies"
    );
    step("code flow answered from the pass session");

    // 3. Phishing-resistant strength requested: the pass session does not meet
    //    it, so Keyfort asks for a passkey on its sign-in page.
    browser
        .session
        .goto(&format!("{rp_base}/login?acr={ACR_PHISHING_RESISTANT}"))
        .await;
    browser.wait_for_page("/signin").await;
    let query = browser.eval("return location.search;").await;
    assert!(
        query
            .as_str()
            .is_some_and(|q| q.starts_with("?request=") && q.len() > "?request=".len()),
        "the sign-in page serves a waiting request: {query}"
    );
    assert!(
        browser.has("#passkey-required").await,
        "the page says a passkey is required"
    );
    assert!(
        !browser.has("#tap-link").await,
        "a pass cannot satisfy the request, so the page does not offer one"
    );
    assert_eq!(
        browser
            .eval(r#"return document.querySelector(".context strong")?.textContent ?? null;"#)
            .await,
        json!("Test RP"),
        "the page names the application"
    );
    browser.session.click("#passkey-button").await;
    let (stepped_sub, stepped_acr, stepped_amr, _) = browser.rp_result(&rp_base).await;
    assert_eq!(stepped_acr, ACR_PHISHING_RESISTANT);
    for method in ["swk", "user", "mfa"] {
        assert!(
            stepped_amr.iter().any(|m| m == method),
            "amr {stepped_amr:?} has {method}"
        );
    }
    assert_eq!(stepped_sub, sub, "the same user");
    let stepped_count = browser.sign_count(&authenticator).await;
    assert!(
        stepped_count > registered_count,
        "a new passkey ceremony signed the step-up (sign count {registered_count} -> {stepped_count})"
    );
    step("step-up to phishing-resistant with a passkey");

    // The browser's Keyfort session is now a passkey session, from the one
    // modal request the button started.
    browser.goto("/my/security").await;
    browser.wait_for_page("/my/security").await;
    assert!(
        !browser.shows_pass_notice().await,
        "the session now comes from the passkey"
    );
    assert_eq!(
        browser.take_credential_gets().await,
        one_resolved_get("optional"),
        "exactly one (modal) passkey request"
    );
    step("checks after the step-up");

    timings_report(&timings, started);
}

/// Prints how long each part took.
fn timings_report(timings: &[(&str, Duration)], started: Instant) {
    for (name, took) in timings {
        eprintln!("browser_oidc: {name}: {:.2} s", took.as_secs_f64());
    }
    eprintln!(
        "browser_oidc: OIDC step-up passed in Chromium in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
