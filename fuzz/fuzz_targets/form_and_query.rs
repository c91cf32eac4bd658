//! Form bodies at the token endpoints, and authorization and sign-out queries through
//! the same parsing and validation the handlers use.
#![no_main]
use axum::http::{HeaderMap, HeaderValue, header};
use keyfort_server::oidc::authorize::{AuthorizeParams, validate};
use keyfort_store::ClientRecord;
use libfuzzer_sys::fuzz_target;

fn client() -> ClientRecord {
    ClientRecord {
        id: "app".into(),
        name: "App".into(),
        secret_hash: None,
        public_client: 1,
        redirect_uris: r#"["https://app.example/cb"]"#.into(),
        post_logout_redirect_uris: "[]".into(),
        grant_types: r#"["authorization_code","refresh_token"]"#.into(),
        auth_method: "none".into(),
        jwks: None,
        id_token_alg: "ES256".into(),
        groups_claim: 0,
        created_at: 0,
        secret_rotated_at: None,
    }
}

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    let _ = keyfort_server::oidc::token::parse_form(&headers, data);
    if let Ok(p) = serde_urlencoded::from_bytes::<AuthorizeParams>(data) {
        let _ = validate(&client(), &p, 1_700_000_000_000);
    }
    let _ = serde_urlencoded::from_bytes::<keyfort_server::oidc::logout::LogoutParams>(data);
});
