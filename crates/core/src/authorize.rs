//! Authorization-request decisions (OpenID Connect Core §3.1.2): whether a request is
//! valid ([`validate`]), and whether a session answers it now, must sign in again, or is
//! refused ([`assess`]). One value per refusal, which the person's error page, the error
//! sent to the application's redirect URI and the logs all read.

use crate::oidc::reauthentication_needed;
use crate::oidc::{Prompt, Reauthenticate, SessionView, parse_prompt, parse_scopes};
use crate::strength::{ACR_PHISHING_RESISTANT, Method, SignInEvidence, select_acr};
use crate::time::Millis;
use serde::Deserialize;

/// The scopes Keyfort grants; others requested are ignored (OAuth 2.0 lets the server
/// issue fewer than asked, RFC 6749 §3.3).
pub const SUPPORTED_SCOPES: [&str; 5] = ["openid", "profile", "email", "offline_access", "groups"];
/// The scope that lets an application call the admin API for the person who signs in
/// (or, by client credentials, as itself). Granted only to an application that holds an
/// administrative role; what the token may do is what both the person's roles and the
/// application's allow (`roles::authorize_delegated`).
pub const ADMIN_SCOPE: &str = "keyfort.admin";
/// The longest value any one parameter may have.
pub const MAX_PARAM: usize = 2048;
/// The longest `client_id` looked up.
pub const MAX_CLIENT_ID: usize = 256;

/// Why an authorization request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizeRefusal {
    // Refusals shown to the person: the redirect URI is not (yet) known good.
    /// The parameters could not be read.
    Unreadable,
    ClientMissing,
    UnknownClient,
    /// The application of a waiting request was removed meanwhile.
    ClientGone,
    RedirectUriMissing,
    RedirectUriMismatch,
    /// A waiting request expired, or was answered before.
    RequestExpired,

    // Refusals sent back to the application's redirect URI.
    ParameterTooLong,
    RequestObjectUnsupported,
    RequestUriUnsupported,
    ResponseTypeMissing,
    UnsupportedResponseType,
    UnsupportedResponseMode,
    /// The client may not use the authorization code flow.
    CodeFlowNotAllowed,
    OpenIdScopeMissing,
    PkceMethodWithoutChallenge,
    PkceRequired,
    PkcePlainRefused,
    PkceMethodMissing,
    PkceChallengeMalformed,
    PromptInvalid,
    ConsentRequired,
    MaxAgeInvalid,
    /// `prompt=none` and the user must sign in.
    LoginRequired,
    /// `prompt=none` and the session is not strong enough.
    InteractionRequired,
    /// RFC 9470 §3: no method of the user meets the requested strength.
    UnmetAuthenticationRequirements,
}

impl AuthorizeRefusal {
    /// Whether the refusal is shown to the person rather than sent to the redirect URI
    /// (RFC 6749 §4.1.2.1: never redirect to an unverified URI).
    pub fn shown_to_person(self) -> bool {
        use AuthorizeRefusal::*;
        matches!(
            self,
            Unreadable
                | ClientMissing
                | UnknownClient
                | ClientGone
                | RedirectUriMissing
                | RedirectUriMismatch
                | RequestExpired
        )
    }

    /// The OAuth `error` (RFC 6749 §4.1.2.1, OpenID Connect Core §3.1.2.6, RFC 9470), or
    /// Keyfort's code for a refusal shown to the person.
    pub fn error(self) -> &'static str {
        use AuthorizeRefusal::*;
        match self {
            Unreadable | ClientMissing | RedirectUriMissing => "invalid_request",
            UnknownClient | ClientGone => "unknown_client",
            RedirectUriMismatch => "redirect_uri_mismatch",
            RequestExpired => "request_expired",
            ParameterTooLong
            | ResponseTypeMissing
            | UnsupportedResponseMode
            | PkceMethodWithoutChallenge
            | PkceRequired
            | PkcePlainRefused
            | PkceMethodMissing
            | PkceChallengeMalformed
            | PromptInvalid
            | MaxAgeInvalid => "invalid_request",
            RequestObjectUnsupported => "request_not_supported",
            RequestUriUnsupported => "request_uri_not_supported",
            UnsupportedResponseType => "unsupported_response_type",
            CodeFlowNotAllowed => "unauthorized_client",
            OpenIdScopeMissing => "invalid_scope",
            ConsentRequired => "consent_required",
            LoginRequired => "login_required",
            InteractionRequired => "interaction_required",
            UnmetAuthenticationRequirements => "unmet_authentication_requirements",
        }
    }
}

