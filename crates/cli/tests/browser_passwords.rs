//! Passwords during a migration, in a real browser: an organisation imports its users'
//! bcrypt hashes with the CLI and turns passwords on for everyone but one group. A user
//! who holds only a password signs in to an application with it (snoozing the
//! registration campaign's request for a passkey), adds an authenticator
//! app (scanning a QR code drawn by Keyfort) and a passkey on My security, and from then
//! on is offered the passkey first; when the passkey prompt fails they pick the password
//! from "Other ways to sign in" (which leads on to the passkey), or the authenticator
//! app (password, then a code). A user in the excluded group never sees a password.
//!
//! Needs `KEYFORT_TEST_CHROMEDRIVER` (and `KEYFORT_TEST_CHROMIUM` when Chromium
//! is not `/usr/bin/chromium`); without it prints `SKIPPED browser_passwords: ...`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a failing test stops loudly

#[path = "support/browser.rs"]
mod browser;
#[path = "support/rp.rs"]
mod rp;
mod support;
#[path = "support/webdriver.rs"]
mod webdriver;

use browser::Browser;
use serde_json::{Value, json};
use std::time::Instant;

const PASSWORD: &str = "correct horse battery staple";
const ACR_PHISHING_RESISTANT: &str = "urn:keyfort:acr:phishing-resistant";

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
    /// Types `username` on the sign-in page and continues.
    async fn continue_as(&self, username: &str) {
        self.session.type_into("#username", username).await;
        self.session.click("#continue").await;
    }

    /// The "Other ways to sign in" offered, in order (none while the list is hidden).
    async fn other_ways(&self) -> Value {
        self.eval(
            r#"const s = document.getElementById("other-ways");
               if (!s || s.hidden) return [];
               return [...s.querySelectorAll("button[data-choice]")].map((b) => b.dataset.choice);"#,
        )
        .await
    }

    async fn password_form_shown(&self) -> bool {
        self.eval(r#"return !document.getElementById("password-form").hidden;"#)
            .await
            == json!(true)
    }

    /// Makes the virtual authenticator verify the person, or fail to.
    async fn user_verifies(&self, authenticator: &str, verified: bool) {
        self.session
            .command(
                "POST",
                &format!("/webauthn/authenticator/{authenticator}/uv"),
                Some(json!({ "isUserVerified": verified })),
            )
            .await
            .expect("set user verification");
    }
}

