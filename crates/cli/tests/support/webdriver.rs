//! A thin W3C WebDriver client for the browser tests: a chromedriver process,
//! one Chromium session, elements by CSS selector, script execution, and the
//! WebAuthn virtual-authenticator extension commands
//! (<https://www.w3.org/TR/webauthn-3/#sctn-automation>).
#![allow(dead_code)]

use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The key under which WebDriver returns an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A failed WebDriver command: the W3C error code (or a transport failure) and its message.
#[derive(Debug)]
pub struct WebDriverError {
    pub error: String,
    pub message: String,
}

impl std::fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.message)
    }
}

/// A chromedriver process on a free local port, killed on drop.
pub struct ChromeDriver {
    child: Child,
    /// `127.0.0.1:PORT`
    pub addr: String,
}

impl ChromeDriver {
    /// Starts `chromedriver` and waits until its `/status` says it is ready.
    pub async fn start(path: &str) -> ChromeDriver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free local port")
            .port();
        let child = Command::new(path)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start chromedriver {path}: {e}"));
        let driver = ChromeDriver {
            child,
            addr: format!("127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let status = http
                .get(format!("http://{}/status", driver.addr))
                .send()
                .await;
            if let Ok(res) = status
                && let Ok(body) = res.json::<Value>().await
                && body["value"]["ready"] == json!(true)
            {
                return driver;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver {path} did not become ready on port {port} within 20 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser session. Dropping it deletes the session, which makes
/// chromedriver quit Chromium, then removes the profile directory.
pub struct Session {
    http: reqwest::Client,
    driver_addr: String,
    id: String,
    _profile: tempfile::TempDir,
}

impl Session {
    /// Opens headless Chromium with a fresh profile.
    pub async fn chromium(driver: &ChromeDriver, binary: &str) -> Session {
        let profile = tempfile::tempdir().expect("temp dir for the Chromium profile");
        let args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--no-first-run".into(),
            "--disable-quic".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": { "binary": binary, "args": args },
                }
            }
        });
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(90))
            .build()
            .expect("HTTP client");
        let created = send(&http, &driver.addr, "POST", "/session", Some(capabilities))
            .await
            .unwrap_or_else(|e| panic!("cannot create a Chromium session ({binary}): {e}"));
        let id = created["sessionId"]
            .as_str()
            .expect("new session has a sessionId")
            .to_string();
        Session {
            http,
            driver_addr: driver.addr.clone(),
            id,
            _profile: profile,
        }
    }

    /// Sends a command under `/session/{id}`; `path` starts with `/` (or is empty).
    pub async fn command(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, WebDriverError> {
        let path = format!("/session/{}{path}", self.id);
        send(&self.http, &self.driver_addr, method, &path, body).await
    }

    async fn expect(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.command(method, path, body)
            .await
            .unwrap_or_else(|e| panic!("WebDriver {method} {path} failed: {e}"))
    }

    /// Navigates and waits for the page load (not for navigations its scripts start later).
    pub async fn goto(&self, url: &str) {
        self.expect("POST", "/url", Some(json!({ "url": url })))
            .await;
    }

    pub async fn current_url(&self) -> Result<String, WebDriverError> {
        let v = self.command("GET", "/url", None).await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    /// The first element matching a CSS selector.
    pub async fn find(&self, css: &str) -> Result<String, WebDriverError> {
        let v = self
            .command(
                "POST",
                "/element",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await?;
        Ok(v[ELEMENT_KEY]
            .as_str()
            .expect("element reference")
            .to_string())
    }

    /// Clicks the element matching `css`, as a user would.
    pub async fn click(&self, css: &str) {
        let el = self
            .find(css)
            .await
            .unwrap_or_else(|e| panic!("no element {css} to click: {e}"));
        self.expect("POST", &format!("/element/{el}/click"), Some(json!({})))
            .await;
    }

    /// Clears the input matching `css` and types `text` into it.
    pub async fn type_into(&self, css: &str, text: &str) {
        let el = self
            .find(css)
            .await
            .unwrap_or_else(|e| panic!("no element {css} to type into: {e}"));
        self.expect("POST", &format!("/element/{el}/clear"), Some(json!({})))
            .await;
        self.expect(
            "POST",
            &format!("/element/{el}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// Runs a synchronous script (a function body: use `return`) in the page.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value, WebDriverError> {
        self.command(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
        .await
    }

    /// Runs a Chrome DevTools Protocol command (chromedriver's `goog/cdp/execute` extension).
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.expect(
            "POST",
            "/goog/cdp/execute",
            Some(json!({ "cmd": cmd, "params": params })),
        )
        .await
    }

    /// Adds a virtual authenticator with the given options and returns its id.
    pub async fn add_virtual_authenticator(&self, options: Value) -> String {
        let v = self
            .expect("POST", "/webauthn/authenticator", Some(options))
            .await;
        v.as_str().expect("authenticator id").to_string()
    }

    /// The credentials a virtual authenticator holds.
    pub async fn virtual_credentials(&self, authenticator: &str) -> Vec<Value> {
        let v = self
            .expect(
                "GET",
                &format!("/webauthn/authenticator/{authenticator}/credentials"),
                None,
            )
            .await;
        v.as_array().cloned().unwrap_or_default()
    }

    /// Removes a virtual authenticator (and its credentials).
    pub async fn remove_virtual_authenticator(&self, authenticator: &str) {
        self.expect(
            "DELETE",
            &format!("/webauthn/authenticator/{authenticator}"),
            None,
        )
        .await;
    }
}

impl Drop for Session {
    /// Deletes the session synchronously (drop cannot await), also when a test panics,
    /// so that no Chromium outlives the test.
    fn drop(&mut self) {
        use std::io::{Read, Write};
        let Ok(mut stream) = std::net::TcpStream::connect(&self.driver_addr) else {
            return;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
        let request = format!(
            "DELETE /session/{} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\n\r\n",
            self.id, self.driver_addr
        );
        if stream.write_all(request.as_bytes()).is_err() {
            return;
        }
        // chromedriver keeps the connection open even when asked to close it:
        // read exactly one response (headers, then Content-Length bytes).
        let mut response = Vec::new();
        let mut chunk = [0u8; 4096];
        while !complete_response(&response) {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => response.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

/// Whether `buf` holds a whole HTTP response with a `Content-Length` body.
fn complete_response(buf: &[u8]) -> bool {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let headers = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    let length = headers
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    buf.len() >= end + 4 + length
}

/// Sends one WebDriver command and unwraps its `value`, or its error.
async fn send(
    http: &reqwest::Client,
    addr: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<Value, WebDriverError> {
    let url = format!("http://{addr}{path}");
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("HTTP method");
    let mut req = http.request(method, url);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let transport = |e: reqwest::Error| WebDriverError {
        error: "transport".into(),
        message: e.to_string(),
    };
    let res = req.send().await.map_err(transport)?;
    let ok = res.status().is_success();
    let body: Value = res.json().await.map_err(transport)?;
    let value = body.get("value").cloned().unwrap_or(Value::Null);
    if ok {
        Ok(value)
    } else {
        Err(WebDriverError {
            error: value["error"].as_str().unwrap_or("unknown").to_string(),
            message: value["message"].as_str().unwrap_or_default().to_string(),
        })
    }
}
