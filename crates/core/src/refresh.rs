//! Whether a refresh token may be exchanged (RFC 6749 §6) under rotation (RFC 9700
//! §4.14.2), and why not.

use crate::oidc::refreshed_scope;
use crate::time::Millis;

/// Why a refresh is refused. Every refusal but a widened scope answers `invalid_grant`
/// with one message, so a client learns nothing about which check failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshRefusal {
    /// Unknown, expired, or its grant revoked or past its end.
    InvalidToken,
    TokenOfAnotherClient,
    /// Presented after it was used: the whole family is revoked.
    Reused,
    /// The request named a scope the grant does not hold (`invalid_scope`).
    ScopeWidened {
        scope: String,
    },
    /// The grant's user was disabled: the grant is revoked.
    UserDisabled,
}

impl RefreshRefusal {
    /// The reason, for logs.
    pub fn code(&self) -> &'static str {
        match self {
            RefreshRefusal::InvalidToken => "refresh_token_invalid",
            RefreshRefusal::TokenOfAnotherClient => "refresh_token_of_another_client",
            RefreshRefusal::Reused => "refresh_token_reused",
            RefreshRefusal::ScopeWidened { .. } => "scope_widened",
            RefreshRefusal::UserDisabled => "user_disabled",
        }
    }

    /// Whether the refusal revokes the grant (and every token it issued).
    pub fn revokes_grant(&self) -> bool {
        matches!(self, RefreshRefusal::Reused | RefreshRefusal::UserDisabled)
    }
}

/// The presented token and its grant, as stored.
#[derive(Debug, Clone, Copy)]
pub struct RefreshFacts<'a> {
    /// The client the grant was issued to.
    pub grant_client_id: &'a str,
    pub used: bool,
    pub expires_at: Millis,
    pub grant_revoked: bool,
    /// When the grant ends whatever its tokens say (a pass sign-in's grant ends with the pass).
    pub grant_not_after: Option<Millis>,
    pub granted_scope: &'a str,
    pub user_enabled: bool,
}

/// What a refresh request asks for.
#[derive(Debug, Clone, Copy)]
pub struct RefreshRequest<'a> {
    /// `None` when no such token is stored.
    pub token: Option<RefreshFacts<'a>>,
    /// The authenticated client.
    pub client_id: &'a str,
    pub requested_scope: Option<&'a str>,
}

/// Decides a refresh: the scope the new tokens carry, or the refusal.
pub fn assess_refresh(r: RefreshRequest<'_>, now: Millis) -> Result<String, RefreshRefusal> {
    let Some(t) = r.token else {
        return Err(RefreshRefusal::InvalidToken);
    };
    if t.grant_client_id != r.client_id {
        return Err(RefreshRefusal::TokenOfAnotherClient);
    }
    if t.used {
        return Err(RefreshRefusal::Reused);
    }
    if now >= t.expires_at || t.grant_revoked || t.grant_not_after.is_some_and(|n| now >= n) {
        return Err(RefreshRefusal::InvalidToken);
    }
    let scope = refreshed_scope(t.granted_scope, r.requested_scope)
        .map_err(|w| RefreshRefusal::ScopeWidened { scope: w.scope })?;
    if !t.user_enabled {
        return Err(RefreshRefusal::UserDisabled);
    }
    Ok(scope)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> RefreshFacts<'static> {
        RefreshFacts {
            grant_client_id: "app",
            used: false,
            expires_at: 10_000,
            grant_revoked: false,
            grant_not_after: None,
            granted_scope: "openid profile",
            user_enabled: true,
        }
    }

    fn request(token: Option<RefreshFacts<'static>>) -> RefreshRequest<'static> {
        RefreshRequest {
            token,
            client_id: "app",
            requested_scope: None,
        }
    }

    #[test]
    fn a_live_token_refreshes_to_the_requested_scope() {
        assert_eq!(
            assess_refresh(request(Some(token())), 1_000).as_deref(),
            Ok("openid profile")
        );
        let narrower = RefreshRequest {
            requested_scope: Some("openid"),
            ..request(Some(token()))
        };
        assert_eq!(assess_refresh(narrower, 1_000).as_deref(), Ok("openid"));
    }

    #[test]
    fn each_refusal_and_whether_it_revokes() {
        let t = token();
        let cases: [(RefreshRequest<'static>, Millis, RefreshRefusal); 8] = [
            (request(None), 1_000, RefreshRefusal::InvalidToken),
            (
                RefreshRequest {
                    client_id: "other",
                    ..request(Some(t))
                },
                1_000,
                RefreshRefusal::TokenOfAnotherClient,
            ),
            (
                request(Some(RefreshFacts { used: true, ..t })),
                1_000,
                RefreshRefusal::Reused,
            ),
            (request(Some(t)), 10_000, RefreshRefusal::InvalidToken),
            (
                request(Some(RefreshFacts {
                    grant_revoked: true,
                    ..t
                })),
                1_000,
                RefreshRefusal::InvalidToken,
            ),
            (
                request(Some(RefreshFacts {
                    grant_not_after: Some(1_000),
                    ..t
                })),
                1_000,
                RefreshRefusal::InvalidToken,
            ),
            (
                RefreshRequest {
                    requested_scope: Some("openid email"),
                    ..request(Some(t))
                },
                1_000,
                RefreshRefusal::ScopeWidened {
                    scope: "email".into(),
                },
            ),
            (
                request(Some(RefreshFacts {
                    user_enabled: false,
                    ..t
                })),
                1_000,
                RefreshRefusal::UserDisabled,
            ),
        ];
        for (r, now, expected) in cases {
            assert_eq!(
                assess_refresh(r, now),
                Err(expected.clone()),
                "{expected:?}"
            );
        }
        assert!(RefreshRefusal::Reused.revokes_grant());
        assert!(RefreshRefusal::UserDisabled.revokes_grant());
        assert!(!RefreshRefusal::InvalidToken.revokes_grant());
        assert!(!RefreshRefusal::TokenOfAnotherClient.revokes_grant());
    }

    /// Another client's token is refused before its use is looked at: presenting a
    /// stolen, used token from the wrong client must not revoke the victim's family.
    #[test]
    fn another_clients_used_token_revokes_nothing() {
        let r = RefreshRequest {
            client_id: "other",
            ..request(Some(RefreshFacts {
                used: true,
                ..token()
            }))
        };
        let refusal = assess_refresh(r, 1_000).unwrap_err();
        assert_eq!(refusal, RefreshRefusal::TokenOfAnotherClient);
        assert!(!refusal.revokes_grant());
    }
}
