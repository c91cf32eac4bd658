//! Token-endpoint decisions: whether an authorization code may be exchanged
//! (RFC 6749 §4.1.3, RFC 7636 §4.6), and why not.

use crate::time::Millis;

/// Why a token request's grant is refused (`invalid_grant`, RFC 6749 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    /// Unknown, expired, used, revoked, or its user gone or disabled: one answer for all.
    InvalidCode,
    CodeOfAnotherClient,
    RedirectUriMismatch,
    /// RFC 7636 §4.1: 43–128 unreserved characters.
    VerifierMalformed,
    VerifierMismatch,
    VerifierRequired,
    /// RFC 9700 §2.1.1: a verifier for an authorization without a challenge is a
    /// downgrade attempt.
    VerifierWithoutChallenge,
}

impl TokenRefusal {
    /// The reason, for logs (the OAuth `error` is `invalid_grant` for all).
    pub fn code(self) -> &'static str {
        match self {
            TokenRefusal::InvalidCode => "invalid_code",
            TokenRefusal::CodeOfAnotherClient => "code_of_another_client",
            TokenRefusal::RedirectUriMismatch => "redirect_uri_mismatch",
            TokenRefusal::VerifierMalformed => "code_verifier_malformed",
            TokenRefusal::VerifierMismatch => "code_verifier_mismatch",
            TokenRefusal::VerifierRequired => "code_verifier_required",
            TokenRefusal::VerifierWithoutChallenge => "code_verifier_without_challenge",
        }
    }
}

/// Why a token-endpoint request is refused before (or besides) its grant's own checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRequestRefusal {
    /// RFC 6749 §3.2: the body must be `application/x-www-form-urlencoded`.
    NotAForm,
    /// RFC 6749 §3.2: a parameter sent more than once.
    RepeatedParameter,
    MissingParameter(&'static str),
    /// The password grant: never offered (RFC 9700 §2.4), logged as legacy authentication.
    LegacyGrant,
    /// A grant type Keyfort does not implement (at most 64 characters of it).
    UnsupportedGrant(String),
    /// A grant type the client did not register.
    GrantNotAllowed(String),
    PublicClientCredentials,
    ScopeMalformed,
    /// A user scope asked for without a user (client credentials).
    ScopeNeedsUser(String),
    /// The grant ended (its pass, or its `not_after`) before a token could be issued.
    AuthorizationExpired,
}

impl TokenRequestRefusal {
    /// The reason, for logs.
    pub fn code(&self) -> &'static str {
        match self {
            TokenRequestRefusal::NotAForm => "not_a_form",
            TokenRequestRefusal::RepeatedParameter => "repeated_parameter",
            TokenRequestRefusal::MissingParameter(_) => "missing_parameter",
            TokenRequestRefusal::LegacyGrant => "legacy_authentication_blocked",
            TokenRequestRefusal::UnsupportedGrant(_) => "unsupported_grant_type",
            TokenRequestRefusal::GrantNotAllowed(_) => "grant_not_allowed",
            TokenRequestRefusal::PublicClientCredentials => "public_client_credentials",
            TokenRequestRefusal::ScopeMalformed => "scope_malformed",
            TokenRequestRefusal::ScopeNeedsUser(_) => "scope_needs_user",
            TokenRequestRefusal::AuthorizationExpired => "authorization_expired",
        }
    }
}

/// A client-credentials scope (RFC 6749 §3.3 scope tokens, each once, in order). User
/// scopes mean nothing without a user.
pub fn service_scope(raw: Option<&str>) -> Result<String, TokenRequestRefusal> {
    let mut out = Vec::new();
    for s in raw.unwrap_or("").split(' ').filter(|s| !s.is_empty()) {
        if s.len() > 128
            || !s
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
        {
            return Err(TokenRequestRefusal::ScopeMalformed);
        }
        if matches!(s, "openid" | "offline_access" | "profile" | "email") {
            return Err(TokenRequestRefusal::ScopeNeedsUser(s.to_string()));
        }
        if !out.contains(&s) {
            out.push(s);
        }
    }
    Ok(out.join(" "))
}

