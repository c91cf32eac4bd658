//! The authorization endpoint (OpenID Connect Core §3.1.2): `response_type=code`
//! only, exact redirect URIs, PKCE S256 (required for public clients), prompt,
//! max_age and acr_values. A request that needs the user to sign in (again) waits,
//! sealed in the browser's URL, while they do; the sign-in answers it as it completes
//! ([`prepare_answer`], committed with the sign-in), and `/authorize/continue` answers
//! what it left.

use super::error::OAuthError;
use super::tokens::CODE_TTL_MS;
use crate::error::ApiError;
use crate::extract::CurrentSession;
use crate::pages::error_page;
use crate::sealed::Envelope;
use crate::state::{AppState, now_ms};
use axum::extract::{Query, RawForm, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use keyfort_core::oidc::{
    Reauthenticate, SessionView, parse_prompt, parse_scopes, reauthentication_needed,
    redirect_uri_matches,
};
use keyfort_core::strength::{SignInEvidence, select_acr};
use keyfort_store::{ClientRecord, CodeRecord, GrantRecord, PasskeyRecord, SpentCeremony};
use serde::{Deserialize, Serialize};
use url::Url;

pub const PENDING_KIND: &str = "authorize";
/// How long a user may take to sign in for a waiting authorization request.
pub const PENDING_TTL_MS: i64 = 10 * 60 * 1000;
pub const SUPPORTED_SCOPES: [&str; 5] = ["openid", "profile", "email", "offline_access", "groups"];

#[derive(Debug, Default, Deserialize)]
pub struct AuthorizeParams {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    prompt: Option<String>,
    max_age: Option<String>,
    login_hint: Option<String>,
    acr_values: Option<String>,
    response_mode: Option<String>,
    request: Option<String>,
    request_uri: Option<String>,
    #[allow(dead_code)]
    ui_locales: Option<String>,
}

/// A validated authorization request, as it waits for the person to sign in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    pub client_id: String,
    pub client_name: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<i64>,
    pub acr_values: Vec<String>,
    pub login_hint: Option<String>,
    pub created_at: i64,
}

impl Pending {
    /// Whether only a phishing-resistant (passkey) sign-in can satisfy it.
    pub fn needs_passkey(&self) -> bool {
        let pass = SignInEvidence::TemporaryAccessPass { one_time: false }.methods();
        let acrs: Vec<&str> = self.acr_values.iter().map(String::as_str).collect();
        !acrs.is_empty() && select_acr(&acrs, &pass).is_err()
    }
}

fn page_error(code: &'static str, message: &str) -> Response {
    let e = ApiError::bad_request(code, message);
    error_page(
        StatusCode::BAD_REQUEST,
        "This application's sign-in request is not valid",
        &e,
    )
}

/// The client, or the error page a person sees when it is not (or no longer) registered.
async fn registered_client(
    state: &AppState,
    id: &str,
    unknown: &str,
) -> Result<ClientRecord, Response> {
    match state.store.client(id).await {
        Ok(Some(c)) => Ok(c),
        Ok(None) => Err(page_error("unknown_client", unknown)),
        Err(e) => Err(ApiError::from(e).into_response()),
    }
}

const MAX_PARAM: usize = 2048;

fn too_long(p: &AuthorizeParams) -> bool {
    [
        &p.state,
        &p.nonce,
        &p.scope,
        &p.login_hint,
        &p.acr_values,
        &p.prompt,
        &p.redirect_uri,
        &p.code_challenge,
    ]
    .iter()
    .any(|v| v.as_ref().is_some_and(|s| s.len() > MAX_PARAM))
}

/// `GET /authorize`
pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<AuthorizeParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    match query {
        Ok(Query(p)) => authorize(&state, &headers, p).await,
        Err(_) => page_error(
            "invalid_request",
            "The request parameters could not be read.",
        ),
    }
}

/// `POST /authorize` (form-encoded, OpenID Connect Core §3.1.2.1)
pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawForm(body): RawForm,
) -> Response {
    match serde_urlencoded::from_bytes::<AuthorizeParams>(&body) {
        Ok(p) => authorize(&state, &headers, p).await,
        Err(_) => page_error(
            "invalid_request",
            "The request parameters could not be read.",
        ),
    }
}

