//! The one table from `core`'s typed refusals to HTTP: for each, the status and the
//! message a person reads; the code is the refusal's own (`code()`), the same string the
//! sign-in log records.

use crate::error::ApiError;
use crate::html::error_page;
use crate::oidc::error::OAuthError;
use axum::http::StatusCode;
use axum::response::Response;
use keyfort_core::authorize::AuthorizeRefusal;
use keyfort_core::clients::ClientAuthRefusal;
use keyfort_core::oidc::LogoutRefusal;
use keyfort_core::passkey::MAX_PASSKEYS_PER_USER;
use keyfort_core::policy::{PasskeyPolicyRefusal, ProfileRule};
use keyfort_core::refresh::RefreshRefusal;
use keyfort_core::registration::RegistrationRefusal;
use keyfort_core::signin::SignInRefusal;
use keyfort_core::token::{BearerRefusal, TokenRefusal, TokenRequestRefusal};
use keyfort_core::webauthn::WebAuthnRefusal;

impl From<WebAuthnRefusal> for ApiError {
    fn from(r: WebAuthnRefusal) -> Self {
        use WebAuthnRefusal::*;
        if let FieldTooLarge { field, max } = r {
            return ApiError::bad_request(
                r.code(),
                format!("The {field} is larger than {max} bytes."),
            );
        }
        let (status, message) = match r {
            ChallengeInvalid => (
                StatusCode::BAD_REQUEST,
                "This request was already used or never existed. Start again.",
            ),
            ChallengeExpired => (
                StatusCode::BAD_REQUEST,
                "This request expired (after 5 minutes). Start again.",
            ),
            OriginMismatch => (
                StatusCode::BAD_REQUEST,
                "The response was made for another website (origin mismatch).",
            ),
            RpIdMismatch => (
                StatusCode::BAD_REQUEST,
                "The authenticator signed for another relying party.",
            ),
            ChallengeMismatch => (
                StatusCode::BAD_REQUEST,
                "The response does not answer this challenge.",
            ),
            InvalidClientData => (
                StatusCode::BAD_REQUEST,
                "The client data is of the wrong type.",
            ),
            UserPresenceRequired => (
                StatusCode::BAD_REQUEST,
                "The authenticator did not confirm user presence.",
            ),
            UserVerificationRequired => (
                StatusCode::BAD_REQUEST,
                "The authenticator did not verify the user (PIN or biometric); Keyfort requires it.",
            ),
            SignCountRegression => (
                StatusCode::UNAUTHORIZED,
                "This passkey's signature counter went backwards, which suggests it was cloned. It is blocked; contact your administrator.",
            ),
            InvalidSignature => (
                StatusCode::UNAUTHORIZED,
                "The passkey's signature is not valid.",
            ),
            InconsistentBackupFlags => (
                StatusCode::BAD_REQUEST,
                "The authenticator reported inconsistent backup flags.",
            ),
            UnsupportedAlgorithm => (
                StatusCode::BAD_REQUEST,
                "The passkey uses an algorithm Keyfort did not offer.",
            ),
            AttestationUnsupported => (
                StatusCode::BAD_REQUEST,
                "The attestation statement could not be verified.",
            ),
            InvalidResponse | FieldTooLarge { .. } => (
                StatusCode::BAD_REQUEST,
                "The authenticator response could not be verified.",
            ),
            CredentialTypeInvalid => (
                StatusCode::BAD_REQUEST,
                "The credential type must be public-key.",
            ),
            CredentialIdMismatch => (
                StatusCode::BAD_REQUEST,
                "The credential's id, rawId and attested credential id must be the same.",
            ),
        };
        ApiError::new(status, r.code(), message)
    }
}

/// What a person reads when FIDO metadata reports their passkey's model.
pub const REPORTED_MODEL_MESSAGE: &str = "FIDO reports this model of authenticator revoked or compromised, so it can no longer sign you in. Use another passkey, or ask your administrator for a Temporary Access Pass to register a new one.";

