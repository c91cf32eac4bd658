//! OpenID Connect decisions that need no I/O: redirect URI rules, prompts,
//! scopes, and whether an authorization request needs the user to sign in again.

use crate::strength::{Method, select_acr};
use crate::time::{Millis, SECOND_MS};
use url::Url;

/// RFC 9700 §2.1 / §4.1.3: redirect URIs are compared as exact strings — no
/// wildcards, no prefix or path matching, no normalisation.
pub fn redirect_uri_matches(registered: &[String], offered: &str) -> bool {
    registered.iter().any(|r| r == offered)
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum RedirectUriError {
    #[error("`{0}` is not an absolute URL")]
    NotAbsolute(String),
    #[error("`{0}` has a fragment, which redirect URIs may not have (RFC 6749 §3.1.2)")]
    Fragment(String),
    #[error("`{0}` uses plain http for a host other than localhost; use https")]
    Insecure(String),
}

/// Checks a redirect URI an administrator registers: https, or http for loopback and
/// localhost (native apps, development), or a private-use scheme with a dot (RFC 8252 §7.1).
pub fn validate_redirect_uri(raw: &str) -> Result<(), RedirectUriError> {
    let url = Url::parse(raw).map_err(|_| RedirectUriError::NotAbsolute(raw.into()))?;
    if url.fragment().is_some() || raw.contains('#') {
        return Err(RedirectUriError::Fragment(raw.into()));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" => {
            let host = url.host_str().unwrap_or("");
            if matches!(host, "localhost" | "127.0.0.1" | "[::1]") || host.ends_with(".localhost") {
                Ok(())
            } else {
                Err(RedirectUriError::Insecure(raw.into()))
            }
        }
        s if s.contains('.') => Ok(()),
        _ => Err(RedirectUriError::NotAbsolute(raw.into())),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    None,
    Login,
    SelectAccount,
    Consent,
}

/// OpenID Connect Core §3.1.2.1 `prompt`: space-separated; `none` stands alone.
pub fn parse_prompt(raw: Option<&str>) -> Result<Vec<Prompt>, &'static str> {
    let mut out = Vec::new();
    for p in raw.unwrap_or("").split(' ').filter(|s| !s.is_empty()) {
        out.push(match p {
            "none" => Prompt::None,
            "login" => Prompt::Login,
            "select_account" => Prompt::SelectAccount,
            "consent" => Prompt::Consent,
            _ => return Err("unknown prompt value"),
        });
    }
    if out.contains(&Prompt::None) && out.len() > 1 {
        return Err("prompt=none cannot be combined with other values");
    }
    Ok(out)
}

pub fn parse_scopes(raw: &str) -> Vec<String> {
    let mut v: Vec<String> = raw
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    v.dedup();
    v
}

/// A refresh asked for a scope the grant does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeWidened {
    /// The first requested scope the grant lacks.
    pub scope: String,
}

/// The scope a refresh issues (RFC 6749 §6): the requested one, which may only narrow the
/// granted one, or the granted one when none is requested. The refresh token itself keeps
/// the granted scope, so a later refresh can ask for more again, up to the grant.
pub fn refreshed_scope(granted: &str, requested: Option<&str>) -> Result<String, ScopeWidened> {
    let Some(requested) = requested else {
        return Ok(parse_scopes(granted).join(" "));
    };
    let granted = parse_scopes(granted);
    let mut issued: Vec<String> = Vec::new();
    for s in parse_scopes(requested) {
        if !granted.contains(&s) {
            return Err(ScopeWidened { scope: s });
        }
        if !issued.contains(&s) {
            issued.push(s);
        }
    }
    if issued.is_empty() {
        // `scope=` with nothing in it asks for nothing narrower: treated as omitted.
        return Ok(granted.join(" "));
    }
    Ok(issued.join(" "))
}

/// The current session as authorization cares about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionView {
    pub auth_time: Millis,
    pub methods: Vec<Method>,
}

/// Why the user has to sign in (again) before the request can be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reauthenticate {
    NoSession,
    PromptLogin,
    MaxAgeExceeded,
    StrengthNotMet,
}

