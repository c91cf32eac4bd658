//! What every sign-in shares: the sign-in log row and the browser session it ends in.

use crate::crypto::{random_token, token_hash};
use crate::error::ApiError;
use crate::extract::{ClientInfo, session_cookie};
use crate::state::AppState;
use keyfort_core::session::{SignInMethod, session_expiry};
use keyfort_store::{PassRecord, PasskeyUse, SessionRecord, SignInEvent, User};

/// Writes the sign-in log row for a refused attempt and hands the error back.
pub async fn refused(
    state: &AppState,
    client: &ClientInfo,
    method: &'static str,
    user: Option<&User>,
    username: Option<&str>,
    now: i64,
    error: ApiError,
) -> ApiError {
    let event = SignInEvent {
        at: now,
        user_id: user.map(|u| u.id.clone()),
        username: user
            .map(|u| u.username.clone())
            .or_else(|| username.map(|s| s.chars().take(128).collect())),
        method,
        outcome: "failure",
        reason: error.code,
        ip: client.ip.clone(),
        user_agent: client.user_agent.clone(),
    };
    if let Err(e) = state.store.log_signin(&event).await {
        tracing::error!(error = %e, "could not write the sign-in log");
        return ApiError::internal();
    }
    error
}

/// Creates the session for a successful sign-in, logs it, and returns the `Set-Cookie` value —
/// `None` when the passkey's counter update lost a race with a concurrent use (nothing written).
pub async fn establish(
    state: &AppState,
    client: &ClientInfo,
    user: &User,
    method: SignInMethod,
    passkey: Option<PasskeyUse<'_>>,
    pass: Option<&PassRecord>,
    now: i64,
) -> Result<Option<String>, ApiError> {
    let token = random_token();
    let pass_expires_at = pass.map(|p| p.state().expires_at());
    let expires_at = session_expiry(state.session, now, pass_expires_at);
    let record = SessionRecord {
        id: uuid::Uuid::new_v4().to_string(),
        token_hash: token_hash(&token),
        user_id: user.id.clone(),
        method: method.as_str().to_string(),
        passkey_id: passkey.map(|p| p.id.to_string()),
        auth_time: now,
        created_at: now,
        expires_at,
        last_seen_at: now,
        pass_one_time: pass.map(|p| p.one_time).unwrap_or(0),
        pass_expires_at,
        ip: client.ip.clone(),
        user_agent: client.user_agent.clone(),
    };
    let event = SignInEvent {
        at: now,
        user_id: Some(user.id.clone()),
        username: Some(user.username.clone()),
        method: method.as_str(),
        outcome: "success",
        reason: "ok",
        ip: client.ip.clone(),
        user_agent: client.user_agent.clone(),
    };
    // One commit: counter, session, last sign-in and log row together.
    if !state.store.record_signin(&record, &event, passkey).await? {
        return Ok(None);
    }
    Ok(Some(session_cookie(
        &token,
        ((expires_at - now) / 1000).max(1),
        state.rp.secure_cookies,
    )))
}

/// Where the browser goes after signing in: back to a waiting authorization
/// request when there is one, else "My security". Only an id is accepted, never a URL.
pub fn next_page(request: Option<&str>) -> String {
    match request {
        Some(id)
            if !id.is_empty()
                && id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            format!("/authorize/continue?request={id}")
        }
        _ => "/my/security".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::next_page;

    #[test]
    fn only_request_ids_redirect() {
        assert_eq!(
            next_page(Some("abc_DEF-1")),
            "/authorize/continue?request=abc_DEF-1"
        );
        assert_eq!(next_page(Some("https://evil.example")), "/my/security");
        assert_eq!(next_page(Some("")), "/my/security");
        assert_eq!(next_page(None), "/my/security");
    }
}