/// The authorization request's parameters as sent (query or form).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct AuthorizeParams {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub login_hint: Option<String>,
    pub acr_values: Option<String>,
    pub response_mode: Option<String>,
    pub request: Option<String>,
    pub request_uri: Option<String>,
    pub ui_locales: Option<String>,
}

impl AuthorizeParams {
    /// The `client_id`, if it is one worth looking up.
    pub fn client_id(&self) -> Result<&str, AuthorizeRefusal> {
        self.client_id
            .as_deref()
            .filter(|s| !s.is_empty() && s.len() <= MAX_CLIENT_ID)
            .ok_or(AuthorizeRefusal::ClientMissing)
    }
}

/// What validation needs to know of the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientFacts {
    /// A public client (no secret) must use PKCE.
    pub public: bool,
    pub allows_code: bool,
    pub allows_refresh: bool,
    /// The client holds an administrative role, so it may ask for [`ADMIN_SCOPE`].
    pub allows_admin_scope: bool,
}

/// A valid request's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidRequest {
    /// The scopes granted, space-separated.
    pub scope: String,
    pub code_challenge: Option<String>,
    pub max_age: Option<i64>,
    pub acr_values: Vec<String>,
}

/// Validates a request whose client and redirect URI are known good: `response_type=code`
/// only (RFC 9700 §2.1.2: no implicit or hybrid flow), query response mode, `openid` in
/// the scope, PKCE S256 only and required for public clients (RFC 7636, RFC 9700 §2.1.1),
/// a valid prompt without `consent`, and a non-negative `max_age`.
///
/// [`ADMIN_SCOPE`] is granted only to a client that may have it, and then only for a
/// phishing-resistant sign-in: the request's `acr_values` become that strength alone,
/// so a session begun with a pass or a weaker method must sign in again with a passkey.
pub fn validate(
    p: &AuthorizeParams,
    client: ClientFacts,
) -> Result<ValidRequest, AuthorizeRefusal> {
    use AuthorizeRefusal::*;
    let values = [
        &p.state,
        &p.nonce,
        &p.scope,
        &p.login_hint,
        &p.acr_values,
        &p.prompt,
        &p.redirect_uri,
        &p.code_challenge,
    ];
    if values
        .iter()
        .any(|v| v.as_ref().is_some_and(|s| s.len() > MAX_PARAM))
    {
        return Err(ParameterTooLong);
    }
    if p.request.is_some() {
        return Err(RequestObjectUnsupported);
    }
    if p.request_uri.is_some() {
        return Err(RequestUriUnsupported);
    }
    match p.response_type.as_deref() {
        Some("code") => {}
        None => return Err(ResponseTypeMissing),
        Some(_) => return Err(UnsupportedResponseType),
    }
    if p.response_mode.as_deref().is_some_and(|m| m != "query") {
        return Err(UnsupportedResponseMode);
    }
    if !client.allows_code {
        return Err(CodeFlowNotAllowed);
    }
    let scopes = parse_scopes(p.scope.as_deref().unwrap_or(""));
    if !scopes.iter().any(|s| s == "openid") {
        return Err(OpenIdScopeMissing);
    }
    let mut granted: Vec<&str> = SUPPORTED_SCOPES
        .into_iter()
        .filter(|s| scopes.iter().any(|r| r == s))
        .filter(|s| *s != "offline_access" || client.allows_refresh)
        .collect();
    let admin = client.allows_admin_scope && scopes.iter().any(|s| s == ADMIN_SCOPE);
    if admin {
        granted.push(ADMIN_SCOPE);
    }
    let code_challenge = pkce(
        p.code_challenge.as_deref(),
        p.code_challenge_method.as_deref(),
        client.public,
    )?;
    let prompt = parse_prompt(p.prompt.as_deref()).map_err(|_| PromptInvalid)?;
    if prompt.contains(&Prompt::Consent) {
        // OpenID Connect Core §3.1.2.1: an OP that cannot ask for consent answers
        // consent_required. Applications are approved by registering them.
        return Err(ConsentRequired);
    }
    let max_age = match p.max_age.as_deref() {
        None | Some("") => None,
        Some(v) => Some(
            v.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or(MaxAgeInvalid)?,
        ),
    };
    Ok(ValidRequest {
        scope: granted.join(" "),
        code_challenge,
        max_age,
        acr_values: if admin {
            vec![ACR_PHISHING_RESISTANT.to_string()]
        } else {
            p.acr_values
                .as_deref()
                .unwrap_or("")
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        },
    })
}