async fn authorize(state: &AppState, headers: &HeaderMap, p: AuthorizeParams) -> Response {
    let now = now_ms();
    // Until the client and redirect URI are known good, errors go to the person, never to a URI.
    let Some(client_id) = p
        .client_id
        .as_deref()
        .filter(|s| !s.is_empty() && s.len() <= 256)
    else {
        return page_error(
            "invalid_request",
            "The request names no application (client_id).",
        );
    };
    let client = match registered_client(
        state,
        client_id,
        "This application is not registered with Keyfort.",
    )
    .await
    {
        Ok(c) => c,
        Err(page) => return page,
    };
    let Some(redirect_uri) = p.redirect_uri.clone() else {
        return page_error("invalid_request", "The request has no redirect_uri.");
    };
    if !redirect_uri_matches(&client.redirect_uri_list(), &redirect_uri) {
        return page_error(
            "redirect_uri_mismatch",
            "The redirect URI is not one registered for this application.",
        );
    }
    let fail = |e: OAuthError| e.redirect(&redirect_uri, p.state.as_deref(), &state.issuer);
    match validate(&client, &p, now) {
        Ok(pending) => decide(state, headers, &client, pending, None, now).await,
        Err(e) => fail(e),
    }
}

pub fn validate(
    client: &ClientRecord,
    p: &AuthorizeParams,
    now: i64,
) -> Result<Pending, OAuthError> {
    if too_long(p) {
        return Err(OAuthError::invalid_request("A parameter is too long."));
    }
    if p.request.is_some() {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "request_not_supported",
            "Request objects are not supported.",
        ));
    }
    if p.request_uri.is_some() {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "request_uri_not_supported",
            "request_uri is not supported.",
        ));
    }
    match p.response_type.as_deref() {
        Some("code") => {}
        None => return Err(OAuthError::invalid_request("response_type is required.")),
        // No implicit and no hybrid flow (RFC 9700 §2.1.2).
        Some(_) => {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_response_type",
                "Only response_type=code is supported.",
            ));
        }
    }
    if p.response_mode.as_deref().is_some_and(|m| m != "query") {
        return Err(OAuthError::invalid_request(
            "Only response_mode=query is supported.",
        ));
    }
    if !client.allows_grant("authorization_code") {
        return Err(OAuthError::unauthorized_client(
            "This application may not use the authorization code flow.",
        ));
    }
    let scopes = parse_scopes(p.scope.as_deref().unwrap_or(""));
    if !scopes.iter().any(|s| s == "openid") {
        return Err(OAuthError::invalid_scope("The scope must include openid."));
    }
    let mut granted: Vec<&str> = SUPPORTED_SCOPES
        .into_iter()
        .filter(|s| scopes.iter().any(|r| r == s))
        .collect();
    if granted.contains(&"offline_access") && !client.allows_grant("refresh_token") {
        granted.retain(|s| *s != "offline_access");
    }
    // RFC 7636 / RFC 9700 §2.1.1: S256 only; required for public clients.
    let code_challenge = match (
        p.code_challenge.as_deref(),
        p.code_challenge_method.as_deref(),
    ) {
        (None, Some(_)) => {
            return Err(OAuthError::invalid_request(
                "code_challenge_method without code_challenge.",
            ));
        }
        (None, None) if client.public_client != 0 => {
            return Err(OAuthError::invalid_request(
                "Public clients must use PKCE (code_challenge with S256).",
            ));
        }
        (None, None) => None,
        (Some(_), Some(m)) if m != "S256" => {
            return Err(OAuthError::invalid_request(
                "Only the S256 code_challenge_method is accepted; plain is refused.",
            ));
        }
        (Some(_), None) => {
            return Err(OAuthError::invalid_request(
                "code_challenge_method=S256 is required; plain is refused.",
            ));
        }
        (Some(c), Some(_)) => {
            if c.len() != 43
                || !c
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(OAuthError::invalid_request(
                    "code_challenge must be a base64url SHA-256 (43 characters).",
                ));
            }
            Some(c.to_string())
        }
    };
    let prompt = parse_prompt(p.prompt.as_deref()).map_err(OAuthError::invalid_request)?;
    if prompt.contains(&keyfort_core::oidc::Prompt::Consent) {
        // OpenID Connect Core §3.1.2.1: an OP that cannot ask for consent answers
        // consent_required. Applications are approved by registering them; there is no
        // consent step, so none is advertised either.
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "consent_required",
            "Keyfort does not ask for consent: applications are approved by the administrator who registers them.",
        ));
    }
    let max_age =
        match p.max_age.as_deref() {
            None | Some("") => None,
            Some(v) => Some(v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                OAuthError::invalid_request("max_age must be a number of seconds.")
            })?),
        };
    Ok(Pending {
        client_id: client.id.clone(),
        client_name: client.name.clone(),
        redirect_uri: p.redirect_uri.clone().unwrap_or_default(),
        scope: granted.join(" "),
        state: p.state.clone(),
        nonce: p.nonce.clone(),
        code_challenge,
        prompt: p.prompt.clone(),
        max_age,
        acr_values: p
            .acr_values
            .as_deref()
            .unwrap_or("")
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        login_hint: p.login_hint.clone(),
        created_at: now,
    })
}