impl From<SignInRefusal> for ApiError {
    fn from(r: SignInRefusal) -> Self {
        use SignInRefusal::*;
        let (status, message) = match r {
            WebAuthn(w) => return w.into(),
            UnknownCredential => (
                StatusCode::UNAUTHORIZED,
                "Keyfort does not know this passkey: it may have been deleted, or it belongs to another account. Use another passkey or another way to sign in.",
            ),
            CredentialSuspended => (
                StatusCode::FORBIDDEN,
                "This passkey is blocked because it may have been cloned. Contact your administrator.",
            ),
            UserDisabled => (
                StatusCode::FORBIDDEN,
                "This account is disabled. Contact your administrator.",
            ),
            InvalidCredentials => (
                StatusCode::UNAUTHORIZED,
                "That username and pass do not match a usable Temporary Access Pass.",
            ),
            PassExpired => (
                StatusCode::UNAUTHORIZED,
                "This Temporary Access Pass has expired.",
            ),
            PassUsed => (
                StatusCode::UNAUTHORIZED,
                "This Temporary Access Pass was for one use and has been used.",
            ),
            PassNotYetValid => (StatusCode::UNAUTHORIZED, "This pass is not valid yet."),
            PassDisabledByPolicy => (
                StatusCode::FORBIDDEN,
                "Your organisation's policy does not allow you to sign in with a Temporary \
                 Access Pass. Ask your administrator.",
            ),
            Policy(p) => (StatusCode::FORBIDDEN, passkey_policy_message(p, false)),
            ModelReported(_) => (StatusCode::FORBIDDEN, REPORTED_MODEL_MESSAGE),
            PasswordIncorrect => (
                StatusCode::UNAUTHORIZED,
                "That username and password do not match.",
            ),
            PasswordDisabledByPolicy => (
                StatusCode::FORBIDDEN,
                "Your organisation's policy no longer allows you to sign in with a password. \
                 Use a passkey, or ask your administrator for a Temporary Access Pass.",
            ),
        };
        ApiError::new(status, r.code(), message)
    }
}

/// What a person reads when the authentication-methods policy refuses a passkey: the
/// rule, and what to do about it.
pub fn passkey_policy_message(r: PasskeyPolicyRefusal, registering: bool) -> &'static str {
    use PasskeyPolicyRefusal::*;
    match (r, registering) {
        (MethodDisabled, _) => "Your organisation has turned passkeys off.",
        (Excluded | NotIncluded, false) => {
            "Your organisation's policy does not let you sign in with a passkey. Sign in another way or contact your administrator."
        }
        (Excluded | NotIncluded, true) => {
            "Your organisation's policy does not let you register a passkey."
        }
        (SelfServiceDisabled, _) => {
            "Your organisation does not let people register passkeys themselves. Ask your administrator for a Temporary Access Pass."
        }
        (Profile(ProfileRule::PasskeyType), false) => {
            "Your organisation's policy no longer accepts this type of passkey (synced or device-bound). Sign in another way and register one it accepts; My security shows which."
        }
        (Profile(ProfileRule::PasskeyType), true) => {
            "Your organisation's policy does not accept this type of passkey (synced or device-bound). My security shows which it accepts."
        }
        (Profile(ProfileRule::Attestation), _) => {
            "Your organisation requires a passkey whose maker can be verified (attestation), and this one's could not be."
        }
        (Profile(ProfileRule::KeyNotAllowed), _) => {
            "Your organisation's policy does not accept passkeys from this provider or model. My security shows which it accepts."
        }
        (Profile(ProfileRule::KeyBlocked), _) => {
            "Your organisation's policy blocks passkeys from this provider or model."
        }
    }
}

impl From<keyfort_core::campaign::SnoozeRefusal> for ApiError {
    fn from(r: keyfort_core::campaign::SnoozeRefusal) -> Self {
        use keyfort_core::campaign::SnoozeRefusal::*;
        let message = match r {
            RegistrationRequired => {
                "Your organisation requires a passkey before you go on: it can no longer wait."
            }
            NotAsked => "Nothing asks you to add a passkey now.",
        };
        ApiError::new(StatusCode::CONFLICT, r.code(), message)
    }
}

