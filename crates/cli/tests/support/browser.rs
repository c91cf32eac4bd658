//! Shared by the real-browser tests (`browser.rs`, `browser_oidc.rs`,
//! `browser_onboarding.rs`): a
//! Keyfort server with the administrator's first pass, headless Chromium under
//! chromedriver with the test's instrumentation, and helpers that know
//! Keyfort's pages. Declared next to `support` and `webdriver` (which it uses)
//! with `#[path = "support/browser.rs"] mod browser;`.
//!
//! What Chromium does here (Chromium 156 with chromedriver 156):
//! - While a virtual authenticator is attached, Chrome shows no WebAuthn UI at
//!   all, and a *conditional* `navigator.credentials.get` (the autofill request
//!   the sign-in page starts on load) goes straight to the virtual
//!   authenticator like a modal one: it resolves a few milliseconds after the
//!   page starts it, without the username field being clicked or typed into.
//!   If the authenticator holds no credential for the site it is rejected at
//!   once with `NotAllowedError` (a real browser would keep it pending).
//! - So to sign in username-first, or with the "Sign in with a passkey"
//!   button, a test makes conditional mediation look unavailable (as in a
//!   browser without passkey autofill); otherwise the autofill request would
//!   win the race before the button is clicked.
//!
//! To tell which kind of request signed the user in, a script installed
//! through the DevTools protocol before any page script runs wraps
//! `navigator.credentials.get` and records each call's mediation and outcome
//! in `sessionStorage`.

#![allow(dead_code)] // each browser test uses the helpers it needs

use crate::support::ServerProcess;
use crate::webdriver::{ChromeDriver, Session};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// How long any one wait in the browser may take.
const WAIT: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(100);

/// `sessionStorage` key of the record of `navigator.credentials.get` calls.
const GET_LOG: &str = "keyfort-test:credential-gets";
/// `sessionStorage` key that, set to "off", hides conditional mediation from the pages.
const CONDITIONAL_SWITCH: &str = "keyfort-test:conditional";

/// Runs in every document before its own scripts (see the module comment);
/// `GET_LOG` and `CONDITIONAL_SWITCH` stand for the keys above. `sessionStorage`
/// belongs to one origin, so the switch set on Keyfort's pages does not reach
/// another origin's (such as browser_oidc's relying party, which makes no
/// WebAuthn calls anyway).
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
  // The signal API calls and the hints of each create, as the page made them.
  const note = (entry) => {
    const log = JSON.parse(storage.getItem("SIGNAL_LOG") || "[]");
    log.push(entry);
    storage.setItem("SIGNAL_LOG", JSON.stringify(log));
  };
  for (const name of ["signalUnknownCredential", "signalAllAcceptedCredentials", "signalCurrentUserDetails"]) {
    const original = PublicKeyCredential[name];
    if (typeof original !== "function") continue;
    PublicKeyCredential[name] = (args) => {
      note({ call: name, args });
      return original.call(PublicKeyCredential, args);
    };
  }
  const create = navigator.credentials.create.bind(navigator.credentials);
  navigator.credentials.create = (options) => {
    note({ call: "create", args: { hints: (options && options.publicKey && options.publicKey.hints) || [] } });
    return create(options);
  };
})();"#;

/// `sessionStorage` key of the record of signal API calls and creates.
const SIGNAL_LOG: &str = "keyfort-test:signals";

/// The chromedriver and Chromium binaries the test command names
/// (`KEYFORT_TEST_CHROMEDRIVER`, and `KEYFORT_TEST_CHROMIUM` defaulting to
/// `/usr/bin/chromium`); without chromedriver, prints `SKIPPED {test}: ...`
/// and returns `None`.
pub fn binaries(test: &str) -> Option<(String, String)> {
    let Some(chromedriver) = std::env::var("KEYFORT_TEST_CHROMEDRIVER")
        .ok()
        .filter(|s| !s.is_empty())
    else {
        eprintln!(
            "SKIPPED {test}: KEYFORT_TEST_CHROMEDRIVER is not set (path to chromedriver; KEYFORT_TEST_CHROMIUM names Chromium, default /usr/bin/chromium)"
        );
        return None;
    };
    let chromium = std::env::var("KEYFORT_TEST_CHROMIUM")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "/usr/bin/chromium".to_string());
    Some((chromedriver, chromium))
}

