//! What an application (an OAuth client) registered with Keyfort must look like.

use crate::oidc::{RedirectUriError, validate_redirect_uri};

/// The longest application name, in characters.
pub const MAX_NAME_CHARS: usize = 128;
/// Redirect URIs (and sign-out URIs) an application may register.
pub const MAX_REDIRECT_URIS: usize = 32;
/// The signature algorithms an ID token may use.
pub const ID_TOKEN_ALGS: [&str; 3] = ["ES256", "EdDSA", "RS256"];

/// A grant type an application may use. The password grant is never offered
/// (RFC 9700 §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

impl GrantType {
    pub fn parse(s: &str) -> Option<GrantType> {
        match s {
            "authorization_code" => Some(GrantType::AuthorizationCode),
            "refresh_token" => Some(GrantType::RefreshToken),
            "client_credentials" => Some(GrantType::ClientCredentials),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
        }
    }
}

/// How an application authenticates at the token endpoint (RFC 7591 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    None,
    ClientSecretBasic,
    ClientSecretPost,
    PrivateKeyJwt,
}

impl AuthMethod {
    pub fn parse(s: &str) -> Option<AuthMethod> {
        match s {
            "none" => Some(AuthMethod::None),
            "client_secret_basic" => Some(AuthMethod::ClientSecretBasic),
            "client_secret_post" => Some(AuthMethod::ClientSecretPost),
            "private_key_jwt" => Some(AuthMethod::PrivateKeyJwt),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::None => "none",
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
        }
    }

    /// Whether the application holds a secret Keyfort issues.
    pub fn uses_secret(self) -> bool {
        matches!(
            self,
            AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost
        )
    }
}

/// Why a registration is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientRefusal {
    #[error("a client name is 1 to {MAX_NAME_CHARS} characters without control characters")]
    Name,
    #[error("redirect URI: {0}")]
    RedirectUri(RedirectUriError),
    #[error("at most {MAX_REDIRECT_URIS} redirect URIs of each kind")]
    TooManyRedirectUris,
    #[error(
        "grant `{0}`: use authorization_code, refresh_token or client_credentials (the password grant is never offered)"
    )]
    Grant(String),
    #[error("the authorization_code grant needs at least one redirect URI")]
    RedirectUriRequired,
    #[error("a public client cannot use client_credentials")]
    PublicClientCredentials,
    #[error("the ID token algorithm is ES256, EdDSA or RS256")]
    IdTokenAlg,
    #[error("a public client has no secret and no keys (auth method none)")]
    PublicWithCredentials,
    #[error("private_key_jwt needs the client's keys (a JWK set)")]
    KeysRequired,
    #[error(
        "auth method `{0}` is not one of client_secret_basic, client_secret_post, private_key_jwt"
    )]
    AuthMethod(String),
    #[error("keys are only for private_key_jwt")]
    KeysWithSecret,
    #[error("the client's keys are not a JWK set with at least one key: {0}")]
    Keys(String),
}

impl ClientRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            ClientRefusal::Name => "invalid_client_name",
            ClientRefusal::RedirectUri(_) => "invalid_redirect_uri",
            ClientRefusal::TooManyRedirectUris => "too_many_redirect_uris",
            ClientRefusal::Grant(_) => "invalid_grant_type",
            ClientRefusal::RedirectUriRequired => "redirect_uri_required",
            ClientRefusal::PublicClientCredentials => "invalid_grant_type",
            ClientRefusal::IdTokenAlg => "invalid_id_token_alg",
            ClientRefusal::PublicWithCredentials
            | ClientRefusal::KeysRequired
            | ClientRefusal::AuthMethod(_)
            | ClientRefusal::KeysWithSecret => "invalid_auth_method",
            ClientRefusal::Keys(_) => "invalid_jwks",
        }
    }
}

/// A registration as an administrator describes it.
#[derive(Debug, Clone, Default)]
pub struct ClientDraft {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub public: bool,
    /// Empty: authorization_code and refresh_token.
    pub grants: Vec<String>,
    pub auth_method: Option<String>,
    /// Whether the client's public keys (a JWK set) come with it.
    pub has_keys: bool,
    /// `ES256` when absent.
    pub id_token_alg: Option<String>,
}