#[tokio::test]
async fn passwords_during_a_migration() {
    let Some((chromedriver, chromium)) = browser::binaries("browser_passwords") else {
        return;
    };
    let started = Instant::now();
    let (server, _admin_pass) = browser::server_with_first_pass();
    let (_rp_server, rp_base) = rp::start(&server).await;
    for (name, display) in [("pat", "Pat Moving"), ("lee", "Lee Locked")] {
        cli_json(
            &server,
            &["user", "add", name, "--display-name", display, "--json"],
        );
    }
    cli_json(&server, &["group", "add", "passkeys-only", "--json"]);
    cli_json(
        &server,
        &["group", "add-member", "passkeys-only", "lee", "--json"],
    );
    // The organisation's previous directory kept bcrypt hashes.
    let hash = bcrypt::hash(PASSWORD, 6).unwrap();
    let file = server.data_dir.join("passwords.jsonl");
    let lines: String = ["pat", "lee"]
        .iter()
        .map(|u| format!("{}\n", json!({ "username": u, "passwordHash": hash })))
        .collect();
    std::fs::write(&file, lines).unwrap();
    let imported = cli_json(
        &server,
        &["user", "import", file.to_str().unwrap(), "--json"],
    );
    assert_eq!(imported["added"], 2, "{imported}");
    cli_json(
        &server,
        &[
            "policy",
            "set",
            "softwareOath",
            "--enable",
            "--include-all",
            "--json",
        ],
    );
    cli_json(
        &server,
        &[
            "policy",
            "set",
            "password",
            "--enable",
            "--include-all",
            "--exclude",
            "passkeys-only",
            "--json",
        ],
    );

    // Every node enforces a policy change within its poll interval.
    let http = reqwest::Client::new();
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let choices: Value = http
            .post(format!("{}/api/signin/choices", server.base))
            .json(&json!({ "username": "pat" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if choices["preferred"] == "password" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the policy took effect: {choices}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    let browser = Browser::start(&chromedriver, &chromium, &server.base).await;
    let authenticator = browser.add_authenticator(true).await;

    // 1. Pat holds only a password: the page asks for it at once.
    browser.session.goto(&format!("{rp_base}/login")).await;
    browser.wait_for_page("/signin").await;
    browser.hide_conditional_mediation().await;
    browser.continue_as("pat").await;
    browser
        .wait_until(
            "the password form",
            r#"!document.getElementById("password-form").hidden"#,
        )
        .await;
    assert_eq!(browser.other_ways().await, json!([]));
    browser.session.type_into("#password", PASSWORD).await;
    browser.session.click("#password-submit").await;
    // The registration campaign asks for a passkey; Pat snoozes it for now.
    browser.wait_for_page("/signin/setup").await;
    assert_eq!(
        browser
            .eval(r#"return document.getElementById("setup-why").dataset.reason;"#)
            .await,
        json!("campaign")
    );
    assert!(browser.text("setup-why").await.contains("3 more times"));
    browser.session.click("#setup-snooze").await;
    let (_, acr, amr, username) = browser.rp_result(&rp_base).await;
    assert_eq!(username, "pat");
    assert_eq!(
        amr,
        ["pwd"],
        "a password alone, and the application is told"
    );
    assert!(acr.trim().is_empty(), "no strength is met: {acr:?}");

    // 2. The fresh password session adds Pat's authenticator app (one code checked
    //    first) and first passkey.
    browser.goto("/my/security").await;
    browser.wait_for_page("/my/security").await;
    browser.session.click("#add-totp").await;
    browser
        .wait_until(
            "the QR code",
            r##"document.querySelector("#totp-qr svg") !== null && !document.getElementById("totp-enrol").hidden"##,
        )
        .await;
    let secret = browser.text("totp-secret").await;
    let app = totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        6,
        0,
        30,
        totp_rs::Secret::Encoded(secret.trim().to_string())
            .to_bytes()
            .unwrap(),
        None,
        "pat".into(),
    );
    let step = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            / 30
    };
    let enrolled_at = step();
    browser
        .session
        .type_into("#totp-enrol-code", &app.generate(enrolled_at * 30))
        .await;
    browser.session.click("#totp-enrol-submit").await;
    browser
        .wait_until(
            "the saved app",
            r#"document.getElementById("totp") !== null"#,
        )
        .await;
    browser.register_passkey("Laptop", 1).await;
    browser.sign_out().await;

    // 3. Now the passkey leads. Its prompt fails (the device does not verify Pat), so Pat
    //    picks the password from the other ways; the password leads on to the passkey.
    browser.session.goto(&format!("{rp_base}/login")).await;
    browser.wait_for_page("/signin").await;
    browser.hide_conditional_mediation().await;
    browser.user_verifies(&authenticator, false).await;
    browser.continue_as("pat").await;
    browser
        .wait_until(
            "the failed passkey prompt",
            r#"document.getElementById("status")?.classList.contains("error")"#,
        )
        .await;
    assert!(
        !browser.password_form_shown().await,
        "the passkey came first"
    );
    assert_eq!(
        browser.other_ways().await,
        json!(["softwareOath", "password"])
    );
    browser
        .session
        .click(r#"#other-ways button[data-choice="password"]"#)
        .await;
    assert!(browser.password_form_shown().await);
    browser.user_verifies(&authenticator, true).await;
    browser.session.type_into("#password", PASSWORD).await;
    browser.session.click("#password-submit").await;
    let (_, acr, amr, username) = browser.rp_result(&rp_base).await;
    assert_eq!(username, "pat");
    assert_eq!(acr, ACR_PHISHING_RESISTANT, "the session is the passkey's");
    assert!(amr.iter().any(|m| m == "mfa"), "amr {amr:?}");

    // 4. The authenticator app from the other ways: the password, then a code.
    browser.sign_out().await;
    browser.session.goto(&format!("{rp_base}/login")).await;
    browser.wait_for_page("/signin").await;
    browser.hide_conditional_mediation().await;
    browser.user_verifies(&authenticator, false).await;
    browser.continue_as("pat").await;
    browser
        .wait_until(
            "the failed passkey prompt",
            r#"document.getElementById("status")?.classList.contains("error")"#,
        )
        .await;
    browser
        .session
        .click(r#"#other-ways button[data-choice="softwareOath"]"#)
        .await;
    browser.session.type_into("#password", PASSWORD).await;
    browser.session.click("#password-submit").await;
    browser
        .wait_until(
            "the code form",
            r#"!document.getElementById("totp-form").hidden"#,
        )
        .await;
    // A code not used before (the enrolment's step is spent).
    let next = step().max(enrolled_at + 1);
    browser
        .session
        .type_into("#totp-code", &app.generate(next * 30))
        .await;
    browser.session.click("#totp-submit").await;
    let (_, acr, amr, username) = browser.rp_result(&rp_base).await;
    assert_eq!(username, "pat");
    assert_eq!(
        acr, "urn:keyfort:acr:mfa",
        "a password and a code: multi-factor"
    );
    assert_eq!(amr, ["pwd", "otp", "mfa"]);
    browser.user_verifies(&authenticator, true).await;

    // 5. Lee's group has no passwords: Lee never sees one, though a hash is stored.
    browser.sign_out().await;
    browser.goto("/signin").await;
    browser.hide_conditional_mediation().await;
    browser.goto("/signin").await;
    browser.user_verifies(&authenticator, false).await;
    browser.continue_as("lee").await;
    browser
        .wait_until(
            "the passkey prompt's refusal",
            r#"document.getElementById("status")?.classList.contains("error")"#,
        )
        .await;
    assert!(!browser.password_form_shown().await);
    assert_eq!(browser.other_ways().await, json!([]));
    let page = browser.eval("return document.body.innerText;").await;
    assert!(
        !page.as_str().unwrap().to_lowercase().contains("password"),
        "no password anywhere on Lee's page: {page}"
    );
    eprintln!(
        "browser_passwords: passed in Chromium in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