/// What the session used, as evidence for `acr`/`amr`. `known`: the session's passkey when
/// the caller already holds it (right after the sign-in), which saves reading it again.
async fn evidence(
    state: &AppState,
    s: &CurrentSession,
    known: Option<&PasskeyRecord>,
) -> Result<SignInEvidence, ApiError> {
    let hardware = |p: &PasskeyRecord| p.attested != 0 && p.passkey_type == "deviceBound";
    Ok(match s.session.method.as_str() {
        "temporary_access_pass" => SignInEvidence::TemporaryAccessPass {
            one_time: s.session.pass_one_time != 0,
        },
        _ => {
            let attested = match (&s.session.passkey_id, known) {
                (Some(id), Some(p)) if *id == p.id && p.user_id == s.user.id => hardware(p),
                (Some(id), _) => state
                    .store
                    .passkey(&s.user.id, id)
                    .await?
                    .is_some_and(|p| hardware(&p)),
                (None, _) => false,
            };
            SignInEvidence::Passkey {
                hardware_attested: attested,
            }
        }
    })
}

/// Whether the user has any method that could satisfy the requested strengths.
async fn could_satisfy(
    state: &AppState,
    user_id: &str,
    acr_values: &[&str],
    now: i64,
) -> Result<bool, ApiError> {
    let has_passkey = state
        .store
        .passkeys_of_user(user_id)
        .await?
        .iter()
        .any(|p| p.possibly_cloned == 0);
    if has_passkey
        && select_acr(
            acr_values,
            &SignInEvidence::Passkey {
                hardware_attested: false,
            }
            .methods(),
        )
        .is_ok()
    {
        return Ok(true);
    }
    let pass = state.store.pass_of_user(user_id).await?;
    Ok(pass.is_some_and(|p| {
        p.state().usability(now).is_usable()
            && select_acr(
                acr_values,
                &SignInEvidence::TemporaryAccessPass {
                    one_time: p.one_time != 0,
                }
                .methods(),
            )
            .is_ok()
    }))
}

/// How an authorization request is answered.
enum Answer {
    /// Send the browser to the client's redirect URI with an error, or to the sign-in page.
    Redirect(String),
    /// An error the redirect URI could not carry.
    Show(Response),
    /// A code: once `grant` and `code` are committed (with the waiting request spent, if
    /// it waited), send the browser to `to`.
    Code(Box<IssuedCode>),
}

struct IssuedCode {
    grant: GrantRecord,
    code: CodeRecord,
    to: String,
}

fn already_answered() -> ApiError {
    ApiError::bad_request(
        "request_expired",
        "This sign-in request was already answered. Go back to the application and start again.",
    )
}

/// What the sign-in that a waiting request was started for commits and answers
/// ([`prepare_answer`]).
pub struct PreparedAnswer {
    /// Where the browser goes once the sign-in is committed (with `write`, if any).
    pub to: String,
    /// The grant and code to commit with the sign-in, and the request they spend.
    pub write: Option<(GrantRecord, CodeRecord, SpentCeremony)>,
}