/// A fresh Keyfort server and the Temporary Access Pass its first start prints
/// for the administrator.
pub fn server_with_first_pass() -> (ServerProcess, String) {
    let server = ServerProcess::start(&[]);
    let pass = server
        .first_pass
        .clone()
        .expect("the first start prints a Temporary Access Pass for admin");
    (server, pass)
}

/// What [`Browser::take_credential_gets`] returns after exactly one
/// `navigator.credentials.get` call with this mediation ("conditional" for
/// autofill, "optional" for a modal request) that resolved.
pub fn one_resolved_get(mediation: &str) -> [(String, String); 2] {
    [
        (mediation.to_string(), "start".to_string()),
        (mediation.to_string(), "resolved".to_string()),
    ]
}

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
pub struct Browser {
    pub session: Session,
    /// Declared after `session`: fields drop in order, so the session (and
    /// Chromium) goes before chromedriver.
    _driver: ChromeDriver,
    /// Keyfort's base URL, which is also its origin.
    pub base: String,
}

impl Browser {
    /// Starts chromedriver and a Chromium session with the instrumentation
    /// installed for every new document, for the Keyfort server at `base`.
    pub async fn start(chromedriver: &str, chromium: &str, base: &str) -> Browser {
        let driver = ChromeDriver::start(chromedriver).await;
        let session = Session::chromium(&driver, chromium).await;
        session
            .cdp(
                "Page.addScriptToEvaluateOnNewDocument",
                json!({ "source": INSTRUMENTATION
                    .replace("CONDITIONAL_SWITCH", CONDITIONAL_SWITCH)
                    .replace("GET_LOG", GET_LOG)
                    .replace("SIGNAL_LOG", SIGNAL_LOG) }),
            )
            .await;
        Browser {
            session,
            _driver: driver,
            base: base.to_string(),
        }
    }

    /// Navigates to `path` on Keyfort.
    pub async fn goto(&self, path: &str) {
        self.session.goto(&format!("{}{path}", self.base)).await;
    }