/// A valid registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidClient {
    pub name: String,
    pub grants: Vec<GrantType>,
    pub auth_method: AuthMethod,
    pub id_token_alg: String,
}

/// Validates a registration: the redirect URIs (`oidc::validate_redirect_uri`), the
/// grants, and an authentication method that fits the client's kind — a public client
/// (a single-page or native app) has none and must use PKCE, a confidential one a secret
/// or keys.
pub fn validate_client(d: &ClientDraft) -> Result<ValidClient, ClientRefusal> {
    let name = d.name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(ClientRefusal::Name);
    }
    if d.redirect_uris.len() > MAX_REDIRECT_URIS
        || d.post_logout_redirect_uris.len() > MAX_REDIRECT_URIS
    {
        return Err(ClientRefusal::TooManyRedirectUris);
    }
    for uri in d.redirect_uris.iter().chain(&d.post_logout_redirect_uris) {
        validate_redirect_uri(uri).map_err(ClientRefusal::RedirectUri)?;
    }
    let mut grants = Vec::new();
    if d.grants.is_empty() {
        grants.extend([GrantType::AuthorizationCode, GrantType::RefreshToken]);
    }
    for g in &d.grants {
        let grant = GrantType::parse(g).ok_or_else(|| ClientRefusal::Grant(g.clone()))?;
        if !grants.contains(&grant) {
            grants.push(grant);
        }
    }
    if grants.contains(&GrantType::AuthorizationCode) && d.redirect_uris.is_empty() {
        return Err(ClientRefusal::RedirectUriRequired);
    }
    if d.public && grants.contains(&GrantType::ClientCredentials) {
        return Err(ClientRefusal::PublicClientCredentials);
    }
    let id_token_alg = d.id_token_alg.as_deref().unwrap_or("ES256");
    if !ID_TOKEN_ALGS.contains(&id_token_alg) {
        return Err(ClientRefusal::IdTokenAlg);
    }
    let requested = match d.auth_method.as_deref() {
        None => None,
        Some(m) => Some(AuthMethod::parse(m).ok_or_else(|| ClientRefusal::AuthMethod(m.into()))?),
    };
    let auth_method = match (d.public, requested, d.has_keys) {
        (true, None | Some(AuthMethod::None), false) => AuthMethod::None,
        (true, _, _) => return Err(ClientRefusal::PublicWithCredentials),
        (false, None | Some(AuthMethod::PrivateKeyJwt), true) => AuthMethod::PrivateKeyJwt,
        (false, Some(AuthMethod::PrivateKeyJwt), false) => return Err(ClientRefusal::KeysRequired),
        (false, None, false) => AuthMethod::ClientSecretBasic,
        (false, Some(m), false) if m.uses_secret() => m,
        (false, Some(m), true) if m.uses_secret() => return Err(ClientRefusal::KeysWithSecret),
        (false, Some(m), _) => return Err(ClientRefusal::AuthMethod(m.as_str().into())),
    };
    Ok(ValidClient {
        name: name.to_string(),
        grants,
        auth_method,
        id_token_alg: id_token_alg.to_string(),
    })
}

/// Why a client's authentication at the token, revocation or introspection endpoint is
/// refused (RFC 6749 §2.3, RFC 7523 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthRefusal {
    /// Unknown client, wrong method, wrong secret, or an assertion that does not verify:
    /// one answer for all.
    Failed,
    /// RFC 6749 §2.3: one authentication method per request.
    SeveralMethods,
    /// `client_assertion_type` is not the JWT bearer type.
    AssertionType,
    /// An assertion's `jti` seen before (RFC 7523 §3, item 7).
    AssertionReplayed,
    /// Too many failures by this client from this address.
    Throttled { retry_after_ms: i64 },
}