/// The PKCE challenge (RFC 7636 §4.2: S256 is a base64url SHA-256, 43 characters).
fn pkce(
    challenge: Option<&str>,
    method: Option<&str>,
    public: bool,
) -> Result<Option<String>, AuthorizeRefusal> {
    use AuthorizeRefusal::*;
    match (challenge, method) {
        (None, Some(_)) => Err(PkceMethodWithoutChallenge),
        (None, None) if public => Err(PkceRequired),
        (None, None) => Ok(None),
        (Some(_), Some(m)) if m != "S256" => Err(PkcePlainRefused),
        (Some(_), None) => Err(PkceMethodMissing),
        (Some(c), Some(_)) => {
            let base64url = c
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if c.len() == 43 && base64url {
                Ok(Some(c.to_string()))
            } else {
                Err(PkceChallengeMalformed)
            }
        }
    }
}

/// Whether only a phishing-resistant (passkey) sign-in can satisfy these strengths.
pub fn needs_passkey(acr_values: &[&str]) -> bool {
    let pass = SignInEvidence::TemporaryAccessPass { one_time: false }.methods();
    !acr_values.is_empty() && select_acr(acr_values, &pass).is_err()
}

/// The methods a user could sign in with now, as far as strength is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserMethods {
    /// A passkey that is not blocked.
    pub usable_passkey: bool,
    /// A usable pass, and whether it is one-time.
    pub usable_pass: Option<bool>,
}

impl UserMethods {
    /// Whether any of them could meet one of the requested strengths.
    pub fn could_satisfy(self, acr_values: &[&str]) -> bool {
        let passkey = SignInEvidence::Passkey {
            hardware_attested: false,
        };
        let with_passkey =
            self.usable_passkey && select_acr(acr_values, &passkey.methods()).is_ok();
        let with_pass = self.usable_pass.is_some_and(|one_time| {
            let pass = SignInEvidence::TemporaryAccessPass { one_time };
            select_acr(acr_values, &pass.methods()).is_ok()
        });
        with_passkey || with_pass
    }
}

/// What deciding a valid request knows.
#[derive(Debug, Clone, Copy)]
pub struct AuthorizeFacts<'a> {
    /// The browser's session, and what it was signed in with.
    pub session: Option<&'a SessionView>,
    pub prompt: &'a [Prompt],
    pub max_age: Option<i64>,
    pub acr_values: &'a [&'a str],
    /// For a request resumed after sign-in, when it was made.
    pub fresh_since: Option<Millis>,
    /// The signed-in user's methods; loaded only when the session's strength falls short
    /// (`None` until then).
    pub user_methods: Option<UserMethods>,
}

/// How a valid request is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizeOutcome {
    /// Issue a code; the `acr` the session satisfies (RFC 9470), if any.
    Issue { acr: Option<&'static str> },
    /// The person must sign in (again) first; the request waits meanwhile.
    SignIn(Reauthenticate),
    /// Refused, answered to the application.
    Refuse(AuthorizeRefusal),
    /// Deciding needs the signed-in user's methods ([`AuthorizeFacts::user_methods`]).
    NeedUserMethods,
}

