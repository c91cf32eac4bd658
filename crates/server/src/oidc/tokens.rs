//! Minting the JWTs Keyfort issues: ID tokens (OpenID Connect Core §2) and
//! access tokens (RFC 9068, `typ: at+jwt`), and reading back its own access tokens.

use super::error::OAuthError;
use super::keyring::{KeyRing, SigningKey};
use crate::state::AppState;
use jsonwebtoken::{Algorithm, Header, Validation};
use keyfort_core::token::BearerRefusal;
use keyfort_store::{ClientRecord, GrantRecord, User};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

pub const CODE_TTL_MS: i64 = 60 * 1000;
pub const ACCESS_TOKEN_TTL_MS: i64 = 15 * 60 * 1000;
pub const ID_TOKEN_TTL_MS: i64 = 15 * 60 * 1000;
pub const REFRESH_TOKEN_TTL_MS: i64 = 30 * 24 * 60 * 60 * 1000;

/// An expiry that never passes the grant's `not_after` (the pass it came from).
pub fn capped(grant: &GrantRecord, at: i64) -> i64 {
    grant.not_after.map_or(at, |n| at.min(n))
}

fn sign(ring: &KeyRing, alg: Algorithm, typ: &str, claims: &Value) -> Result<String, OAuthError> {
    let key: &SigningKey = ring.active(alg).ok_or_else(OAuthError::server_error)?;
    let mut header = Header::new(alg);
    header.kid = Some(key.kid.clone());
    header.typ = Some(typ.to_string());
    jsonwebtoken::encode(&header, claims, &key.encoding).map_err(|e| {
        tracing::error!(error = %e, "signing failed");
        OAuthError::server_error()
    })
}

pub fn scopes(scope: &str) -> Vec<&str> {
    scope.split(' ').filter(|s| !s.is_empty()).collect()
}

/// Standard claims for the scopes a token carries (OpenID Connect Core §5.4).
pub async fn user_claims(
    state: &AppState,
    client: &ClientRecord,
    scope: &str,
    user: &User,
) -> Result<Map<String, Value>, OAuthError> {
    let mut c = Map::new();
    c.insert("sub".into(), json!(user.id));
    let s = scopes(scope);
    if s.contains(&"profile") {
        c.insert("name".into(), json!(user.display_name));
        c.insert("preferred_username".into(), json!(user.username));
        if let Some(v) = &user.given_name {
            c.insert("given_name".into(), json!(v));
        }
        if let Some(v) = &user.family_name {
            c.insert("family_name".into(), json!(v));
        }
    }
    if s.contains(&"email")
        && let Some(v) = &user.email
    {
        c.insert("email".into(), json!(v));
    }
    if client.groups_claim && (s.contains(&"groups") || s.contains(&"profile")) {
        c.insert(
            "groups".into(),
            json!(state.store.groups_of_user(&user.id).await?),
        );
    }
    Ok(c)
}

pub fn amr(grant: &GrantRecord) -> Value {
    serde_json::from_str(&grant.amr).unwrap_or_else(|_| json!([]))
}

/// The ID token for a user grant, with the claims of `scope` (the grant's, or a
/// refresh's narrower one).
pub async fn id_token(
    state: &AppState,
    client: &ClientRecord,
    grant: &GrantRecord,
    scope: &str,
    user: &User,
    access_token: Option<&str>,
    now: i64,
) -> Result<String, OAuthError> {
    let alg = super::keyring::parse_alg(&client.id_token_alg).unwrap_or(Algorithm::ES256);
    let mut claims = user_claims(state, client, scope, user).await?;
    let exp = capped(grant, now + ID_TOKEN_TTL_MS);
    claims.insert("iss".into(), json!(state.issuer));
    claims.insert("aud".into(), json!(client.id));
    claims.insert("azp".into(), json!(client.id));
    claims.insert("iat".into(), json!(now / 1000));
    claims.insert("exp".into(), json!(exp / 1000));
    if let Some(t) = grant.auth_time {
        claims.insert("auth_time".into(), json!(t / 1000));
    }
    if let Some(n) = &grant.nonce {
        claims.insert("nonce".into(), json!(n));
    }
    if let Some(a) = &grant.acr {
        claims.insert("acr".into(), json!(a));
    }
    claims.insert("amr".into(), amr(grant));
    if let Some(sid) = &grant.session_id {
        claims.insert("sid".into(), json!(sid));
    }
    if let Some(at) = access_token {
        claims.insert("at_hash".into(), json!(at_hash(alg, at)));
    }
    sign(&state.keys(), alg, "JWT", &Value::Object(claims))
}