impl From<keyfort_core::totp::CodeRefusal> for ApiError {
    fn from(r: keyfort_core::totp::CodeRefusal) -> Self {
        use keyfort_core::totp::CodeRefusal::*;
        let (status, message) = match r {
            Malformed => (
                StatusCode::BAD_REQUEST,
                "Type the six digits your authenticator app shows.",
            ),
            Incorrect => (
                StatusCode::UNAUTHORIZED,
                "That code does not match. Check the time on your phone, and type the code your app shows now.",
            ),
            Used => (
                StatusCode::UNAUTHORIZED,
                "That code was used already. Wait for the next one.",
            ),
        };
        ApiError::new(status, r.code(), message)
    }
}

impl From<keyfort_core::totp::EnrolRefusal> for ApiError {
    fn from(r: keyfort_core::totp::EnrolRefusal) -> Self {
        use keyfort_core::totp::EnrolRefusal::*;
        let (status, message) = match r {
            MethodDisabled => (
                StatusCode::FORBIDDEN,
                "Your organisation's policy does not allow authenticator apps.",
            ),
            ReauthenticationRequired => (
                StatusCode::FORBIDDEN,
                "Sign in again with your passkey (or a Temporary Access Pass) to add an authenticator app.",
            ),
            AlreadyEnrolled => (
                StatusCode::CONFLICT,
                "You have an authenticator app already. Remove it first to set up another.",
            ),
        };
        ApiError::new(status, r.code(), message)
    }
}

impl From<RegistrationRefusal> for ApiError {
    fn from(r: RegistrationRefusal) -> Self {
        use RegistrationRefusal::*;
        let (status, message) = match r {
            WebAuthn(w) => return w.into(),
            ReauthenticationRequired => (
                StatusCode::FORBIDDEN,
                "Adding a passkey needs a recent sign-in: sign in again with a passkey (within 5 minutes) or a Temporary Access Pass.".to_string(),
            ),
            TooManyPasskeys => (
                StatusCode::CONFLICT,
                format!("You already have {MAX_PASSKEYS_PER_USER} passkeys; remove one first."),
            ),
            InvalidName => (
                StatusCode::BAD_REQUEST,
                "A passkey name is 1 to 64 characters, without control characters.".to_string(),
            ),
            CredentialExists => (
                StatusCode::CONFLICT,
                "This passkey is already registered.".to_string(),
            ),
            Policy(p) => (StatusCode::FORBIDDEN, passkey_policy_message(p, true).to_string()),
            ModelReported(_) => (
                StatusCode::FORBIDDEN,
                "FIDO reports this model of authenticator revoked or compromised: use another passkey.".to_string(),
            ),
        };
        ApiError::new(status, r.code(), message)
    }
}

impl From<TokenRefusal> for OAuthError {
    fn from(r: TokenRefusal) -> Self {
        use TokenRefusal::*;
        OAuthError::invalid_grant(match r {
            InvalidCode => "The authorization code is invalid, expired or already used.",
            CodeOfAnotherClient => "The authorization code was issued to another client.",
            RedirectUriMismatch => "redirect_uri does not match the authorization request.",
            VerifierMalformed => "The code_verifier is malformed.",
            VerifierMismatch => "The code_verifier does not match the code_challenge.",
            VerifierRequired => "code_verifier is required.",
            VerifierWithoutChallenge => "No code_challenge was sent with this authorization.",
        })
    }
}

impl From<RefreshRefusal> for OAuthError {
    fn from(r: RefreshRefusal) -> Self {
        match r {
            RefreshRefusal::ScopeWidened { scope } => OAuthError::invalid_scope(format!(
                "A refresh cannot widen the granted scope (\"{scope}\" was not granted)."
            )),
            RefreshRefusal::InvalidToken
            | RefreshRefusal::TokenOfAnotherClient
            | RefreshRefusal::Reused
            | RefreshRefusal::UserDisabled => {
                OAuthError::invalid_grant("The refresh token is invalid, expired or revoked.")
            }
        }
    }
}