/// Decides a valid request for the session (if any): answer now, sign in first, or
/// refuse. Never a silent downgrade: a strength no method of the user can meet is
/// refused (RFC 9470 §3), and `prompt=none` is refused rather than shown a page
/// (OpenID Connect Core §3.1.2.6).
pub fn assess(f: AuthorizeFacts<'_>, now: Millis) -> AuthorizeOutcome {
    let need = reauthentication_needed(
        f.session,
        f.prompt,
        f.max_age,
        f.acr_values,
        now,
        f.fresh_since,
    );
    let Some(need) = need else {
        let methods: &[Method] = f.session.map_or(&[], |s| s.methods.as_slice());
        return match select_acr(f.acr_values, methods) {
            Ok(acr) => AuthorizeOutcome::Issue { acr },
            // reauthentication_needed checked the strength: unreachable, but refused.
            Err(_) => AuthorizeOutcome::SignIn(Reauthenticate::StrengthNotMet),
        };
    };
    if f.prompt.contains(&Prompt::None) {
        return AuthorizeOutcome::Refuse(match need {
            Reauthenticate::StrengthNotMet => AuthorizeRefusal::InteractionRequired,
            _ => AuthorizeRefusal::LoginRequired,
        });
    }
    if need == Reauthenticate::StrengthNotMet && f.session.is_some() {
        match f.user_methods {
            None => return AuthorizeOutcome::NeedUserMethods,
            Some(m) if !m.could_satisfy(f.acr_values) => {
                return AuthorizeOutcome::Refuse(AuthorizeRefusal::UnmetAuthenticationRequirements);
            }
            Some(_) => {}
        }
    }
    AuthorizeOutcome::SignIn(need)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strength::ACR_MFA;

    const CONFIDENTIAL: ClientFacts = ClientFacts {
        public: false,
        allows_code: true,
        allows_refresh: true,
        allows_admin_scope: false,
    };

    fn params(scope: &str) -> AuthorizeParams {
        AuthorizeParams {
            response_type: Some("code".into()),
            scope: Some(scope.into()),
            ..AuthorizeParams::default()
        }
    }

    #[test]
    fn the_admin_scope_needs_a_client_with_a_role_and_a_passkey_sign_in() {
        let mut asked = params("openid keyfort.admin");
        asked.acr_values = Some(format!("{ACR_MFA} urn:other"));
        // A client without a role: the scope is dropped, the request otherwise kept.
        let v = validate(&asked, CONFIDENTIAL).unwrap();
        assert_eq!(v.scope, "openid");
        assert_eq!(v.acr_values, vec![ACR_MFA.to_string(), "urn:other".into()]);
        let console = ClientFacts {
            allows_admin_scope: true,
            ..CONFIDENTIAL
        };
        let v = validate(&asked, console).unwrap();
        assert_eq!(v.scope, "openid keyfort.admin");
        // Whatever strength was asked for, an admin token needs a passkey sign-in.
        assert_eq!(v.acr_values, vec![ACR_PHISHING_RESISTANT.to_string()]);
        assert!(needs_passkey(&[ACR_PHISHING_RESISTANT]));
        // Not asked for, not granted, and the request's strengths stand.
        let v = validate(&params("openid"), console).unwrap();
        assert_eq!(v.scope, "openid");
        assert!(v.acr_values.is_empty());
    }

    #[test]
    fn a_valid_request_keeps_the_supported_scopes() {
        let v = validate(&params("email openid bogus offline_access"), CONFIDENTIAL).unwrap();
        assert_eq!(v.scope, "openid email offline_access");
        let no_refresh = ClientFacts {
            allows_refresh: false,
            ..CONFIDENTIAL
        };
        let v = validate(&params("openid offline_access"), no_refresh).unwrap();
        assert_eq!(v.scope, "openid");
        assert_eq!(
            validate(&params("email"), CONFIDENTIAL),
            Err(AuthorizeRefusal::OpenIdScopeMissing)
        );
    }

    #[test]
    fn pkce_is_s256_only_and_required_of_public_clients() {
        use AuthorizeRefusal::*;
        let good = "a".repeat(43);
        type Case<'a> = (
            Option<&'a str>,
            Option<&'a str>,
            bool,
            Result<Option<String>, AuthorizeRefusal>,
        );
        let cases: [Case; 7] = [
            (None, None, false, Ok(None)),
            (None, None, true, Err(PkceRequired)),
            (None, Some("S256"), false, Err(PkceMethodWithoutChallenge)),
            (Some(&good), Some("plain"), false, Err(PkcePlainRefused)),
            (Some(&good), None, false, Err(PkceMethodMissing)),
            (
                Some("short"),
                Some("S256"),
                false,
                Err(PkceChallengeMalformed),
            ),
            (Some(&good), Some("S256"), true, Ok(Some(good.clone()))),
        ];
        for (challenge, method, public, want) in cases {
            assert_eq!(
                pkce(challenge, method, public),
                want,
                "{challenge:?} {method:?}"
            );
        }
        let not_base64url = format!("{}+", "a".repeat(42));
        assert_eq!(
            pkce(Some(&not_base64url), Some("S256"), false),
            Err(PkceChallengeMalformed)
        );
    }

    #[test]
    fn unsupported_shapes_are_refused() {
        use AuthorizeRefusal::*;
        let mut p = params("openid");
        p.response_type = Some("token".into());
        assert_eq!(validate(&p, CONFIDENTIAL), Err(UnsupportedResponseType));
        p.response_type = None;
        assert_eq!(validate(&p, CONFIDENTIAL), Err(ResponseTypeMissing));
        let mut p = params("openid");
        p.response_mode = Some("fragment".into());
        assert_eq!(validate(&p, CONFIDENTIAL), Err(UnsupportedResponseMode));
        let mut p = params("openid");
        p.request = Some("jwt".into());
        assert_eq!(validate(&p, CONFIDENTIAL), Err(RequestObjectUnsupported));
        let mut p = params("openid");
        p.state = Some("s".repeat(MAX_PARAM + 1));
        assert_eq!(validate(&p, CONFIDENTIAL), Err(ParameterTooLong));
        let mut p = params("openid");
        p.prompt = Some("consent".into());
        assert_eq!(validate(&p, CONFIDENTIAL), Err(ConsentRequired));
        p.prompt = Some("none login".into());
        assert_eq!(validate(&p, CONFIDENTIAL), Err(PromptInvalid));
        let mut p = params("openid");
        p.max_age = Some("-1".into());
        assert_eq!(validate(&p, CONFIDENTIAL), Err(MaxAgeInvalid));
        let code_only_not = ClientFacts {
            allows_code: false,
            ..CONFIDENTIAL
        };
        assert_eq!(
            validate(&params("openid"), code_only_not),
            Err(CodeFlowNotAllowed)
        );
    }

    fn facts<'a>(
        session: Option<&'a SessionView>,
        prompt: &'a [Prompt],
        acr_values: &'a [&'a str],
        user_methods: Option<UserMethods>,
    ) -> AuthorizeFacts<'a> {
        AuthorizeFacts {
            session,
            prompt,
            max_age: None,
            acr_values,
            fresh_since: None,
            user_methods,
        }
    }

    #[test]
    fn a_session_strong_enough_gets_a_code() {
        let passkey = SessionView {
            auth_time: 1_000,
            methods: vec![Method::Fido2],
        };
        let f = facts(Some(&passkey), &[], &[ACR_PHISHING_RESISTANT], None);
        assert_eq!(
            assess(f, 2_000),
            AuthorizeOutcome::Issue {
                acr: Some(ACR_PHISHING_RESISTANT)
            }
        );
    }

    #[test]
    fn no_session_signs_in_unless_prompt_none() {
        let f = facts(None, &[], &[], None);
        assert_eq!(
            assess(f, 2_000),
            AuthorizeOutcome::SignIn(Reauthenticate::NoSession)
        );
        let f = facts(None, &[Prompt::None], &[], None);
        assert_eq!(
            assess(f, 2_000),
            AuthorizeOutcome::Refuse(AuthorizeRefusal::LoginRequired)
        );
    }

    #[test]
    fn a_weak_session_steps_up_only_when_the_user_can() {
        let pass = SessionView {
            auth_time: 1_000,
            methods: vec![Method::TemporaryAccessPassOneTime],
        };
        let acrs = [ACR_PHISHING_RESISTANT];
        let f = facts(Some(&pass), &[], &acrs, None);
        assert_eq!(assess(f, 2_000), AuthorizeOutcome::NeedUserMethods);
        let none = UserMethods {
            usable_passkey: false,
            usable_pass: Some(true),
        };
        let f = facts(Some(&pass), &[], &acrs, Some(none));
        assert_eq!(
            assess(f, 2_000),
            AuthorizeOutcome::Refuse(AuthorizeRefusal::UnmetAuthenticationRequirements)
        );
        let passkey = UserMethods {
            usable_passkey: true,
            usable_pass: None,
        };
        let f = facts(Some(&pass), &[], &acrs, Some(passkey));
        assert_eq!(
            assess(f, 2_000),
            AuthorizeOutcome::SignIn(Reauthenticate::StrengthNotMet)
        );
        let f = facts(Some(&pass), &[Prompt::None], &acrs, None);
        assert_eq!(
            assess(f, 2_000),
            AuthorizeOutcome::Refuse(AuthorizeRefusal::InteractionRequired)
        );
        // A pass meets MFA.
        let f = facts(Some(&pass), &[], &[ACR_MFA], None);
        assert!(matches!(assess(f, 2_000), AuthorizeOutcome::Issue { .. }));
    }

    #[test]
    fn only_passkeys_meet_phishing_resistance() {
        assert!(needs_passkey(&[ACR_PHISHING_RESISTANT]));
        assert!(!needs_passkey(&[ACR_MFA]));
        assert!(!needs_passkey(&[]));
    }
}