/// Decides whether a session can answer an authorization request now.
/// `fresh_since`: for a request resumed after sign-in, the time it was made —
/// `prompt=login` is satisfied only by a sign-in after it.
pub fn reauthentication_needed(
    session: Option<&SessionView>,
    prompt: &[Prompt],
    max_age_secs: Option<i64>,
    acr_values: &[&str],
    now: Millis,
    fresh_since: Option<Millis>,
) -> Option<Reauthenticate> {
    let Some(s) = session else {
        return Some(Reauthenticate::NoSession);
    };
    let login_forced = prompt.contains(&Prompt::Login) || prompt.contains(&Prompt::SelectAccount);
    if login_forced && fresh_since.is_none_or(|t| s.auth_time < t) {
        return Some(Reauthenticate::PromptLogin);
    }
    if max_age_secs
        .is_some_and(|max| now.saturating_sub(s.auth_time) > max.max(0).saturating_mul(SECOND_MS))
    {
        return Some(Reauthenticate::MaxAgeExceeded);
    }
    if select_acr(acr_values, &s.methods).is_err() {
        return Some(Reauthenticate::StrengthNotMet);
    }
    None
}

/// Why an RP-initiated sign-out request (OpenID Connect RP-Initiated Logout 1.0 §2) is
/// refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoutRefusal {
    Unreadable,
    /// The `id_token_hint` is not an ID token Keyfort issued.
    ForeignHint,
    /// `client_id` names another application than the hint's audience.
    ClientMismatch,
    UnknownClient,
    /// `post_logout_redirect_uri` is not among the application's registered ones (or no
    /// application was named to register it).
    RedirectNotRegistered,
}

impl LogoutRefusal {
    pub fn code(self) -> &'static str {
        match self {
            LogoutRefusal::Unreadable => "invalid_request",
            LogoutRefusal::ForeignHint => "id_token_hint_invalid",
            LogoutRefusal::ClientMismatch => "client_id_mismatch",
            LogoutRefusal::UnknownClient => "unknown_client",
            LogoutRefusal::RedirectNotRegistered => "post_logout_redirect_uri_not_registered",
        }
    }
}

/// The application a sign-out request speaks for: the hint's audience, or the `client_id`
/// sent, which must agree when both are present.
pub fn logout_client<'a>(
    hinted: Option<&'a str>,
    named: Option<&'a str>,
) -> Result<Option<&'a str>, LogoutRefusal> {
    match (hinted, named) {
        (Some(a), Some(b)) if a != b => Err(LogoutRefusal::ClientMismatch),
        (Some(a), _) => Ok(Some(a)),
        (None, b) => Ok(b),
    }
}

