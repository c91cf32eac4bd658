//! Reading a request, and keeping it while the person signs in.

use crate::error::ApiError;
use crate::refusals::authorize_page;
use crate::sealed::Envelope;
use crate::state::AppState;
use axum::response::{IntoResponse, Response};
use keyfort_core::authorize::{
    ADMIN_SCOPE, AuthorizeParams, AuthorizeRefusal, ClientFacts, needs_passkey,
};
use keyfort_core::roles::PrincipalKind;
use keyfort_store::{ClientRecord, SpentCeremony};
use serde::{Deserialize, Serialize};

pub const PENDING_KIND: &str = "authorize";
/// How long a user may take to sign in for a waiting authorization request.
pub const PENDING_TTL_MS: i64 = 10 * 60 * 1000;

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
        needs_passkey(&self.acr_values())
    }

    pub fn acr_values(&self) -> Vec<&str> {
        self.acr_values.iter().map(String::as_str).collect()
    }
}

/// The client, or the error page a person sees when it is not (or no longer) registered.
pub async fn registered_client(
    state: &AppState,
    id: &str,
    unknown: AuthorizeRefusal,
) -> Result<ClientRecord, Response> {
    match state.store.client(id).await {
        Ok(Some(c)) => Ok(c),
        Ok(None) => Err(authorize_page(unknown)),
        Err(e) => Err(ApiError::from(e).into_response()),
    }
}

/// Whether `client` may be granted the admin scope, read only when the request asks for
/// it: the client holds an administrative role.
pub async fn allows_admin_scope(
    state: &AppState,
    client: &ClientRecord,
    p: &AuthorizeParams,
) -> Result<bool, ApiError> {
    let asked = p
        .scope
        .as_deref()
        .is_some_and(|s| s.split(' ').any(|s| s == ADMIN_SCOPE));
    if !asked {
        return Ok(false);
    }
    let roles = state
        .store
        .roles_of(PrincipalKind::Client, &client.id)
        .await?;
    Ok(!roles.is_empty())
}

/// A request of `client`, whose redirect URI matched, validated into what waits.
pub fn validate(
    client: &ClientRecord,
    allows_admin_scope: bool,
    p: &AuthorizeParams,
    now: i64,
) -> Result<Pending, AuthorizeRefusal> {
    let facts = ClientFacts {
        public: client.public_client,
        allows_code: client.allows_grant("authorization_code"),
        allows_refresh: client.allows_grant("refresh_token"),
        allows_admin_scope,
    };
    let valid = keyfort_core::authorize::validate(p, facts)?;
    Ok(Pending {
        client_id: client.id.clone(),
        client_name: client.name.clone(),
        redirect_uri: p.redirect_uri.clone().unwrap_or_default(),
        scope: valid.scope,
        state: p.state.clone(),
        nonce: p.nonce.clone(),
        code_challenge: valid.code_challenge,
        prompt: p.prompt.clone(),
        max_age: valid.max_age,
        acr_values: valid.acr_values,
        login_hint: p.login_hint.clone(),
        created_at: now,
    })
}

/// A request waiting for sign-in, as the browser carries it: sealed (kind `authorize`),
/// single-use through the store's spent-ceremony ids.
pub struct Waiting {
    pub sealed: String,
    pub spent: SpentCeremony,
}

/// Seals a request to wait in the browser's URL while the person signs in.
pub fn park(state: &AppState, pending: &Pending, now: i64) -> Result<String, ApiError> {
    let envelope = Envelope {
        id: crate::crypto::ordered_id(),
        exp: now + PENDING_TTL_MS,
        body: pending,
    };
    state
        .requests
        .seal(PENDING_KIND, &envelope)
        .map_err(|_| ApiError::internal())
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
