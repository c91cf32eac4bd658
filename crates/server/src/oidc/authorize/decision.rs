//! Deciding a valid request: the facts are loaded here, the decision is
//! `keyfort_core::authorize::assess`.

use super::request::Pending;
use crate::error::ApiError;
use crate::extract::CurrentSession;
use crate::state::AppState;
use keyfort_core::authorize::{AuthorizeFacts, AuthorizeOutcome, UserMethods, assess};
use keyfort_core::oidc::{SessionView, parse_prompt};
use keyfort_core::passkey::PasskeyType;
use keyfort_core::session::SignInMethod;
use keyfort_core::strength::SignInEvidence;
use keyfort_store::PasskeyRecord;

/// What the session used, as evidence for `acr`/`amr`. `known`: the session's passkey when
/// the caller already holds it (right after the sign-in), which saves reading it again.
pub async fn evidence(
    state: &AppState,
    s: &CurrentSession,
    known: Option<&PasskeyRecord>,
) -> Result<SignInEvidence, ApiError> {
    let hardware = |p: &PasskeyRecord| p.attested && p.passkey_type == PasskeyType::DeviceBound;
    Ok(match s.session.method {
        SignInMethod::TemporaryAccessPass => SignInEvidence::TemporaryAccessPass {
            one_time: s.session.pass_one_time,
        },
        SignInMethod::Password => SignInEvidence::Password,
        SignInMethod::PasswordTotp => SignInEvidence::PasswordTotp,
        SignInMethod::Passkey => {
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

/// The methods the user could sign in with now.
async fn user_methods(state: &AppState, user_id: &str, now: i64) -> Result<UserMethods, ApiError> {
    let usable_passkey = state
        .store
        .passkeys_of_user(user_id)
        .await?
        .iter()
        .any(|p| !p.possibly_cloned);
    let usable_pass = match state.store.pass_of_user(user_id).await? {
        Some(p) if p.state().usability(now).is_usable() => {
            let policy = state.policy();
            let groups = policy.groups_of(&state.store, user_id).await?;
            let subject = keyfort_core::policy::Subject { groups: &groups };
            keyfort_core::tap::allowed(&policy.policy, subject).then_some(p.one_time)
        }
        _ => None,
    };
    Ok(UserMethods {
        usable_passkey,
        usable_pass,
    })
}

/// Decides `pending` for the browser's session (`current`, with its `evidence`).
/// `fresh_since`: when it was made, for a request resumed after sign-in.
pub async fn decide(
    state: &AppState,
    current: Option<(&CurrentSession, SignInEvidence)>,
    pending: &Pending,
    fresh_since: Option<i64>,
    now: i64,
) -> Result<AuthorizeOutcome, ApiError> {
    let view = current.map(|(s, e)| SessionView {
        auth_time: s.session.auth_time,
        methods: e.methods(),
    });
    // Validated when the request was made.
    let prompt = parse_prompt(pending.prompt.as_deref()).unwrap_or_default();
    let acrs = pending.acr_values();
    let mut facts = AuthorizeFacts {
        session: view.as_ref(),
        prompt: &prompt,
        max_age: pending.max_age,
        acr_values: &acrs,
        fresh_since,
        user_methods: None,
    };
    match (assess(facts, now), current) {
        (AuthorizeOutcome::NeedUserMethods, Some((s, _))) => {
            facts.user_methods = Some(user_methods(state, &s.user.id, now).await?);
            Ok(assess(facts, now))
        }
        (AuthorizeOutcome::NeedUserMethods, None) => Err(ApiError::internal()),
        (outcome, _) => Ok(outcome),
    }
}