impl From<TokenRequestRefusal> for OAuthError {
    fn from(r: TokenRequestRefusal) -> Self {
        use TokenRequestRefusal::*;
        match r {
            NotAForm => {
                OAuthError::invalid_request("The body must be application/x-www-form-urlencoded.")
            }
            RepeatedParameter => {
                OAuthError::invalid_request("A parameter was sent more than once.")
            }
            MissingParameter(name) => OAuthError::invalid_request(format!("{name} is required.")),
            LegacyGrant => OAuthError::unsupported_grant_type(
                "The password grant is not offered: sign in with a passkey.",
            ),
            UnsupportedGrant(g) => OAuthError::unsupported_grant_type(format!(
                "The grant type `{g}` is not supported."
            )),
            GrantNotAllowed(g) => {
                OAuthError::unauthorized_client(format!("This client may not use the {g} grant."))
            }
            PublicClientCredentials => {
                OAuthError::unauthorized_client("Public clients cannot use client credentials.")
            }
            ScopeMalformed => OAuthError::invalid_scope("A scope value is malformed."),
            ScopeNeedsUser(s) => OAuthError::invalid_scope(format!(
                "`{s}` needs a user; it is not available to client credentials."
            )),
            AuthorizationExpired => OAuthError::invalid_grant("The authorization has expired."),
        }
    }
}

impl From<ClientAuthRefusal> for OAuthError {
    fn from(r: ClientAuthRefusal) -> Self {
        use ClientAuthRefusal::*;
        match r {
            Failed => OAuthError::invalid_client("Client authentication failed."),
            SeveralMethods => {
                OAuthError::invalid_request("Use exactly one client authentication method.")
            }
            AssertionType => {
                OAuthError::invalid_request("client_assertion_type must be jwt-bearer.")
            }
            AssertionReplayed => {
                OAuthError::invalid_client("This client assertion was already used.")
            }
            Throttled { retry_after_ms } => OAuthError::too_many_attempts(retry_after_ms),
        }
    }
}

impl From<BearerRefusal> for OAuthError {
    fn from(r: BearerRefusal) -> Self {
        use BearerRefusal::*;
        match r {
            InsufficientScope => OAuthError::new(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                "The token was not issued for openid.",
            ),
            Missing => {
                OAuthError::invalid_token("An access token is required (Authorization: Bearer …).")
            }
            NotBearer => OAuthError::invalid_token("Use the Bearer scheme."),
            Invalid => OAuthError::invalid_token("The access token is invalid or expired."),
            Revoked => OAuthError::invalid_token("The access token was revoked or has expired."),
            NoUser => OAuthError::invalid_token("This token belongs to no user."),
            UserInactive => OAuthError::invalid_token("The user is no longer active."),
            UnknownClient => OAuthError::invalid_token("Unknown client."),
        }
    }
}

/// A request Keyfort cannot take before anything is decided: its body, its origin, its
/// endpoint or its session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestRefusal {
    UnsupportedMediaType,
    PayloadTooLarge,
    MalformedJson,
    /// The body is JSON of the wrong shape (what serde said).
    InvalidShape(String),
    Unreadable,
    NotSignedIn,
    NoSuchEndpoint,
    /// A cookie-authenticated write from another site.
    CrossOrigin,
}

impl From<RequestRefusal> for ApiError {
    fn from(r: RequestRefusal) -> Self {
        use RequestRefusal::*;
        match r {
            UnsupportedMediaType => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Send the request body as application/json.",
            ),
            PayloadTooLarge => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!(
                    "The request body exceeds {} bytes.",
                    crate::extract::MAX_BODY_BYTES
                ),
            ),
            MalformedJson => {
                ApiError::bad_request("malformed_json", "The request body is not valid JSON.")
            }
            InvalidShape(why) => ApiError::bad_request(
                "invalid_request",
                format!("The request body does not have the expected shape: {why}"),
            ),
            Unreadable => {
                ApiError::bad_request("invalid_request", "The request body could not be read.")
            }
            NotSignedIn => ApiError::unauthorized("not_signed_in", "Sign in first."),
            NoSuchEndpoint => ApiError::not_found("not_found", "No such endpoint."),
            CrossOrigin => ApiError::forbidden(
                "cross_origin_request",
                "Requests must come from Keyfort's own pages.",
            ),
        }
    }
}