/// Why a bearer access token is refused at a resource Keyfort serves (UserInfo).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerRefusal {
    Missing,
    NotBearer,
    /// Not one of Keyfort's access tokens, badly signed, or expired.
    Invalid,
    Revoked,
    /// RFC 6750 §3.1: the token lacks the scope the resource needs.
    InsufficientScope,
    NoUser,
    UserInactive,
    UnknownClient,
}

impl BearerRefusal {
    pub fn code(self) -> &'static str {
        match self {
            BearerRefusal::Missing => "token_missing",
            BearerRefusal::NotBearer => "not_bearer",
            BearerRefusal::Invalid => "token_invalid",
            BearerRefusal::Revoked => "token_revoked",
            BearerRefusal::InsufficientScope => "insufficient_scope",
            BearerRefusal::NoUser => "token_without_user",
            BearerRefusal::UserInactive => "user_inactive",
            BearerRefusal::UnknownClient => "unknown_client",
        }
    }
}

/// The stored code and what hangs off it.
#[derive(Debug, Clone, Copy)]
pub struct CodeFacts<'a> {
    /// The client its grant was issued to.
    pub client_id: &'a str,
    pub used: bool,
    pub expires_at: Millis,
    pub grant_revoked: bool,
    pub redirect_uri: &'a str,
    pub code_challenge: Option<&'a str>,
    /// Whether the grant's user exists and is enabled.
    pub user_enabled: bool,
}

/// What a code exchange knows.
#[derive(Debug, Clone, Copy)]
pub struct ExchangeFacts<'a> {
    /// `None` when no such code (or its grant) is stored.
    pub code: Option<CodeFacts<'a>>,
    /// The authenticated client.
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub code_verifier: Option<&'a str>,
}

/// What to do with a code exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeVerdict {
    /// Spend the code and issue tokens.
    Exchange,
    Refuse {
        refusal: TokenRefusal,
        /// A replayed code revokes what it issued (RFC 6749 §4.1.2, RFC 9700 §4.5).
        revoke_grant: bool,
    },
}

/// Decides a code exchange. `s256_matches(verifier, challenge)` compares the verifier's
/// S256 transform with the challenge in constant time; it runs only for a well-formed
/// verifier of a code that has a challenge.
pub fn assess_code(
    f: ExchangeFacts<'_>,
    now: Millis,
    s256_matches: impl FnOnce(&str, &str) -> bool,
) -> CodeVerdict {
    let refuse = |refusal, revoke_grant| CodeVerdict::Refuse {
        refusal,
        revoke_grant,
    };
    let Some(c) = f.code else {
        return refuse(TokenRefusal::InvalidCode, false);
    };
    if c.client_id != f.client_id {
        return refuse(TokenRefusal::CodeOfAnotherClient, false);
    }
    if c.used {
        return refuse(TokenRefusal::InvalidCode, true);
    }
    if now >= c.expires_at || c.grant_revoked {
        return refuse(TokenRefusal::InvalidCode, false);
    }
    if c.redirect_uri != f.redirect_uri {
        return refuse(TokenRefusal::RedirectUriMismatch, false);
    }
    match (c.code_challenge, f.code_verifier) {
        (Some(challenge), Some(v)) => {
            if !valid_verifier(v) {
                return refuse(TokenRefusal::VerifierMalformed, false);
            }
            if !s256_matches(v, challenge) {
                return refuse(TokenRefusal::VerifierMismatch, false);
            }
        }
        (Some(_), None) => return refuse(TokenRefusal::VerifierRequired, false),
        (None, Some(_)) => return refuse(TokenRefusal::VerifierWithoutChallenge, false),
        (None, None) => {}
    }
    if !c.user_enabled {
        return refuse(TokenRefusal::InvalidCode, false);
    }
    CodeVerdict::Exchange
}

