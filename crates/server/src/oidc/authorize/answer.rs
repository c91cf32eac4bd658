//! Answering a request: a code, an error for the application, or the sign-in page;
//! committed, then rendered.

use super::decision;
use super::request::{self, Pending, Waiting};
use crate::error::ApiError;
use crate::extract::CurrentSession;
use crate::oidc::error::OAuthError;
use crate::oidc::tokens::CODE_TTL_MS;
use crate::refusals::authorize_page;
use crate::state::AppState;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use keyfort_core::authorize::{AuthorizeOutcome, AuthorizeRefusal};
use keyfort_core::strength::SignInEvidence;
use keyfort_store::{ClientRecord, CodeRecord, GrantRecord, PasskeyRecord, SpentCeremony};
use url::Url;

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
pub async fn decide(
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
    let answer = match answer(state, current, None, client, pending, waiting, now).await {
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
            Ok(false) => authorize_page(AuthorizeRefusal::RequestExpired),
            Err(e) => ApiError::from(e).into_response(),
        },
    }
}

/// Whether the registration campaign requires this person to register a passkey before
/// going on. A passkey session's person holds one: nothing to read on that path.
async fn registration_required(
    state: &AppState,
    current: &CurrentSession,
    now: i64,
) -> Result<bool, ApiError> {
    if current.session.method == keyfort_core::session::SignInMethod::Passkey {
        return Ok(false);
    }
    let user_id = &current.user.id;
    let holds_passkey = !state.store.passkeys_of_user(user_id).await?.is_empty();
    let policy = state.policy();
    let groups = policy.groups_of(&state.store, user_id).await?;
    let step =
        crate::signin::campaign_step(state, user_id, holds_passkey, &policy.policy, &groups, now)
            .await?;
    Ok(step == keyfort_core::campaign::CampaignStep::Require)
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
    let (pending, waiting) = request::pending(state, sealed, now).await.ok()??;
    let client = state.store.client(&pending.client_id).await.ok()??;
    let answer = answer(
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

async fn answer(
    state: &AppState,
    current: Option<CurrentSession>,
    known_passkey: Option<&PasskeyRecord>,
    client: &ClientRecord,
    pending: Pending,
    waiting: Option<&Waiting>,
    now: i64,
) -> Result<Answer, ApiError> {
    let evidence = match &current {
        Some(s) => Some(decision::evidence(state, s, known_passkey).await?),
        None => None,
    };
    let session = current.as_ref().zip(evidence);
    let fresh_since = waiting.map(|_| pending.created_at);
    match decision::decide(state, session, &pending, fresh_since, now).await? {
        AuthorizeOutcome::Issue { acr } => {
            let Some((current, evidence)) = session else {
                return Err(ApiError::internal());
            };
            // The registration campaign, enforced: no application until a passkey exists.
            if registration_required(state, current, now).await? {
                let id = match waiting {
                    Some(w) => w.sealed.clone(),
                    None => request::park(state, &pending, now)?,
                };
                return Ok(Answer::Redirect(crate::signin::setup_page(Some(&id))));
            }
            issue_code(state, client, &pending, current, evidence, acr, now)
        }
        AuthorizeOutcome::Refuse(r) => {
            if let Some(w) = waiting {
                // Answered: the request cannot be continued again.
                state.store.spend_ceremony(&w.spent).await?;
            }
            let e = OAuthError::from(r);
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
        }
        AuthorizeOutcome::SignIn(_) => {
            let id = match waiting {
                Some(w) => w.sealed.clone(),
                None => request::park(state, &pending, now)?,
            };
            Ok(Answer::Redirect(format!("/signin?request={id}")))
        }
        AuthorizeOutcome::NeedUserMethods => Err(ApiError::internal()),
    }
}

/// The grant and code that answer `pending` for `current`, and the redirect that carries
/// the code; the caller commits them.
fn issue_code(
    state: &AppState,
    client: &ClientRecord,
    pending: &Pending,
    current: &CurrentSession,
    evidence: SignInEvidence,
    acr: Option<&'static str>,
    now: i64,
) -> Result<Answer, ApiError> {
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
