//! Client authentication at the token, revocation and introspection endpoints:
//! `client_secret_basic`, `client_secret_post`, `private_key_jwt` (RFC 7523), or
//! `none` for public clients (which must then use PKCE).

use super::error::OAuthError;
use crate::crypto::token_hash;
use crate::state::AppState;
use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::Validation;
use jsonwebtoken::jwk::JwkSet;
use keyfort_core::clients::ClientAuthRefusal;
use keyfort_store::ClientRecord;
use serde::Deserialize;
use std::collections::HashMap;

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
pub const AUTH_METHODS: [&str; 4] = [
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
    "none",
];

fn invalid() -> ClientAuthRefusal {
    ClientAuthRefusal::Failed
}

/// Why a credential check ended without a client: a refusal, or the store failing.
enum Failure {
    Refused(ClientAuthRefusal),
    Store(keyfort_store::StoreError),
}

impl From<ClientAuthRefusal> for Failure {
    fn from(r: ClientAuthRefusal) -> Self {
        Failure::Refused(r)
    }
}

impl From<keyfort_store::StoreError> for Failure {
    fn from(e: keyfort_store::StoreError) -> Self {
        Failure::Store(e)
    }
}

impl From<Failure> for OAuthError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Refused(r) => r.into(),
            Failure::Store(e) => e.into(),
        }
    }
}

/// Compares a presented secret with the stored SHA-256 in constant time.
/// Client secrets are 256-bit random values: a fast hash is the right tool (no password hashing).
fn secret_matches(presented: &str, stored: Option<&str>) -> bool {
    let Some(stored) = stored else { return false };
    aws_lc_rs::constant_time::verify_slices_are_equal(
        token_hash(presented).as_bytes(),
        stored.as_bytes(),
    )
    .is_ok()
}

/// RFC 6749 §2.3.1: Basic credentials are form-urlencoded before base64.
fn basic_credentials(headers: &HeaderMap) -> Option<Result<(String, String), ClientAuthRefusal>> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    Some((|| {
        let decoded = STANDARD.decode(encoded.trim()).map_err(|_| invalid())?;
        let text = String::from_utf8(decoded).map_err(|_| invalid())?;
        let (id, secret) = text.split_once(':').ok_or_else(invalid)?;
        let id = urlencoding_decode(id).ok_or_else(invalid)?;
        let secret = urlencoding_decode(secret).ok_or_else(invalid)?;
        Ok((id, secret))
    })())
}

fn urlencoding_decode(s: &str) -> Option<String> {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
}

#[derive(Deserialize)]
struct AssertionClaims {
    jti: Option<String>,
    exp: i64,
}

/// Authenticates the calling client from headers and form. `allow_public`: whether a
/// public client may call this endpoint with its id alone.
///
/// Failed authentications are counted per client and address in the store
/// (`throttle::CLIENT_BACKOFF`): past the free ones, that client is refused from that
/// address with a 429 before any credential is checked, until the delay has passed.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
    allow_public: bool,
    ip: Option<&str>,
    now: i64,
) -> Result<ClientRecord, OAuthError> {
    let basic = basic_credentials(headers).transpose()?;
    let assertion = form.get("client_assertion");
    let methods_used = usize::from(basic.is_some())
        + usize::from(form.contains_key("client_secret"))
        + usize::from(assertion.is_some());
    if methods_used > 1 {
        // RFC 6749 §2.3: a client uses one authentication method per request.
        return Err(ClientAuthRefusal::SeveralMethods.into());
    }
    if let Some((id, secret)) = basic {
        return throttled(state, &id, ip, now, async |client: ClientRecord| {
            if client.auth_method != "client_secret_basic"
                || !secret_matches(&secret, client.secret_hash.as_deref())
            {
                return Err(invalid().into());
            }
            Ok(client)
        })
        .await;
    }
    if let Some(secret) = form.get("client_secret") {
        let id = form.get("client_id").ok_or_else(invalid)?;
        return throttled(state, id, ip, now, async |client: ClientRecord| {
            if client.auth_method != "client_secret_post"
                || !secret_matches(secret, client.secret_hash.as_deref())
            {
                return Err(invalid().into());
            }
            Ok(client)
        })
        .await;
    }
    if let Some(assertion) = assertion {
        if form.get("client_assertion_type").map(String::as_str) != Some(ASSERTION_TYPE) {
            return Err(ClientAuthRefusal::AssertionType.into());
        }
        let id = assertion_issuer(assertion)?;
        if form.get("client_id").is_some_and(|c| *c != id) {
            return Err(invalid().into());
        }
        return throttled(state, &id, ip, now, async |client: ClientRecord| {
            private_key_jwt(state, assertion, client, now).await
        })
        .await;
    }
    let id = form.get("client_id").ok_or_else(invalid)?;
    let client = state.store.client(id).await?.ok_or_else(invalid)?;
    if client.public_client && allow_public {
        return Ok(client);
    }
    Err(invalid().into())
}