/// OpenID Connect Core §3.1.3.6: left half of the hash of the access token.
fn at_hash(alg: Algorithm, token: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let full: Vec<u8> = match alg {
        // EdDSA with Ed25519: SHA-512 (OpenID Connect errata for EdDSA).
        Algorithm::EdDSA => sha2::Sha512::digest(token.as_bytes()).to_vec(),
        _ => sha2::Sha256::digest(token.as_bytes()).to_vec(),
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&full[..full.len() / 2])
}

/// Claims of an access token (RFC 9068 §2.2).
#[derive(Debug, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
}

/// An access token about to be issued: its claims (and `jti`) are fixed before the
/// store records it, and it is signed only after that commit.
pub struct PreparedAccess {
    pub claims: AccessClaims,
    pub expires_at: i64,
}

/// Prepares an access token for the grant, carrying `scope` (no I/O).
pub fn prepare_access(
    state: &AppState,
    grant: &GrantRecord,
    scope: &str,
    now: i64,
) -> Result<PreparedAccess, OAuthError> {
    let expires_at = capped(grant, now + ACCESS_TOKEN_TTL_MS);
    if expires_at <= now {
        return Err(keyfort_core::token::TokenRequestRefusal::AuthorizationExpired.into());
    }
    let claims = AccessClaims {
        iss: state.issuer.clone(),
        sub: grant
            .user_id
            .clone()
            .unwrap_or_else(|| grant.client_id.clone()),
        aud: state.issuer.clone(),
        client_id: grant.client_id.clone(),
        iat: now / 1000,
        exp: expires_at / 1000,
        jti: crate::crypto::ordered_id(),
        scope: scope.to_string(),
        auth_time: grant.auth_time.map(|t| t / 1000),
        acr: grant.acr.clone(),
        amr: serde_json::from_str(&grant.amr).unwrap_or_default(),
    };
    Ok(PreparedAccess { claims, expires_at })
}

impl PreparedAccess {
    /// Signs the token (after the store recorded it). Returns (token, expires_in seconds).
    pub fn sign(&self, state: &AppState, now: i64) -> Result<(String, i64), OAuthError> {
        let value = serde_json::to_value(&self.claims).map_err(|_| OAuthError::server_error())?;
        Ok((
            sign(&state.keys(), Algorithm::ES256, "at+jwt", &value)?,
            (self.expires_at - now) / 1000,
        ))
    }
}

/// A refresh token about to be issued (stored as a hash), capped by the grant's `not_after`.
pub fn prepare_refresh(grant: &GrantRecord, now: i64) -> (String, keyfort_store::RefreshRecord) {
    let token = crate::crypto::random_token();
    let record = keyfort_store::RefreshRecord {
        token_hash: crate::crypto::token_hash(&token),
        grant_id: grant.id.clone(),
        created_at: now,
        expires_at: capped(grant, now + REFRESH_TOKEN_TTL_MS),
        used_at: None,
    };
    (token, record)
}

/// Verifies one of Keyfort's own access tokens: signature, `typ`, issuer, expiry.
pub fn verify_access_token(state: &AppState, token: &str) -> Result<AccessClaims, BearerRefusal> {
    const BAD: BearerRefusal = BearerRefusal::Invalid;
    let header = jsonwebtoken::decode_header(token).map_err(|_| BAD)?;
    // RFC 9068 §4: the typ header distinguishes access tokens from ID tokens.
    if !header
        .typ
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("at+jwt"))
    {
        return Err(BAD);
    }
    let ring = state.keys();
    let key = header
        .kid
        .as_deref()
        .and_then(|k| ring.by_kid(k))
        .ok_or(BAD)?;
    if key.alg != header.alg {
        return Err(BAD);
    }
    let mut v = Validation::new(key.alg);
    v.set_issuer(&[&state.issuer]);
    v.set_audience(&[&state.issuer]);
    v.leeway = 0;
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    jsonwebtoken::decode::<AccessClaims>(token, &key.decoding, &v)
        .map(|d| d.claims)
        .map_err(|_| BAD)
}
