//! Application (OAuth client) use cases.

use super::dto::{ClientDto, RegisteredClientDto, RotatedSecretDto};
use super::{AppError, Result};
use crate::crypto::{random_token, token_hash};
use keyfort_core::clients::{AuthMethod, ClientDraft, ClientRefusal, validate_client};
use keyfort_store::{ClientRecord, Store};

/// The longest JWK set text accepted, in bytes.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;

/// Registers an application; a confidential client's secret is in the answer and nowhere
/// else (stored as its SHA-256). `jwks`: the client's public keys, for `private_key_jwt`.
/// Audited as `client.created`.
pub async fn register(
    store: &Store,
    draft: &ClientDraft,
    jwks: Option<&str>,
    groups_claim: bool,
    actor: &str,
    now: i64,
) -> Result<RegisteredClientDto> {
    let draft = ClientDraft {
        has_keys: jwks.is_some(),
        ..draft.clone()
    };
    let v = validate_client(&draft).map_err(AppError::Client)?;
    let jwks = jwks.map(parse_jwks).transpose()?;
    let secret = v.auth_method.uses_secret().then(random_token);
    let list =
        |l: &[String]| serde_json::to_string(l).map_err(|e| AppError::Internal(e.to_string()));
    let grants: Vec<String> = v.grants.iter().map(|g| g.as_str().to_string()).collect();
    let record = ClientRecord {
        // 128 random bits in hex: an id never begins with `-` (which a command line would
        // read as an option) and needs no escaping anywhere.
        id: crate::crypto::hex(&crate::crypto::random_array::<16>()),
        name: v.name,
        secret_hash: secret.as_deref().map(token_hash),
        public_client: draft.public,
        redirect_uris: list(&draft.redirect_uris)?,
        post_logout_redirect_uris: list(&draft.post_logout_redirect_uris)?,
        grant_types: list(&grants)?,
        auth_method: v.auth_method.as_str().to_string(),
        jwks,
        id_token_alg: v.id_token_alg,
        groups_claim,
        created_at: now,
        secret_rotated_at: None,
    };
    store.create_client(&record, actor).await?;
    Ok(RegisteredClientDto {
        client: ClientDto::from(&record),
        client_secret: secret,
    })
}

/// A JWK set with at least one key, re-serialised as parsed.
fn parse_jwks(text: &str) -> Result<String> {
    let refuse = |why: String| AppError::Client(ClientRefusal::Keys(why));
    if text.len() > MAX_JWKS_BYTES {
        return Err(refuse(format!("more than {MAX_JWKS_BYTES} bytes")));
    }
    let set: jsonwebtoken::jwk::JwkSet =
        serde_json::from_str(text).map_err(|e| refuse(e.to_string()))?;
    if set.keys.is_empty() {
        return Err(refuse("the set has no keys".into()));
    }
    serde_json::to_string(&set).map_err(|e| AppError::Internal(e.to_string()))
}

pub async fn list(store: &Store) -> Result<Vec<ClientDto>> {
    Ok(store
        .list_clients()
        .await?
        .iter()
        .map(ClientDto::from)
        .collect())
}

pub async fn show(store: &Store, id: &str) -> Result<ClientDto> {
    let c = store
        .client(id)
        .await?
        .ok_or(AppError::NotFound("client"))?;
    Ok(ClientDto::from(&c))
}

/// Removes an application and every token issued to it. Audited.
pub async fn remove(store: &Store, id: &str, actor: &str, now: i64) -> Result<()> {
    Ok(store.remove_client(id, actor, now).await?)
}

/// Replaces a confidential client's secret; the new one is in the answer only. Audited.
pub async fn rotate_secret(
    store: &Store,
    id: &str,
    actor: &str,
    now: i64,
) -> Result<RotatedSecretDto> {
    let c = store
        .client(id)
        .await?
        .ok_or(AppError::NotFound("client"))?;
    if !AuthMethod::parse(&c.auth_method).is_some_and(AuthMethod::uses_secret) {
        return Err(AppError::NoSecret(c.auth_method));
    }
    let secret = random_token();
    store
        .set_client_secret(id, &token_hash(&secret), actor, now)
        .await?;
    Ok(RotatedSecretDto {
        client_id: c.id,
        client_secret: secret,
    })
}
