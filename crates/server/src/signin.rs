//! What every sign-in shares: the sign-in log row and the browser session it ends in.

use crate::crypto::{random_token, token_hash};
use crate::error::ApiError;
use crate::extract::{ClientInfo, session_cookie};
use crate::state::AppState;
use keyfort_core::campaign::{self, CampaignFacts, CampaignStep};
use keyfort_core::onboarding::{self, AfterSignInFacts, NextStep};
use keyfort_core::policy::Subject;
use keyfort_core::registration;
use keyfort_core::session::{SessionFacts, SignInMethod, session_expiry};
use keyfort_store::{
    PassRecord, PasskeyRecord, PasskeyUse, Recorded, SessionRecord, SignInEvent, SignInWrite,
    SpentCeremony, User,
};

/// The sign-in log row for a refused attempt.
pub fn refusal_event(
    client: &ClientInfo,
    method: &'static str,
    user: Option<&User>,
    username: Option<&str>,
    now: i64,
    error: &ApiError,
) -> SignInEvent {
    SignInEvent {
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
    }
}

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
    let event = refusal_event(client, method, user, username, now, &error);
    logged(state.store.log_signin(&event, None).await, error)
}

/// The error to answer once the refusal's log row was (or could not be) written.
pub fn logged(written: Result<(), keyfort_store::StoreError>, error: ApiError) -> ApiError {
    match written {
        Ok(()) => error,
        Err(e) => {
            tracing::error!(error = %e, "could not write the sign-in log");
            ApiError::internal()
        }
    }
}

/// How the person proved who they are.
#[derive(Clone, Copy)]
pub enum Proof<'a> {
    /// A passkey assertion answering a sealed ceremony, which is spent with the sign-in.
    Passkey {
        used: PasskeyUse<'a>,
        ceremony: &'a SpentCeremony,
    },
    TemporaryAccessPass(&'a PassRecord),
    /// A password, for someone who holds no second factor.
    Password,
    /// A password (its pending second step, spent with the sign-in) and an
    /// authenticator-app code.
    PasswordTotp {
        pending: &'a SpentCeremony,
    },
}

/// What [`establish`] did.
pub enum Established {
    /// The session's `Set-Cookie` value, and where the browser goes next.
    SignedIn { cookie: String, redirect: String },
    /// The ceremony was already spent (a replay): nothing written.
    Replayed,
    /// A concurrent sign-in with this passkey moved its counter past ours.
    CounterRaced,
    /// The one-time pass was spent by another sign-in first: nothing written.
    PassSpent,
}

