//! End to end in a real browser: headless Chromium driven by chromedriver over
//! W3C WebDriver, with Chrome's WebAuthn virtual authenticators standing in for
//! the user's passkey providers.
//!
//! The test needs `KEYFORT_TEST_CHROMEDRIVER` (path to chromedriver) and, if
//! Chromium is not `/usr/bin/chromium`, `KEYFORT_TEST_CHROMIUM`. Without the
//! former it prints `SKIPPED browser: ...` and passes.
//!
//! What Chromium does here (Chromium 156 with chromedriver 156):
//! - While a virtual authenticator is attached, Chrome shows no WebAuthn UI at
//!   all, and a *conditional* `navigator.credentials.get` (the autofill request
//!   the sign-in page starts on load) goes straight to the virtual
//!   authenticator like a modal one: it resolves a few milliseconds after the
//!   page starts it, without the username field being clicked or typed into.
//!   If the authenticator holds no credential for the site it is rejected at
//!   once with `NotAllowedError` (a real browser would keep it pending).
//! - So to sign in username-first, the test makes conditional mediation look
//!   unavailable (as in a browser without passkey autofill); otherwise the
//!   autofill request would win the race before `#continue` is clicked.
//!
//! To tell which kind of request signed the user in, a script installed
//! through the DevTools protocol before any page script runs wraps
//! `navigator.credentials.get` and records each call's mediation and outcome
//! in `sessionStorage`.

mod support;
#[path = "support/webdriver.rs"]
mod webdriver;

use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::ServerProcess;
use webdriver::{ChromeDriver, Session};

/// How long any one wait in the browser may take.
const WAIT: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(100);

/// `sessionStorage` key of the record of `navigator.credentials.get` calls.
const GET_LOG: &str = "keyfort-test:credential-gets";
/// `sessionStorage` key that, set to "off", hides conditional mediation from the pages.
const CONDITIONAL_SWITCH: &str = "keyfort-test:conditional";

/// Runs in every document before its own scripts (see the module comment);
/// `GET_LOG` and `CONDITIONAL_SWITCH` stand for the keys above.
const INSTRUMENTATION: &str = r#"(() => {
  let storage;
  try { storage = window.sessionStorage; } catch (_) { return; }
  if (!storage || !navigator.credentials || !window.PublicKeyCredential) return;
  if (storage.getItem("CONDITIONAL_SWITCH") === "off") {
    PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false);
  }
  const record = (entry) => {
    const log = JSON.parse(storage.getItem("GET_LOG") || "[]");
    log.push(entry);
    storage.setItem("GET_LOG", JSON.stringify(log));
  };
  const get = navigator.credentials.get.bind(navigator.credentials);
  navigator.credentials.get = (options) => {
    const mediation = (options && options.mediation) || "optional";
    record({ mediation, event: "start" });
    return get(options).then(
      (credential) => { record({ mediation, event: "resolved" }); return credential; },
      (error) => { record({ mediation, event: "rejected " + error.name }); throw error; });
  };
})();"#;

/// Virtual authenticator options: a platform authenticator (`internal`) with
/// discoverable credentials and user verification that always succeeds.
/// `backup_eligible` makes it behave like a synced passkey provider (BE and BS
/// flags set), otherwise like a device-bound one.
fn authenticator_options(backup_eligible: bool) -> Value {
    json!({
        "protocol": "ctap2",
        "transport": "internal",
        "hasResidentKey": true,
        "hasUserVerification": true,
        "isUserVerified": true,
        "isUserConsenting": true,
        "defaultBackupEligibility": backup_eligible,
        "defaultBackupState": backup_eligible,
    })
}

/// The browser under test, with helpers that know Keyfort's pages.
struct Browser {
    session: Session,
    base: String,
}

impl Browser {
    async fn goto(&self, path: &str) {
        self.session.goto(&format!("{}{path}", self.base)).await;
    }