/// RFC 7523 §3: iss = sub = client_id, aud = the token endpoint (or the issuer), exp in
/// the future, a `jti` never seen before, signed by a key in the client's registered JWKS.
async fn private_key_jwt(
    state: &AppState,
    assertion: &str,
    client: ClientRecord,
    now: i64,
) -> Result<ClientRecord, Failure> {
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| invalid())?;
    let id = client.id.as_str();
    if client.auth_method != "private_key_jwt" {
        return Err(invalid().into());
    }
    let jwks: JwkSet = client
        .jwks
        .as_deref()
        .and_then(|j| serde_json::from_str(j).ok())
        .ok_or_else(invalid)?;
    let jwk = match header.kid.as_deref() {
        Some(kid) => jwks.find(kid),
        None if jwks.keys.len() == 1 => jwks.keys.first(),
        None => None,
    }
    .ok_or_else(invalid)?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|_| invalid())?;
    if matches!(
        header.alg,
        jsonwebtoken::Algorithm::HS256
            | jsonwebtoken::Algorithm::HS384
            | jsonwebtoken::Algorithm::HS512
    ) {
        return Err(invalid().into());
    }
    let mut v = Validation::new(header.alg);
    v.set_issuer(&[id]);
    v.sub = Some(id.to_string());
    let token_endpoint = format!("{}/token", state.issuer);
    v.set_audience(&[token_endpoint.as_str(), state.issuer.as_str()]);
    v.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    v.leeway = 30;
    let claims = jsonwebtoken::decode::<AssertionClaims>(assertion, &key, &v)
        .map_err(|_| invalid())?
        .claims;
    let jti = claims.jti.ok_or_else(invalid)?;
    let Some(remember_until) = assertion_memory_until(claims.exp, now) else {
        return Err(invalid().into());
    };
    if jti.is_empty() || jti.len() > 256 {
        return Err(invalid().into());
    }
    if !state
        .store
        .remember_client_assertion(&jti, id, remember_until)
        .await?
    {
        return Err(ClientAuthRefusal::AssertionReplayed.into());
    }
    Ok(client)
}

/// The client an assertion claims to come from (`iss`), read before its signature is
/// checked: it only chooses the key to check it with, and the throttle to count against.
pub fn assertion_issuer(assertion: &str) -> Result<String, ClientAuthRefusal> {
    let unverified: serde_json::Value =
        jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(assertion)
            .map(|d| d.claims)
            .map_err(|_| invalid())?;
    unverified
        .get("iss")
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty() && s.len() <= 256)
        .map(str::to_string)
        .ok_or_else(invalid)
}

/// Runs a credential check for client `id` under its throttle for this address. The
/// client and the throttle's state come in one read; failures are only counted for a
/// client that exists (a made-up id writes nothing, so it cannot fill the store).
async fn throttled(
    state: &AppState,
    id: &str,
    ip: Option<&str>,
    now: i64,
    check: impl AsyncFnOnce(ClientRecord) -> Result<ClientRecord, Failure>,
) -> Result<ClientRecord, OAuthError> {
    // Client ids are Keyfort's own, far shorter: a longer one names no client.
    if id.is_empty() || id.len() > 256 {
        return Err(invalid().into());
    }
    let key = format!("client:{id}:{}", ip.unwrap_or("-"));
    let Some((client, prior)) = state.store.client_with_attempts(id, &key).await? else {
        return Err(invalid().into());
    };
    if let Some(wait) = keyfort_core::throttle::blocked_for(prior, now) {
        return Err(ClientAuthRefusal::Throttled {
            retry_after_ms: wait,
        }
        .into());
    }
    match check(client).await {
        Ok(client) => {
            if prior.is_some() {
                state.store.clear_attempts(&key).await?;
            }
            Ok(client)
        }
        Err(Failure::Refused(r)) if r.counts_as_failure() => {
            if let keyfort_core::throttle::Reservation::Refused { retry_after_ms } = state
                .store
                .reserve_attempt(&key, crate::throttle::CLIENT_BACKOFF, now)
                .await?
            {
                return Err(ClientAuthRefusal::Throttled { retry_after_ms }.into());
            }
            Err(r.into())
        }
        Err(e) => Err(e.into()),
    }
}

/// An assertion may live at most an hour from now (compared in seconds, so no request
/// value is ever multiplied). Returns how long its `jti` must be remembered (its expiry
/// plus the validation leeway, in milliseconds), or `None` when `exp` is too far ahead.
fn assertion_memory_until(exp_secs: i64, now_ms: i64) -> Option<i64> {
    const MAX_LIFETIME_SECS: i64 = 60 * 60;
    if exp_secs > now_ms / 1000 + MAX_LIFETIME_SECS {
        return None;
    }
    exp_secs.checked_mul(1000)?.checked_add(60_000)
}

#[cfg(test)]
mod tests {
    use super::assertion_memory_until;

    #[test]
    fn assertion_expiry_is_capped_without_overflow() {
        let now = 1_700_000_000_000;
        let exp = now / 1000 + 300;
        assert_eq!(assertion_memory_until(exp, now), Some(exp * 1000 + 60_000));
        assert_eq!(
            assertion_memory_until(now / 1000 + 3600, now).map(|_| ()),
            Some(())
        );
        assert_eq!(assertion_memory_until(now / 1000 + 3601, now), None);
        // 2^63-1 seconds used to wrap when multiplied into milliseconds.
        assert_eq!(assertion_memory_until(i64::MAX, now), None);
        assert_eq!(assertion_memory_until(i64::MAX / 1000 + 1, now), None);
        assert_eq!(assertion_memory_until(i64::MIN, now), None);
    }
}
