//! Calls to the admin API as the tests make them: a client-credentials caller holding
//! roles, one request and what it answered.

use super::inproc::{Harness, TestClient};
use keyfort_core::roles::{PrincipalKind, Role};
use keyfort_server::app;
use serde_json::Value;

fn now() -> i64 {
    keyfort_server::state::now_ms()
}

pub const A: &str = "/api/v1/admin";

/// A confidential client holding `roles`, and an access token it obtained with client
/// credentials for `scope`.
pub async fn caller(h: &Harness, roles: &[Role], scope: &str) -> (TestClient, String) {
    let c = h
        .add_client(false, &["client_credentials"], "client_secret_basic", None)
        .await;
    for r in roles {
        app::roles::assign(&h.store, PrincipalKind::Client, &c.id, *r, "test", now())
            .await
            .unwrap();
    }
    let token = token(h, &c, scope).await;
    (c, token)
}

pub async fn token(h: &Harness, c: &TestClient, scope: &str) -> String {
    let r = token_request(
        h,
        c,
        &[("grant_type", "client_credentials"), ("scope", scope)],
    )
    .await;
    r["access_token"].as_str().expect("a token").to_string()
}

/// A token request by `c` (Basic authentication) that must succeed; its answer.
pub async fn token_request(h: &Harness, c: &TestClient, form: &[(&str, &str)]) -> Value {
    let r = reqwest::Client::new()
        .post(h.url("/token"))
        .basic_auth(&c.id, c.secret.as_deref())
        .form(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "token request {form:?}");
    r.json().await.unwrap()
}

/// Revokes `token` as `c` (RFC 7009), which answers 200.
pub async fn revoke(h: &Harness, c: &TestClient, token: &str) {
    let r = reqwest::Client::new()
        .post(h.url("/revoke"))
        .basic_auth(&c.id, c.secret.as_deref())
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// What one call answered.
pub struct Reply {
    pub status: u16,
    /// The error code, when the body has one.
    pub code: String,
    pub body: Value,
    pub what: String,
}

impl Reply {
    /// The body, when the call answered `status`.
    pub fn answers(self, status: u16) -> Value {
        assert_eq!(self.status, status, "{}: {}", self.what, self.body);
        self.body
    }

    /// The body, when the call was refused with `status` and the error `code`.
    pub fn refused(self, status: u16, code: &str) -> Value {
        assert_eq!(
            (self.status, self.code.as_str()),
            (status, code),
            "{}: {}",
            self.what,
            self.body
        );
        self.body
    }
}

pub async fn call(
    h: &Harness,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let http = reqwest::Client::new();
    let mut req = http.request(method.parse().unwrap(), h.url(&format!("{A}{path}")));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    Reply {
        status,
        code: body["error"].as_str().unwrap_or("").to_string(),
        body,
        what: format!("{method} {path}"),
    }
}