/// An application-layer refusal as the API's answer.
impl From<crate::app::AppError> for ApiError {
    fn from(e: crate::app::AppError) -> Self {
        use crate::app::AppError::*;
        match e {
            Passkey(r) => r.into(),
            NotFound(what) => ApiError::not_found("not_found", format!("No such {what}.")),
            Conflict(what) => {
                ApiError::conflict("conflict", format!("That {what} already exists."))
            }
            Internal(why) => {
                tracing::error!(error = %why, "application error");
                ApiError::internal()
            }
            e @ (Stale { .. } | LastGlobalAdministrator | Removal(_)) => {
                ApiError::conflict(e.code(), e.to_string())
            }
            e @ Forbidden(_) => ApiError::forbidden(e.code(), e.to_string()),
            e @ (Refused(_)
            | Client(_)
            | NoSecret(_)
            | PassIssue(_)
            | Password(_)
            | Policy(_)
            | PolicyDocument(_)
            | Provider(_)
            | Metadata { .. }
            | UnknownRole(_)) => ApiError::bad_request(e.code(), e.to_string()),
        }
    }
}

/// What an authorization refusal says: to the application's redirect URI as
/// `error_description`, or to the person on the error page.
fn authorize_message(r: AuthorizeRefusal) -> &'static str {
    use AuthorizeRefusal::*;
    match r {
        Unreadable => "The request parameters could not be read.",
        ClientMissing => "The request names no application (client_id).",
        UnknownClient => "This application is not registered with Keyfort.",
        ClientGone => "This application is no longer registered.",
        RedirectUriMissing => "The request has no redirect_uri.",
        RedirectUriMismatch => "The redirect URI is not one registered for this application.",
        RequestExpired => {
            "This sign-in request expired or was already answered. Go back to the application and start again."
        }
        ParameterTooLong => "A parameter is too long.",
        RequestObjectUnsupported => "Request objects are not supported.",
        RequestUriUnsupported => "request_uri is not supported.",
        ResponseTypeMissing => "response_type is required.",
        UnsupportedResponseType => "Only response_type=code is supported.",
        UnsupportedResponseMode => "Only response_mode=query is supported.",
        CodeFlowNotAllowed => "This application may not use the authorization code flow.",
        OpenIdScopeMissing => "The scope must include openid.",
        PkceMethodWithoutChallenge => "code_challenge_method without code_challenge.",
        PkceRequired => "Public clients must use PKCE (code_challenge with S256).",
        PkcePlainRefused => "Only the S256 code_challenge_method is accepted; plain is refused.",
        PkceMethodMissing => "code_challenge_method=S256 is required; plain is refused.",
        PkceChallengeMalformed => "code_challenge must be a base64url SHA-256 (43 characters).",
        PromptInvalid => "The prompt is not valid: unknown value, or none combined with others.",
        ConsentRequired => {
            "Keyfort does not ask for consent: applications are approved by the administrator who registers them."
        }
        MaxAgeInvalid => "max_age must be a number of seconds.",
        LoginRequired => "The user is not signed in.",
        InteractionRequired => "A stronger sign-in is needed.",
        UnmetAuthenticationRequirements => {
            "The user has no sign-in method that meets the requested authentication strength."
        }
    }
}

impl From<AuthorizeRefusal> for OAuthError {
    fn from(r: AuthorizeRefusal) -> Self {
        OAuthError::new(StatusCode::BAD_REQUEST, r.error(), authorize_message(r))
    }
}

/// The page a person sees for a refusal that cannot go to the redirect URI.
pub fn authorize_page(r: AuthorizeRefusal) -> Response {
    let e = ApiError::bad_request(r.error(), authorize_message(r));
    error_page(
        StatusCode::BAD_REQUEST,
        "This application's sign-in request is not valid",
        &e,
    )
}