/// Answers a validated request now, or parks it while the user signs in.
/// `waiting`: the id under which it already waits (when resumed after sign-in).
async fn decide(
    state: &AppState,
    headers: &HeaderMap,
    client: &ClientRecord,
    pending: Pending,
    waiting: Option<&Waiting>,
    now: i64,
) -> Response {
    let current = match CurrentSession::load(state, headers).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let answer = match try_decide(state, current, None, client, pending, waiting, now).await {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    match answer {
        Answer::Redirect(to) => Redirect::to(&to).into_response(),
        Answer::Show(r) => r,
        // One commit: the waiting request spent (it is answered once), the grant and its code.
        Answer::Code(c) => match state
            .store
            .create_grant_with_code(&c.grant, &c.code, waiting.map(|w| &w.spent))
            .await
        {
            Ok(true) => Redirect::to(&c.to).into_response(),
            Ok(false) => already_answered().into_response(),
            Err(e) => ApiError::from(e).into_response(),
        },
    }
}

/// For the sign-in that a waiting request `sealed` was started for, about to be committed
/// as `current`: decides the request as `/authorize/continue` would on the browser's next
/// request, so that the sign-in commits the grant and code with itself and sends the
/// browser straight back to the application — one round trip, one session lookup and one
/// commit fewer for every application sign-in. `None` for what it leaves to
/// `/authorize/continue`, which tells the person why: a request that is not one this
/// server sealed, has expired or was answered, or whose application is gone.
pub async fn prepare_answer(
    state: &AppState,
    sealed: &str,
    current: CurrentSession,
    passkey: Option<&PasskeyRecord>,
    now: i64,
) -> Option<PreparedAnswer> {
    let (pending, waiting) = pending(state, sealed, now).await.ok()??;
    let client = state.store.client(&pending.client_id).await.ok()??;
    let answer = try_decide(
        state,
        Some(current),
        passkey,
        &client,
        pending,
        Some(&waiting),
        now,
    )
    .await
    .ok()?;
    match answer {
        Answer::Redirect(to) => Some(PreparedAnswer { to, write: None }),
        Answer::Code(c) => Some(PreparedAnswer {
            to: c.to,
            write: Some((c.grant, c.code, waiting.spent)),
        }),
        Answer::Show(_) => None,
    }
}

async fn try_decide(
    state: &AppState,
    current: Option<CurrentSession>,
    known_passkey: Option<&PasskeyRecord>,
    client: &ClientRecord,
    pending: Pending,
    waiting: Option<&Waiting>,
    now: i64,
) -> Result<Answer, ApiError> {
    let fail = |e: OAuthError| {
        Ok(
            match e.redirect_url(
                &pending.redirect_uri,
                pending.state.as_deref(),
                &state.issuer,
            ) {
                Some(to) => Answer::Redirect(to),
                None => Answer::Show(e.into_response()),
            },
        )
    };
    let evidence = match &current {
        Some(s) => Some(evidence(state, s, known_passkey).await?),
        None => None,
    };
    let view = current.as_ref().zip(evidence).map(|(s, e)| SessionView {
        auth_time: s.session.auth_time,
        methods: e.methods(),
    });
    let prompt = parse_prompt(pending.prompt.as_deref()).unwrap_or_default();
    let acrs: Vec<&str> = pending.acr_values.iter().map(String::as_str).collect();
    let fresh_since = waiting.map(|_| pending.created_at);
    let need = reauthentication_needed(
        view.as_ref(),
        &prompt,
        pending.max_age,
        &acrs,
        now,
        fresh_since,
    );
    let Some(need) = need else {
        let (Some(current), Some(evidence)) = (current, evidence) else {
            return Err(ApiError::internal());
        };
        return issue_code(state, client, &pending, &current, evidence, now);
    };
    if prompt.contains(&keyfort_core::oidc::Prompt::None) {
        // OpenID Connect Core §3.1.2.6: no interaction allowed.
        let e = match need {
            Reauthenticate::StrengthNotMet => OAuthError::new(
                StatusCode::BAD_REQUEST,
                "interaction_required",
                "A stronger sign-in is needed.",
            ),
            _ => OAuthError::new(
                StatusCode::BAD_REQUEST,
                "login_required",
                "The user is not signed in.",
            ),
        };
        return fail(e);
    }
    if need == Reauthenticate::StrengthNotMet
        && let Some(s) = &current
        && !could_satisfy(state, &s.user.id, &acrs, now).await?
    {
        if let Some(w) = waiting {
            // Answered: the request cannot be continued again.
            state.store.spend_ceremony(&w.spent).await?;
        }
        // RFC 9470 §3: never a silent downgrade.
        return fail(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unmet_authentication_requirements",
            "The user has no sign-in method that meets the requested authentication strength.",
        ));
    }
    let id = match waiting {
        Some(w) => w.sealed.clone(),
        None => state
            .requests
            .seal(
                PENDING_KIND,
                &Envelope {
                    id: crate::crypto::ordered_id(),
                    exp: now + PENDING_TTL_MS,
                    body: &pending,
                },
            )
            .map_err(|_| ApiError::internal())?,
    };
    Ok(Answer::Redirect(format!("/signin?request={id}")))
}