/// RFC 7636 §4.1: 43–128 characters of `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"`.
pub fn valid_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_scopes_are_scope_tokens_without_user_scopes() {
        assert_eq!(service_scope(None).as_deref(), Ok(""));
        assert_eq!(
            service_scope(Some(" read  write read ")).as_deref(),
            Ok("read write")
        );
        assert_eq!(
            service_scope(Some("read\"x")),
            Err(TokenRequestRefusal::ScopeMalformed)
        );
        assert_eq!(
            service_scope(Some(&"a".repeat(129))),
            Err(TokenRequestRefusal::ScopeMalformed)
        );
        assert_eq!(
            service_scope(Some("read openid")),
            Err(TokenRequestRefusal::ScopeNeedsUser("openid".into()))
        );
    }

    const VERIFIER: &str = "0123456789abcdefghijklmnopqrstuvwxyz-._~ABCD";

    fn code(challenge: Option<&'static str>) -> CodeFacts<'static> {
        CodeFacts {
            client_id: "app",
            used: false,
            expires_at: 60_000,
            grant_revoked: false,
            redirect_uri: "https://app.example/cb",
            code_challenge: challenge,
            user_enabled: true,
        }
    }

    fn exchange(
        code: Option<CodeFacts<'static>>,
        verifier: Option<&'static str>,
    ) -> ExchangeFacts<'static> {
        ExchangeFacts {
            code,
            client_id: "app",
            redirect_uri: "https://app.example/cb",
            code_verifier: verifier,
        }
    }

    fn refused(refusal: TokenRefusal, revoke_grant: bool) -> CodeVerdict {
        CodeVerdict::Refuse {
            refusal,
            revoke_grant,
        }
    }

    #[test]
    fn a_good_code_with_its_verifier_is_exchanged() {
        let f = exchange(Some(code(Some("challenge"))), Some(VERIFIER));
        assert_eq!(
            assess_code(f, 1_000, |v, c| v == VERIFIER && c == "challenge"),
            CodeVerdict::Exchange
        );
        let no_pkce = exchange(Some(code(None)), None);
        assert_eq!(
            assess_code(no_pkce, 1_000, |_, _| false),
            CodeVerdict::Exchange
        );
    }

    #[test]
    fn only_a_replay_revokes_the_grant() {
        let used = CodeFacts {
            used: true,
            ..code(None)
        };
        assert_eq!(
            assess_code(exchange(Some(used), None), 1_000, |_, _| true),
            refused(TokenRefusal::InvalidCode, true)
        );
        let cases = [
            (exchange(None, None), 1_000, TokenRefusal::InvalidCode),
            (
                exchange(Some(code(None)), None),
                60_000,
                TokenRefusal::InvalidCode,
            ),
            (
                ExchangeFacts {
                    client_id: "other",
                    ..exchange(Some(code(None)), None)
                },
                1_000,
                TokenRefusal::CodeOfAnotherClient,
            ),
            (
                ExchangeFacts {
                    redirect_uri: "https://app.example/other",
                    ..exchange(Some(code(None)), None)
                },
                1_000,
                TokenRefusal::RedirectUriMismatch,
            ),
            (
                exchange(
                    Some(CodeFacts {
                        grant_revoked: true,
                        ..code(None)
                    }),
                    None,
                ),
                1_000,
                TokenRefusal::InvalidCode,
            ),
            (
                exchange(
                    Some(CodeFacts {
                        user_enabled: false,
                        ..code(None)
                    }),
                    None,
                ),
                1_000,
                TokenRefusal::InvalidCode,
            ),
        ];
        for (f, now, refusal) in cases {
            assert_eq!(assess_code(f, now, |_, _| true), refused(refusal, false));
        }
    }

    #[test]
    fn pkce_is_checked_both_ways() {
        let with = Some(code(Some("challenge")));
        let cases = [
            (exchange(with, None), TokenRefusal::VerifierRequired),
            (
                exchange(with, Some("short")),
                TokenRefusal::VerifierMalformed,
            ),
            (
                exchange(with, Some(VERIFIER)),
                TokenRefusal::VerifierMismatch,
            ),
            (
                exchange(Some(code(None)), Some(VERIFIER)),
                TokenRefusal::VerifierWithoutChallenge,
            ),
        ];
        for (f, refusal) in cases {
            assert_eq!(assess_code(f, 1_000, |_, _| false), refused(refusal, false));
        }
        assert!(!valid_verifier(&"a".repeat(129)));
        assert!(!valid_verifier(&format!("{}+", "a".repeat(42))));
    }
}
