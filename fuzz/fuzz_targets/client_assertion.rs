//! `private_key_jwt` client assertions, up to the point a key is chosen: the header and
//! the claimed issuer, both read before any signature is checked.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = jsonwebtoken::decode_header(text);
    if let Ok(iss) = keyfort_server::oidc::client_auth::assertion_issuer(text) {
        assert!(!iss.is_empty() && iss.len() <= 256);
    }
});