/// The grant and code that answer `pending` for `current`, and the redirect that carries
/// the code; the caller commits them.
fn issue_code(
    state: &AppState,
    client: &ClientRecord,
    pending: &Pending,
    current: &CurrentSession,
    evidence: SignInEvidence,
    now: i64,
) -> Result<Answer, ApiError> {
    let acrs: Vec<&str> = pending.acr_values.iter().map(String::as_str).collect();
    let acr = select_acr(&acrs, &evidence.methods()).map_err(|_| ApiError::internal())?;
    let grant = GrantRecord {
        id: crate::crypto::ordered_id(),
        client_id: client.id.clone(),
        user_id: Some(current.user.id.clone()),
        session_id: Some(current.session.id.clone()),
        scope: pending.scope.clone(),
        auth_time: Some(current.session.auth_time),
        acr: acr.map(str::to_string),
        amr: serde_json::to_string(&evidence.amr()).map_err(|_| ApiError::internal())?,
        nonce: pending.nonce.clone(),
        // Tokens from a pass sign-in never outlive the pass.
        not_after: current.session.pass_expires_at,
        created_at: now,
        revoked_at: None,
    };
    let code = crate::crypto::random_token();
    let code_record = CodeRecord {
        code_hash: crate::crypto::token_hash(&code),
        grant_id: grant.id.clone(),
        redirect_uri: pending.redirect_uri.clone(),
        code_challenge: pending.code_challenge.clone(),
        created_at: now,
        expires_at: now + CODE_TTL_MS,
        used_at: None,
    };
    let mut url = Url::parse(&pending.redirect_uri).map_err(|_| ApiError::internal())?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("code", &code);
        if let Some(s) = &pending.state {
            q.append_pair("state", s);
        }
        // RFC 9207: the issuer in the response, against mix-up attacks.
        q.append_pair("iss", &state.issuer);
    }
    Ok(Answer::Code(Box::new(IssuedCode {
        grant,
        code: code_record,
        to: url.into(),
    })))
}

#[derive(Deserialize)]
pub struct ContinueParams {
    request: String,
}

/// A request waiting for sign-in, as the browser carries it: sealed (kind `authorize`,
/// `passkeys::sealed`), single-use through the store's spent-ceremony ids.
pub struct Waiting {
    pub sealed: String,
    pub spent: SpentCeremony,
}

/// Opens a waiting request: `None` when it is not one this server sealed, has expired,
/// or was already answered.
pub async fn pending(
    state: &AppState,
    sealed: &str,
    now: i64,
) -> Result<Option<(Pending, Waiting)>, ApiError> {
    let Some(opened) = state.requests.open::<Pending>(PENDING_KIND, sealed) else {
        return Ok(None);
    };
    if now >= opened.exp || state.store.ceremony_spent(&opened.id).await? {
        return Ok(None);
    }
    let waiting = Waiting {
        sealed: sealed.to_string(),
        spent: SpentCeremony {
            id: opened.id,
            expires_at: opened.exp,
        },
    };
    Ok(Some((opened.body, waiting)))
}

/// `GET /authorize/continue?request=…`: after sign-in, answer the waiting request.
pub async fn resume(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ContinueParams>,
) -> Response {
    let now = now_ms();
    let (pending, waiting) = match pending(&state, &q.request, now).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            return page_error(
                "request_expired",
                "This sign-in request expired or was already answered. Go back to the application and start again.",
            );
        }
        Err(e) => return e.into_response(),
    };
    let client = match registered_client(
        &state,
        &pending.client_id,
        "This application is no longer registered.",
    )
    .await
    {
        Ok(c) => c,
        Err(page) => return page,
    };
    decide(&state, &headers, &client, pending, Some(&waiting), now).await
}
