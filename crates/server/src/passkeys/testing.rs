//! What the passkey tests share: a relying party at `http://localhost:8080` and a user.

use std::time::Duration;
use url::Url;
use webauthn_rs_core::WebauthnCore;

pub const BASE: &str = "http://localhost:8080";

pub fn rp() -> WebauthnCore {
    WebauthnCore::new_unsafe_experts_only(
        "Keyfort",
        "localhost",
        vec![Url::parse(BASE).unwrap()],
        Duration::from_secs(300),
        Some(false),
        Some(false),
    )
}

pub fn alice() -> keyfort_store::User {
    keyfort_store::User {
        id: "00000000-0000-4000-8000-000000000001".into(),
        username: "alice".into(),
        display_name: "Alice".into(),
        email: None,
        given_name: None,
        family_name: None,
        employee_id: None,
        attributes: serde_json::json!({}),
        user_type: keyfort_core::directory::UserType::Member,
        enabled: true,
        is_admin: false,
        created_at: 0,
        last_signin_at: None,
    }
}