/// Where to send the browser after signing out: only a URI registered, exactly, for the
/// application the request speaks for (`registered` is `None` when it names none).
pub fn logout_redirect<'a>(
    registered: Option<&[String]>,
    uri: Option<&'a str>,
) -> Result<Option<&'a str>, LogoutRefusal> {
    let Some(uri) = uri else { return Ok(None) };
    match registered {
        Some(list) if list.iter().any(|u| u == uri) => Ok(Some(uri)),
        _ => Err(LogoutRefusal::RedirectNotRegistered),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_sign_out_speaks_for_one_application_and_returns_only_to_its_uris() {
        assert_eq!(logout_client(Some("a"), Some("a")), Ok(Some("a")));
        assert_eq!(logout_client(Some("a"), None), Ok(Some("a")));
        assert_eq!(logout_client(None, Some("b")), Ok(Some("b")));
        assert_eq!(logout_client(None, None), Ok(None));
        assert_eq!(
            logout_client(Some("a"), Some("b")),
            Err(LogoutRefusal::ClientMismatch)
        );
        let reg = vec!["https://app.example/bye".to_string()];
        assert_eq!(logout_redirect(Some(&reg), None), Ok(None));
        assert_eq!(
            logout_redirect(Some(&reg), Some("https://app.example/bye")),
            Ok(Some("https://app.example/bye"))
        );
        for uri in ["https://app.example/bye/", "https://evil.example/bye"] {
            assert_eq!(
                logout_redirect(Some(&reg), Some(uri)),
                Err(LogoutRefusal::RedirectNotRegistered)
            );
        }
        assert_eq!(
            logout_redirect(None, Some("https://app.example/bye")),
            Err(LogoutRefusal::RedirectNotRegistered)
        );
    }

    #[test]
    fn a_refresh_issues_the_requested_scope_never_more() {
        let g = "openid profile email";
        assert_eq!(refreshed_scope(g, None).unwrap(), g);
        assert_eq!(refreshed_scope(g, Some("openid")).unwrap(), "openid");
        assert_eq!(
            refreshed_scope(g, Some("email  openid email")).unwrap(),
            "email openid"
        );
        assert_eq!(refreshed_scope(g, Some("")).unwrap(), g);
        assert_eq!(
            refreshed_scope(g, Some("openid groups")),
            Err(ScopeWidened {
                scope: "groups".into()
            })
        );
    }

    use super::*;
    use crate::strength::{ACR_MFA, ACR_PHISHING_RESISTANT};

    #[test]
    fn redirect_uris_match_exactly() {
        let reg = vec!["https://app.example/cb".to_string()];
        assert!(redirect_uri_matches(&reg, "https://app.example/cb"));
        for near in [
            "https://app.example/cb/",
            "https://app.example/cb?x=1",
            "https://APP.example/cb",
            "https://app.example/c",
        ] {
            assert!(!redirect_uri_matches(&reg, near), "{near}");
        }
    }

    #[test]
    fn registered_redirect_uris() {
        assert!(validate_redirect_uri("https://app.example/cb").is_ok());
        assert!(validate_redirect_uri("http://localhost:3000/cb").is_ok());
        assert!(validate_redirect_uri("http://127.0.0.1:49152/cb").is_ok());
        assert!(validate_redirect_uri("com.example.app:/cb").is_ok());
        assert!(matches!(
            validate_redirect_uri("http://app.example/cb"),
            Err(RedirectUriError::Insecure(_))
        ));
        assert!(matches!(
            validate_redirect_uri("https://app.example/cb#x"),
            Err(RedirectUriError::Fragment(_))
        ));
        assert!(matches!(
            validate_redirect_uri("/cb"),
            Err(RedirectUriError::NotAbsolute(_))
        ));
        assert!(matches!(
            validate_redirect_uri("javascript:alert(1)"),
            Err(RedirectUriError::NotAbsolute(_))
        ));
    }

    #[test]
    fn prompts() {
        assert_eq!(parse_prompt(None), Ok(vec![]));
        assert_eq!(
            parse_prompt(Some("login consent")),
            Ok(vec![Prompt::Login, Prompt::Consent])
        );
        assert!(parse_prompt(Some("none login")).is_err());
        assert!(parse_prompt(Some("bogus")).is_err());
        assert_eq!(
            parse_scopes("openid  email openid"),
            vec!["openid", "email", "openid"]
        );
    }

    #[test]
    fn when_to_sign_in_again() {
        let pass = SessionView {
            auth_time: 1_000,
            methods: vec![Method::TemporaryAccessPassOneTime],
        };
        let passkey = SessionView {
            auth_time: 1_000,
            methods: vec![Method::Fido2],
        };
        use Reauthenticate::*;
        assert_eq!(
            reauthentication_needed(None, &[], None, &[], 2_000, None),
            Some(NoSession)
        );
        assert_eq!(
            reauthentication_needed(Some(&passkey), &[], None, &[], 2_000, None),
            None
        );
        assert_eq!(
            reauthentication_needed(Some(&passkey), &[Prompt::Login], None, &[], 2_000, None),
            Some(PromptLogin)
        );
        assert_eq!(
            reauthentication_needed(
                Some(&passkey),
                &[Prompt::Login],
                None,
                &[],
                2_000,
                Some(900)
            ),
            None
        );
        assert_eq!(
            reauthentication_needed(
                Some(&passkey),
                &[Prompt::Login],
                None,
                &[],
                2_000,
                Some(1_001)
            ),
            Some(PromptLogin)
        );
        assert_eq!(
            reauthentication_needed(Some(&passkey), &[], Some(1), &[], 2_000, None),
            None
        );
        assert_eq!(
            reauthentication_needed(Some(&passkey), &[], Some(0), &[], 2_000, None),
            Some(MaxAgeExceeded)
        );
        assert_eq!(
            reauthentication_needed(Some(&pass), &[], None, &[ACR_MFA], 2_000, None),
            None
        );
        assert_eq!(
            reauthentication_needed(
                Some(&pass),
                &[],
                None,
                &[ACR_PHISHING_RESISTANT],
                2_000,
                None
            ),
            Some(StrengthNotMet)
        );
        assert_eq!(
            reauthentication_needed(
                Some(&passkey),
                &[],
                None,
                &[ACR_PHISHING_RESISTANT],
                2_000,
                None
            ),
            None
        );
    }
}
