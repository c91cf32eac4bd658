//! What the WebAuthn targets share: the relying party and the user they register.

pub const BASE: &str = "http://localhost:8080";

pub fn relying_party() -> webauthn_rs_core::WebauthnCore {
    webauthn_rs_core::WebauthnCore::new_unsafe_experts_only(
        "Keyfort",
        "localhost",
        vec![url::Url::parse(BASE).unwrap()],
        std::time::Duration::from_secs(300),
        Some(false),
        Some(false),
    )
}

pub fn user() -> keyfort_store::User {
    keyfort_store::User {
        id: "00000000-0000-4000-8000-000000000001".into(),
        username: "alice".into(),
        display_name: "Alice".into(),
        email: None,
        given_name: None,
        family_name: None,
        employee_id: None,
        attributes: serde_json::json!({}),
        user_type: "member".into(),
        enabled: true,
        is_admin: false,
        created_at: 0,
        last_signin_at: None,
    }
}