/// The page a person sees for a refused sign-out request.
pub fn logout_page(r: LogoutRefusal) -> Response {
    use LogoutRefusal::*;
    let message = match r {
        Unreadable => "The sign-out parameters could not be read.",
        ForeignHint => "The id_token_hint is not an ID token issued by Keyfort.",
        ClientMismatch => "client_id does not match the id_token_hint.",
        UnknownClient => "client_id is not an application registered with Keyfort.",
        RedirectNotRegistered => "post_logout_redirect_uri is not registered for this application.",
    };
    error_page(
        StatusCode::BAD_REQUEST,
        "Sign-out request not valid",
        &ApiError::bad_request(r.code(), message),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_carries_the_refusals_own_code() {
        let refusals = [
            SignInRefusal::UnknownCredential,
            SignInRefusal::CredentialSuspended,
            SignInRefusal::UserDisabled,
            SignInRefusal::InvalidCredentials,
            SignInRefusal::PassExpired,
            SignInRefusal::PassUsed,
            SignInRefusal::PassNotYetValid,
            SignInRefusal::PassDisabledByPolicy,
            SignInRefusal::PasswordIncorrect,
            SignInRefusal::PasswordDisabledByPolicy,
            SignInRefusal::WebAuthn(WebAuthnRefusal::SignCountRegression),
            SignInRefusal::WebAuthn(WebAuthnRefusal::ChallengeExpired),
        ];
        for r in refusals {
            let e = ApiError::from(r);
            assert_eq!(e.code, r.code());
            assert!(e.status.is_client_error(), "{r:?}");
            assert!(!e.message.is_empty());
        }
        for w in WebAuthnRefusal::ALL {
            let e = ApiError::from(w);
            assert_eq!(e.code, w.code());
            assert!(e.status.is_client_error(), "{w:?}");
        }
        for r in [
            RegistrationRefusal::ReauthenticationRequired,
            RegistrationRefusal::TooManyPasskeys,
            RegistrationRefusal::InvalidName,
            RegistrationRefusal::CredentialExists,
        ] {
            let e = ApiError::from(r);
            assert_eq!(e.code, r.code());
            assert!(e.status.is_client_error(), "{r:?}");
        }
    }

    /// Token-endpoint refusals answer with the RFC 6749 §5.2 error each stands for; the
    /// refresh refusals a client must not tell apart share one answer.
    #[test]
    fn token_refusals_answer_in_oauth_terms() {
        use TokenRequestRefusal as T;
        let cases: [(OAuthError, StatusCode, &str); 14] = [
            (
                T::NotAForm.into(),
                StatusCode::BAD_REQUEST,
                "invalid_request",
            ),
            (
                T::MissingParameter("code").into(),
                StatusCode::BAD_REQUEST,
                "invalid_request",
            ),
            (
                T::LegacyGrant.into(),
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
            ),
            (
                T::GrantNotAllowed("x".into()).into(),
                StatusCode::BAD_REQUEST,
                "unauthorized_client",
            ),
            (
                T::ScopeNeedsUser("openid".into()).into(),
                StatusCode::BAD_REQUEST,
                "invalid_scope",
            ),
            (
                T::AuthorizationExpired.into(),
                StatusCode::BAD_REQUEST,
                "invalid_grant",
            ),
            (
                ClientAuthRefusal::Failed.into(),
                StatusCode::UNAUTHORIZED,
                "invalid_client",
            ),
            (
                ClientAuthRefusal::AssertionReplayed.into(),
                StatusCode::UNAUTHORIZED,
                "invalid_client",
            ),
            (
                ClientAuthRefusal::SeveralMethods.into(),
                StatusCode::BAD_REQUEST,
                "invalid_request",
            ),
            (
                ClientAuthRefusal::Throttled {
                    retry_after_ms: 1_500,
                }
                .into(),
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
            ),
            (
                BearerRefusal::InsufficientScope.into(),
                StatusCode::FORBIDDEN,
                "insufficient_scope",
            ),
            (
                BearerRefusal::Revoked.into(),
                StatusCode::UNAUTHORIZED,
                "invalid_token",
            ),
            (
                RefreshRefusal::ScopeWidened {
                    scope: "email".into(),
                }
                .into(),
                StatusCode::BAD_REQUEST,
                "invalid_scope",
            ),
            (
                RefreshRefusal::Reused.into(),
                StatusCode::BAD_REQUEST,
                "invalid_grant",
            ),
        ];
        for (e, status, error) in cases {
            assert_eq!((e.status, e.error), (status, error), "{e:?}");
            assert!(!e.description.is_empty());
        }
        let throttled = OAuthError::from(ClientAuthRefusal::Throttled {
            retry_after_ms: 1_500,
        });
        assert_eq!(throttled.retry_after_secs, Some(2));
        let same = [
            RefreshRefusal::InvalidToken,
            RefreshRefusal::TokenOfAnotherClient,
            RefreshRefusal::Reused,
            RefreshRefusal::UserDisabled,
        ]
        .map(|r| OAuthError::from(r).description);
        assert!(same.iter().all(|d| d == &same[0]), "{same:?}");
    }
}