impl ClientAuthRefusal {
    pub fn code(self) -> &'static str {
        match self {
            ClientAuthRefusal::Failed => "client_authentication_failed",
            ClientAuthRefusal::SeveralMethods => "several_client_auth_methods",
            ClientAuthRefusal::AssertionType => "client_assertion_type_invalid",
            ClientAuthRefusal::AssertionReplayed => "client_assertion_replayed",
            ClientAuthRefusal::Throttled { .. } => "too_many_attempts",
        }
    }

    /// Whether the refusal counts against the client's throttle: a failed credential does,
    /// a malformed request (which proves nothing about the secret) does not.
    pub fn counts_as_failure(self) -> bool {
        matches!(
            self,
            ClientAuthRefusal::Failed | ClientAuthRefusal::AssertionReplayed
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn web_app() -> ClientDraft {
        ClientDraft {
            name: " Wiki ".into(),
            redirect_uris: vec!["https://wiki.example/cb".into()],
            ..ClientDraft::default()
        }
    }

    #[test]
    fn a_web_app_gets_a_secret_and_the_code_flow() {
        let v = validate_client(&web_app()).unwrap();
        assert_eq!(v.name, "Wiki");
        assert_eq!(
            v.grants,
            [GrantType::AuthorizationCode, GrantType::RefreshToken]
        );
        assert_eq!(v.auth_method, AuthMethod::ClientSecretBasic);
        assert_eq!(v.id_token_alg, "ES256");
        let keys = ClientDraft {
            has_keys: true,
            ..web_app()
        };
        assert_eq!(
            validate_client(&keys).unwrap().auth_method,
            AuthMethod::PrivateKeyJwt
        );
        let public = ClientDraft {
            public: true,
            ..web_app()
        };
        assert_eq!(
            validate_client(&public).unwrap().auth_method,
            AuthMethod::None
        );
    }

    #[test]
    fn registrations_that_cannot_work_are_refused() {
        let cases = [
            (
                ClientDraft {
                    name: " ".into(),
                    ..web_app()
                },
                "invalid_client_name",
            ),
            (
                ClientDraft {
                    redirect_uris: vec!["http://wiki.example/cb".into()],
                    ..web_app()
                },
                "invalid_redirect_uri",
            ),
            (
                ClientDraft {
                    redirect_uris: vec![],
                    ..web_app()
                },
                "redirect_uri_required",
            ),
            (
                ClientDraft {
                    grants: vec!["password".into()],
                    ..web_app()
                },
                "invalid_grant_type",
            ),
            (
                ClientDraft {
                    public: true,
                    grants: vec!["client_credentials".into()],
                    ..web_app()
                },
                "invalid_grant_type",
            ),
            (
                ClientDraft {
                    public: true,
                    auth_method: Some("client_secret_basic".into()),
                    ..web_app()
                },
                "invalid_auth_method",
            ),
            (
                ClientDraft {
                    auth_method: Some("private_key_jwt".into()),
                    ..web_app()
                },
                "invalid_auth_method",
            ),
            (
                ClientDraft {
                    auth_method: Some("none".into()),
                    ..web_app()
                },
                "invalid_auth_method",
            ),
            (
                ClientDraft {
                    auth_method: Some("client_secret_post".into()),
                    has_keys: true,
                    ..web_app()
                },
                "invalid_auth_method",
            ),
            (
                ClientDraft {
                    id_token_alg: Some("HS256".into()),
                    ..web_app()
                },
                "invalid_id_token_alg",
            ),
            (
                ClientDraft {
                    redirect_uris: vec!["https://wiki.example/cb".into(); MAX_REDIRECT_URIS + 1],
                    ..web_app()
                },
                "too_many_redirect_uris",
            ),
        ];
        for (d, code) in cases {
            assert_eq!(validate_client(&d).unwrap_err().code(), code, "{d:?}");
        }
    }

    #[test]
    fn a_service_needs_no_redirect_uri() {
        let service = ClientDraft {
            name: "Batch".into(),
            grants: vec!["client_credentials".into()],
            ..ClientDraft::default()
        };
        let v = validate_client(&service).unwrap();
        assert_eq!(v.grants, [GrantType::ClientCredentials]);
    }
}
