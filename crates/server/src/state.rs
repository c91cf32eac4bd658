use crate::config::Config;
use keyfort_core::relying_party::RelyingParty;
use keyfort_core::session::SessionLimits;
use keyfort_store::Store;
use std::sync::Arc;
use std::time::Duration;
use webauthn_rs_core::WebauthnCore;

/// Ceremonies (challenges) live this long.
pub const CEREMONY_TTL_MS: i64 = 5 * 60 * 1000;

pub struct Inner {
    pub store: Store,
    pub rp: RelyingParty,
    pub webauthn: WebauthnCore,
    pub session: SessionLimits,
    /// Key for the decoy credential ids given for unknown usernames.
    pub decoy_key: Vec<u8>,
}

#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub async fn new(config: &Config, store: Store) -> Result<AppState, keyfort_store::StoreError> {
        let webauthn = WebauthnCore::new_unsafe_experts_only(
            "Keyfort",
            &config.rp.id,
            vec![config.rp.origin.clone()],
            Duration::from_millis(CEREMONY_TTL_MS as u64),
            Some(false),
            Some(false),
        );
        let decoy = store
            .server_secret(
                "decoy_credential_key",
                crate::crypto::random_token,
                now_ms(),
            )
            .await?;
        Ok(AppState(Arc::new(Inner {
            store,
            rp: config.rp.clone(),
            webauthn,
            session: config.session,
            decoy_key: decoy.into_bytes(),
        })))
    }
}

/// The wall clock, read once per request at the edge and passed inward.
pub fn now_ms() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64 / 1_000_000
}