/// Creates the session for a successful sign-in and logs it, in one commit with the
/// passkey's counter and the ceremony's spending (or the pass's) — and, when the sign-in was started for
/// a waiting authorization request (`request`, as the sign-in page passes it on), with the
/// grant and code that answer it (`oidc::authorize::prepare_answer`), so the browser goes
/// straight back to the application. `passkey`: the passkey just used, if any.
pub async fn establish(
    state: &AppState,
    client: &ClientInfo,
    user: &User,
    proof: Proof<'_>,
    answering: (Option<&str>, Option<&PasskeyRecord>),
    now: i64,
) -> Result<Established, ApiError> {
    let (request, used_passkey) = answering;
    let (method, passkey, ceremony, pass) = match proof {
        Proof::Passkey { used, ceremony } => {
            (SignInMethod::Passkey, Some(used), Some(ceremony), None)
        }
        Proof::TemporaryAccessPass(p) => (SignInMethod::TemporaryAccessPass, None, None, Some(p)),
        Proof::Password => (SignInMethod::Password, None, None, None),
        Proof::PasswordTotp { pending } => (SignInMethod::PasswordTotp, None, Some(pending), None),
    };
    let token = random_token();
    let pass_expires_at = pass.map(|p| p.state().expires_at());
    let expires_at = session_expiry(state.session, now, pass_expires_at);
    let record = SessionRecord {
        id: crate::crypto::ordered_id(),
        token_hash: token_hash(&token),
        user_id: user.id.clone(),
        method,
        passkey_id: passkey.map(|p| p.id.to_string()),
        auth_time: now,
        created_at: now,
        expires_at,
        last_seen_at: now,
        pass_one_time: pass.is_some_and(|p| p.one_time),
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
    let prepared = match sealed_request(request) {
        Some(id) => {
            let current = crate::extract::CurrentSession {
                session: record.clone(),
                user: user.clone(),
            };
            crate::oidc::authorize::prepare_answer(state, id, current, used_passkey, now).await
        }
        None => None,
    };
    let write = SignInWrite {
        session: &record,
        event: &event,
        passkey,
        ceremony,
        pass: pass.map(|p| p.id.as_str()),
    };
    let (recorded, answered) = match prepared.as_ref().and_then(|p| p.write.as_ref()) {
        Some((grant, code, spent)) => {
            state
                .store
                .record_signin_answering(write, (grant, code, spent))
                .await?
        }
        None => (state.store.record_signin(write).await?, false),
    };
    let redirect = match prepared {
        // Answered now, or answered without a code (an error for the application, or the
        // sign-in page again for a stronger sign-in).
        Some(p) if answered || p.write.is_none() => p.to,
        // Not for answering here, or answered before: `/authorize/continue` says why.
        _ => next_page(request),
    };
    Ok(match recorded {
        Recorded::SignedIn => Established::SignedIn {
            cookie: session_cookie(
                &token,
                ((expires_at - now) / 1000).max(1),
                state.rp.secure_cookies,
            ),
            redirect,
        },
        Recorded::Replayed => Established::Replayed,
        Recorded::CounterRaced => Established::CounterRaced,
        Recorded::PassSpent => Established::PassSpent,
    })
}

/// A waiting authorization request as the sign-in page passes it on: only a sealed
/// request (base64url), never a URL.
fn sealed_request(request: Option<&str>) -> Option<&str> {
    request.filter(|id| {
        !id.is_empty()
            && id.len() <= crate::sealed::MAX_SEALED_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// Where the browser goes after signing in when nothing was answered on the way: back to
/// a waiting authorization request when there is one, else "My security".
pub fn next_page(request: Option<&str>) -> String {
    match sealed_request(request) {
        Some(id) => format!("/authorize/continue?request={id}"),
        None => "/my/security".to_string(),
    }
}

/// What follows a sign-in for this session (`keyfort_core::onboarding::after_signin`):
/// "Set up your passkey" when it may register one now, else straight on.
pub async fn after_signin(
    state: &AppState,
    user_id: &str,
    session: &SessionFacts,
    now: i64,
) -> Result<NextStep, ApiError> {
    let passkeys = state.store.passkeys_of_user(user_id).await?.len();
    let policy = state.policy();
    let groups = policy.groups_of(&state.store, user_id).await?;
    let facts = registration::PolicyFacts {
        policy: &policy.policy,
        subject: Subject { groups: &groups },
    };
    let campaign =
        campaign_step(state, user_id, passkeys > 0, &policy.policy, &groups, now).await?;
    Ok(onboarding::after_signin(AfterSignInFacts {
        method: session.method,
        passkeys,
        may_register: registration::assess_begin(session, passkeys, facts, now),
        campaign,
    }))
}

/// For a sign-in without a pass about to be made with `method`: the waiting request to
/// answer in its commit, and the page to go to instead when "Set up your passkey" comes
/// first (the campaign asks or requires it; the request then waits for that page).
pub async fn route_after<'r>(
    state: &AppState,
    user_id: &str,
    method: SignInMethod,
    request: Option<&'r str>,
    now: i64,
) -> Result<(Option<&'r str>, Option<String>), ApiError> {
    let session = SessionFacts {
        method,
        auth_time: now,
        expires_at: session_expiry(state.session, now, None),
        last_seen_at: now,
        pass_one_time: false,
        pass_expires_at: None,
    };
    Ok(match after_signin(state, user_id, &session, now).await? {
        NextStep::SetUpPasskey(_) => (None, Some(setup_page(request))),
        NextStep::Continue(_) => (request, None),
    })
}

/// What the registration campaign asks of the person now (`keyfort_core::campaign`).
pub async fn campaign_step(
    state: &AppState,
    user_id: &str,
    holds_passkey: bool,
    policy: &keyfort_core::policy::MethodsPolicy,
    groups: &[String],
    now: i64,
) -> Result<CampaignStep, ApiError> {
    // Only someone without a passkey is ever asked: no read for everyone else.
    let snoozes = if holds_passkey {
        keyfort_store::CampaignSnoozes::default()
    } else {
        state.store.campaign_snoozes(user_id).await?
    };
    Ok(campaign::step(
        CampaignFacts {
            policy,
            subject: Subject { groups },
            holds_passkey,
            snoozes: snoozes.snoozes,
            last_snoozed_at: snoozes.last_snoozed_at,
        },
        now,
    ))
}

/// "Set up your passkey", carrying a waiting authorization request on to
/// [`next_page`].
pub fn setup_page(request: Option<&str>) -> String {
    match sealed_request(request) {
        Some(id) => format!("/signin/setup?request={id}"),
        None => "/signin/setup".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::{next_page, setup_page};

    #[test]
    fn setup_carries_only_request_ids() {
        assert_eq!(setup_page(Some("r1")), "/signin/setup?request=r1");
        assert_eq!(setup_page(Some("/evil")), "/signin/setup");
        assert_eq!(setup_page(None), "/signin/setup");
    }

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