    /// Polls a JavaScript expression until it is truthy; on timeout fails with
    /// the current URL and what the page says. Script errors (for example while
    /// a navigation is under way) count as "not yet".
    pub async fn wait_until(&self, what: &str, condition: &str) {
        let script = format!("return !!({condition});");
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(Value::Bool(true)) = self.session.execute(&script, vec![]).await {
                return;
            }
            if Instant::now() >= deadline {
                let (url, says) = self.where_am_i().await;
                panic!("timed out after {WAIT:?} waiting for {what}; URL {url}, page says {says}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The current URL, and Keyfort's `#status` (if the page has one and shows
    /// it) or the relying party's `#error`.
    pub async fn where_am_i(&self) -> (String, String) {
        let url = match self.session.current_url().await {
            Ok(url) => url,
            Err(e) => format!("(unknown: {e})"),
        };
        let says = self
            .session
            .execute(
                r#"const s = document.getElementById("status");
                   const e = document.getElementById("error");
                   const d = document.getElementById("error-description");
                   return JSON.stringify({
                     status: s && !s.hidden ? s.textContent : null,
                     error: e ? e.textContent : null,
                     description: d ? d.textContent : null,
                     title: document.title,
                   });"#,
                vec![],
            )
            .await
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .unwrap_or_else(|e| format!("(unreadable: {e})"));
        (url, says)
    }

    /// Waits until Keyfort's page at `path` has finished loading.
    pub async fn wait_for_page(&self, path: &str) {
        let origin = &self.base;
        self.wait_until(
            &format!("the page {origin}{path}"),
            &format!(
                r#"location.origin === "{origin}" && location.pathname === "{path}" && document.readyState === "complete""#
            ),
        )
        .await;
    }

    /// Evaluates a script that returns JSON-able data, failing the test on error.
    pub async fn eval(&self, script: &str) -> Value {
        self.session
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Whether an element matches `css`.
    pub async fn has(&self, css: &str) -> bool {
        self.eval(&format!(
            "return document.querySelector({}) !== null;",
            json!(css)
        ))
        .await
            == json!(true)
    }

    /// Opens the pass sign-in page with the username `admin` filled in.
    pub async fn open_admin_pass_signin(&self) {
        self.goto("/signin/tap?username=admin").await;
    }

    /// Submits `pass` on the open pass sign-in page, waits for "Set up your passkey"
    /// (where a pass sign-in leads a person who may register one), declines it with
    /// "Not now" and waits for `/my/security`.
    pub async fn submit_pass(&self, pass: &str) {
        self.submit_pass_to_setup(pass).await;
        self.session.click("#setup-skip").await;
        self.wait_for_page("/my/security").await;
    }

    /// Submits `pass` on the open pass sign-in page and waits for "Set up your passkey".
    pub async fn submit_pass_to_setup(&self, pass: &str) {
        self.session.type_into("#tap-code", pass).await;
        self.session.click("#tap-submit").await;
        self.wait_for_page("/signin/setup").await;
    }

    /// Signs out with the button on `/signout` and checks the result.
    pub async fn sign_out(&self) {
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

    /// Whether `/my/security` shows the "you signed in with a pass" notice.
    pub async fn shows_pass_notice(&self) -> bool {
        self.has("p.notice").await
    }

    /// Attaches a virtual authenticator (see [`authenticator_options`]) and
    /// returns its id.
    pub async fn add_authenticator(&self, backup_eligible: bool) -> String {
        self.session
            .add_virtual_authenticator(authenticator_options(backup_eligible))
            .await
    }

    /// Registers a passkey named `name` on `/my/security` and waits until the
    /// page lists `listed` passkeys.
    pub async fn register_passkey(&self, name: &str, listed: usize) {
        self.session.type_into("#new-passkey-name", name).await;
        self.session.click("#add-passkey-button").await;
        self.wait_until(
            &format!("{listed} listed passkey(s) after registering {name:?}"),
            &format!(r#"document.querySelectorAll("li.passkey").length === {listed}"#),
        )
        .await;
    }

    /// The signature counter of the virtual authenticator's only credential.
    pub async fn sign_count(&self, authenticator: &str) -> u64 {
        let credentials = self.session.virtual_credentials(authenticator).await;
        assert_eq!(
            credentials.len(),
            1,
            "the authenticator holds one passkey: {credentials:?}"
        );
        credentials[0]["signCount"]
            .as_u64()
            .unwrap_or_else(|| panic!("a signCount: {credentials:?}"))
    }

    /// The recorded `navigator.credentials.get` calls of the current origin, then forgets them.
    pub async fn take_credential_gets(&self) -> Vec<(String, String)> {
        let log = self
            .eval(&format!(
                r#"const log = JSON.parse(sessionStorage.getItem("{GET_LOG}") || "[]");
                   sessionStorage.removeItem("{GET_LOG}");
                   return log.map((e) => [e.mediation, e.event]);"#
            ))
            .await;
        serde_json::from_value(log).expect("credential get log")
    }

    /// The recorded signal API calls and creates of the current origin, as
    /// `{call, args}`, then forgets them.
    pub async fn take_signals(&self) -> Vec<Value> {
        let log = self
            .eval(&format!(
                r#"const log = JSON.parse(sessionStorage.getItem("{SIGNAL_LOG}") || "[]");
                   sessionStorage.removeItem("{SIGNAL_LOG}");
                   return log;"#
            ))
            .await;
        serde_json::from_value(log).expect("signal log")
    }

    /// Hides passkey autofill (conditional mediation) from the documents of the
    /// current origin loaded from now on in this tab, as in a browser that does
    /// not offer it.
    pub async fn hide_conditional_mediation(&self) {
        self.eval(&format!(
            r#"sessionStorage.setItem("{CONDITIONAL_SWITCH}", "off");"#
        ))
        .await;
    }
}