    /// Polls a JavaScript expression until it is truthy; on timeout fails with
    /// the current URL and the page's `#status` message. Script errors (for
    /// example while a navigation is under way) count as "not yet".
    async fn wait_until(&self, what: &str, condition: &str) {
        let script = format!("return !!({condition});");
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(Value::Bool(true)) = self.session.execute(&script, vec![]).await {
                return;
            }
            if Instant::now() >= deadline {
                let (url, status) = self.where_am_i().await;
                panic!(
                    "timed out after {WAIT:?} waiting for {what}; URL {url}, #status {status:?}"
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The current URL and the text of `#status` (if the page has one and shows it).
    async fn where_am_i(&self) -> (String, String) {
        let url = match self.session.current_url().await {
            Ok(url) => url,
            Err(e) => format!("(unknown: {e})"),
        };
        let status = self
            .session
            .execute(
                r#"const s = document.getElementById("status");
                   return s && !s.hidden ? s.textContent : "(none)";"#,
                vec![],
            )
            .await
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .unwrap_or_else(|e| format!("(unreadable: {e})"));
        (url, status)
    }

    /// Waits until the page at `path` has finished loading.
    async fn wait_for_page(&self, path: &str) {
        self.wait_until(
            &format!("the page {path}"),
            &format!(r#"location.pathname === "{path}" && document.readyState === "complete""#),
        )
        .await;
    }

    /// Evaluates a script that returns JSON-able data, failing the test on error.
    async fn eval(&self, script: &str) -> Value {
        self.session
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

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

    /// Whether `/my/security` shows the "you signed in with a pass" notice.
    async fn shows_pass_notice(&self) -> bool {
        self.eval(r#"return document.querySelector("p.notice") !== null;"#)
            .await
            == json!(true)
    }

    /// The recorded `navigator.credentials.get` calls, then forgets them.
    async fn take_credential_gets(&self) -> Vec<(String, String)> {
        let log = self
            .eval(&format!(
                r#"const log = JSON.parse(sessionStorage.getItem("{GET_LOG}") || "[]");
                   sessionStorage.removeItem("{GET_LOG}");
                   return log.map((e) => [e.mediation, e.event]);"#
            ))
            .await;
        serde_json::from_value(log).expect("credential get log")
    }

    /// Hides passkey autofill (conditional mediation) from the documents loaded
    /// from now on in this tab, as in a browser that does not offer it.
    async fn hide_conditional_mediation(&self) {
        self.eval(&format!(
            r#"sessionStorage.setItem("{CONDITIONAL_SWITCH}", "off");"#
        ))
        .await;
    }

    /// Signs out with the button on `/signout` and checks the result.
    async fn sign_out(&self) {
        self.goto("/signout").await;
        self.session.click("#signout-button").await;
        // The page shows this only to a browser without a live session. (Do not
        // probe /my/security here: it redirects to /signin, whose autofill
        // request would sign straight back in.)
        self.wait_until(
            "the signed-out message",
            r#"document.getElementById("signed-out") !== null"#,
        )
        .await;
    }
}

#[tokio::test]
async fn passkeys_in_chromium() {
    let Some(chromedriver) = std::env::var("KEYFORT_TEST_CHROMEDRIVER")
        .ok()
        .filter(|s| !s.is_empty())
    else {
        eprintln!(
            "SKIPPED browser: KEYFORT_TEST_CHROMEDRIVER is not set (path to chromedriver; KEYFORT_TEST_CHROMIUM names Chromium, default /usr/bin/chromium)"
        );
        return;
    };
    let chromium = std::env::var("KEYFORT_TEST_CHROMIUM")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "/usr/bin/chromium".to_string());
    let started = Instant::now();

    let server = ServerProcess::start(&[]);
    let pass = server
        .first_pass
        .clone()
        .expect("the first start prints a Temporary Access Pass for admin");
    // Dropped in reverse order: the session (and Chromium) before chromedriver.
    let driver = ChromeDriver::start(&chromedriver).await;
    let session = Session::chromium(&driver, &chromium).await;
    session
        .cdp(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": INSTRUMENTATION
                .replace("CONDITIONAL_SWITCH", CONDITIONAL_SWITCH)
                .replace("GET_LOG", GET_LOG) }),
        )
        .await;
    let browser = Browser {
        session,
        base: server.base.clone(),
    };

    // 1. Onboarding: the administrator signs in with the printed pass...
    browser.goto("/signin/tap?username=admin").await;
    let prefilled = browser
        .eval(r#"return document.getElementById("tap-username").value;"#)
        .await;
    assert_eq!(
        prefilled,
        json!("admin"),
        "the pass page prefills the username"
    );
    browser.session.type_into("#tap-code", &pass).await;
    browser.session.click("#tap-submit").await;
    browser.wait_for_page("/my/security").await;
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
    let synced = browser
        .session
        .add_virtual_authenticator(authenticator_options(true))
        .await;
    browser
        .session
        .type_into("#new-passkey-name", "Synced key")
        .await;
    browser.session.click("#add-passkey-button").await;
    browser
        .wait_until(
            "one listed passkey after registering",
            r#"document.querySelectorAll("li.passkey").length === 1"#,
        )
        .await;
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
    //    itself under the virtual authenticator (see the module comment).
    browser.take_credential_gets().await;
    browser.goto("/signin").await;
    browser.wait_for_page("/my/security").await;
    let gets = browser.take_credential_gets().await;
    assert_eq!(
        gets,
        [
            ("conditional".to_string(), "start".to_string()),
            ("conditional".to_string(), "resolved".to_string()),
        ],
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
        [
            ("optional".to_string(), "start".to_string()),
            ("optional".to_string(), "resolved".to_string()),
        ],
        "the username-first (modal) request signed in"
    );
    assert!(!browser.shows_pass_notice().await);

    // 5. A device-bound passkey: swap the synced provider for one without
    //    backup eligibility and register, within 5 minutes of the passkey sign-in.
    browser.session.remove_virtual_authenticator(&synced).await;
    let device = browser
        .session
        .add_virtual_authenticator(authenticator_options(false))
        .await;
    browser
        .session
        .type_into("#new-passkey-name", "Device key")
        .await;
    browser.session.click("#add-passkey-button").await;
    browser
        .wait_until(
            "two listed passkeys after registering",
            r#"document.querySelectorAll("li.passkey").length === 2"#,
        )
        .await;
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
    let sign_count = credentials[0]["signCount"].as_u64().unwrap_or(0);

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
        [
            ("optional".to_string(), "start".to_string()),
            ("optional".to_string(), "resolved".to_string()),
        ],
        "the discoverable (modal) request signed in"
    );
    let credentials = browser.session.virtual_credentials(&device).await;
    assert!(
        credentials[0]["signCount"].as_u64().unwrap_or(0) > sign_count,
        "the device-bound passkey was used: {credentials:?}"
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

    eprintln!(
        "browser: passkey flows passed in Chromium in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
