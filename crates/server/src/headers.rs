//! Security headers, set in one layer for every response Keyfort sends.
//!
//! Every response: `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`, and
//! HSTS when the public URL is https. Every HTML page besides: a strict Content Security
//! Policy (Keyfort's pages load only their own script and stylesheet and post only to
//! Keyfort) and `X-Frame-Options: DENY`, so no page — My security, the sign-out
//! confirmation — can be framed. A page whose form legitimately ends at another origin
//! (the sign-out confirmation redirects to the application's registered URI) sets its
//! own policy with [`csp_allowing_form_target`]; the layer leaves such a policy alone.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// The policy of every Keyfort page.
pub const CSP: &str = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";

/// Two years, the preload list's minimum (RFC 6797 §6.1.1).
const HSTS: &str = "max-age=63072000; includeSubDomains";

/// Whether responses carry HSTS: set from the public URL's scheme.
#[derive(Clone, Copy)]
pub struct Https(pub bool);

/// The page policy, with `origin` also allowed as the end of a form submission (the
/// browser applies `form-action` to the redirects that follow a POST).
pub fn csp_allowing_form_target(origin: &str) -> Option<HeaderValue> {
    // An origin is scheme://host[:port]: nothing that could end or add a directive.
    if origin
        .bytes()
        .any(|b| b == b';' || b == b',' || b.is_ascii_whitespace() || b == b'\'')
    {
        return None;
    }
    HeaderValue::from_str(&CSP.replace(
        "form-action 'self'",
        &format!("form-action 'self' {origin}"),
    ))
    .ok()
}

pub async fn security_headers(State(https): State<Https>, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    let html = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if https.0 {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    if html {
        if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            );
        }
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_target_joins_form_action_only() {
        let v = csp_allowing_form_target("https://wiki.example.com").unwrap();
        let v = v.to_str().unwrap();
        assert!(
            v.contains("form-action 'self' https://wiki.example.com;"),
            "{v}"
        );
        assert!(v.contains("frame-ancestors 'none'"));
        assert!(csp_allowing_form_target("https://a.example; script-src *").is_none());
        assert!(csp_allowing_form_target("https://a.example 'unsafe-inline'").is_none());
    }
}
