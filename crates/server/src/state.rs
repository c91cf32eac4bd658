use crate::aead::Purpose;
use crate::config::Config;
use crate::oidc::keyring::{KeyError, KeyRing, MasterKey};
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
    /// `rp.related_origins`, parsed once for the ceremonies.
    pub related_origins: Vec<url::Url>,
    pub webauthn: WebauthnCore,
    /// SHA-256 of the RP ID, as authenticator data carries it.
    pub rp_id_hash: [u8; 32],
    pub session: SessionLimits,
    /// The OpenID Connect issuer identifier (the public URL).
    pub issuer: String,
    pub master_key: MasterKey,
    /// Seals passkey sign-in ceremonies (`sealed`), under their own subkey.
    pub ceremonies: crate::sealed::Sealer,
    /// Seals authorization requests waiting for a sign-in, under their own subkey.
    pub requests: crate::sealed::Sealer,
    keys: std::sync::RwLock<Arc<KeyRing>>,
    pub signout_revokes_tokens: bool,
    /// How often expired state is purged and signing keys are re-read.
    pub maintenance_interval_secs: u64,
    /// Sign-in log rows older than this go at the next purge.
    pub signin_log_retention_ms: i64,
    pub throttles: crate::throttle::Throttles,
    /// The authentication-methods policy as of its last (re)load: what every sign-in and
    /// registration reads (never the database).
    policy: std::sync::RwLock<Arc<crate::app::policy::Snapshot>>,
    /// Per user, the policy's named groups they are in, while their memberships version
    /// holds (`app::memberships`).
    pub memberships: crate::app::memberships::Memberships,
    /// The CA certificates the administrator added (`attestation_ca_file`).
    pub admin_anchors: crate::passkeys::anchors::TrustAnchors,
    /// What a metadata BLOB's signing chain must end at.
    pub metadata_root: crate::metadata::MetadataRoot,
    /// Where BLOBs come from (`metadata_blob`), and how often they are fetched.
    pub metadata_source: Option<String>,
    pub metadata_refresh: Duration,
    /// Refuse (not only flag) a passkey whose model metadata reports.
    pub refuse_reported_models: bool,
    /// The metadata in use and what it adds to the anchors and names.
    derived: std::sync::RwLock<Arc<crate::metadata::Derived>>,
}

impl Inner {
    /// The signing keys as of the last (re)load.
    pub fn keys(&self) -> Arc<KeyRing> {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The policy snapshot in force.
    pub fn policy(&self) -> Arc<crate::app::policy::Snapshot> {
        self.policy
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Re-reads the policy when the stored version differs from this node's (a change
    /// applied on another node, or by the CLI). Only the poller calls it, so reloads do
    /// not race one another.
    pub async fn refresh_policy(&self) -> Result<(), crate::app::AppError> {
        let stored = self
            .store
            .policy_version(crate::app::policy::METHODS)
            .await?;
        if stored != self.policy().version {
            let fresh = crate::app::policy::load(&self.store).await?;
            *self.policy.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(fresh);
        }
        Ok(())
    }

    /// The metadata in use, the trust anchors and the provider names it yields.
    pub fn derived(&self) -> Arc<crate::metadata::Derived> {
        self.derived
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn use_metadata(&self, m: Arc<crate::metadata::Metadata>) {
        let derived = crate::metadata::Derived::new(&self.admin_anchors, Some(m));
        *self.derived.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(derived);
    }

    /// Fetches the configured BLOB, verifies it and, when it is newer, stores and uses it.
    /// Any failure leaves the copy in use (and says why).
    pub async fn refresh_metadata(
        &self,
    ) -> Result<Option<crate::app::metadata::LoadedDto>, crate::app::AppError> {
        let Some(source) = &self.metadata_source else {
            return Ok(None);
        };
        let text = crate::app::metadata::read_source(source).await?;
        let (loaded, metadata) =
            crate::app::metadata::load(&self.store, &self.metadata_root, &text, "system", now_ms())
                .await?;
        // The same edition as the one in use changes nothing here.
        if loaded.stored || self.derived().metadata.is_none() {
            self.use_metadata(metadata);
        }
        Ok(Some(loaded))
    }

    /// Uses the stored copy when another node (or the CLI) stored a newer one.
    pub async fn sync_metadata(&self) -> Result<(), crate::app::AppError> {
        let in_use = self.derived().metadata.as_ref().map(|m| m.edition.no);
        if self.store.metadata_serial().await? > in_use
            && let Some(m) = crate::app::metadata::stored(&self.store, &self.metadata_root).await?
        {
            self.use_metadata(m);
        }
        Ok(())
    }

    /// Re-reads the keys from the store (after `keyfort keys rotate` on any node).
    pub async fn reload_keys(&self) -> Result<(), KeyError> {
        let ring = KeyRing::load(&self.store, &self.master_key, now_ms()).await?;
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(ring);
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] keyfort_store::StoreError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Cipher(#[from] crate::aead::CipherError),
    #[error("the authentication-methods policy cannot be loaded: {0}")]
    Policy(String),
    #[error("FIDO metadata: {0}")]
    Metadata(String),
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
    /// How authenticator apps label Keyfort's codes: "Keyfort (host)", so that an app
    /// holding codes for several installations tells them apart.
    pub fn issuer_name(&self) -> String {
        format!("Keyfort ({})", self.rp.id)
    }

    pub async fn new(config: &Config, store: Store) -> Result<AppState, StartError> {
        let root = crate::metadata::MetadataRoot::fido().map_err(StartError::Metadata)?;
        AppState::with_metadata_root(config, store, root).await
    }

    /// [`AppState::new`] with another metadata root than FIDO's: for tests, whose BLOBs
    /// a test root signs. Nothing in the configuration can change the root.
    pub async fn with_metadata_root(
        config: &Config,
        store: Store,
        metadata_root: crate::metadata::MetadataRoot,
    ) -> Result<AppState, StartError> {
        if !crate::oidc::signer::install() {
            tracing::warn!(
                "another JWT crypto provider was installed first: tokens are signed with the key parsed per token"
            );
        }
        let master_key = MasterKey::load(config.master_key.as_deref(), &config.data_dir)?;
        let ring = KeyRing::load(&store, &master_key, now_ms()).await?;
        let policy = crate::app::policy::load(&store)
            .await
            .map_err(|e| StartError::Policy(e.to_string()))?;
        let anchors = match &config.attestation_ca_file {
            None => crate::passkeys::anchors::TrustAnchors::none(),
            Some(path) => crate::passkeys::anchors::TrustAnchors::from_file(path).map_err(|e| {
                crate::config::ConfigError {
                    setting: "KEYFORT_ATTESTATION_CA_FILE",
                    message: format!("{}: {e}", path.display()),
                }
            })?,
        };
        // The last good metadata copy, if any: a copy that no longer verifies is reported
        // and not used, and the next refresh replaces it.
        let stored = match crate::app::metadata::stored(&store, &metadata_root).await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "the stored FIDO metadata is not used");
                None
            }
        };
        let derived = crate::metadata::Derived::new(&anchors, stored);
        let related_origins: Vec<url::Url> = config
            .rp
            .related_origins
            .iter()
            .filter_map(|o| url::Url::parse(o).ok())
            .collect();
        let webauthn = WebauthnCore::new_unsafe_experts_only(
            "Keyfort",
            &config.rp.id,
            std::iter::once(config.rp.origin.clone())
                .chain(related_origins.iter().cloned())
                .collect(),
            Duration::from_millis(CEREMONY_TTL_MS as u64),
            Some(false),
            Some(false),
        );
        Ok(AppState(Arc::new(Inner {
            store,
            rp: config.rp.clone(),
            related_origins,
            webauthn,
            rp_id_hash: {
                use sha2::Digest;
                sha2::Sha256::digest(config.rp.id.as_bytes()).into()
            },
            session: config.session,
            issuer: config.rp.base.clone(),
            ceremonies: crate::sealed::Sealer::new(master_key.cipher(Purpose::SealedCeremonies)?),
            requests: crate::sealed::Sealer::new(master_key.cipher(Purpose::SealedRequests)?),
            master_key,
            keys: std::sync::RwLock::new(Arc::new(ring)),
            signout_revokes_tokens: config.signout_revokes_tokens,
            maintenance_interval_secs: config.maintenance_interval_secs,
            signin_log_retention_ms: config
                .signin_log_retention_days
                .saturating_mul(24 * 60 * keyfort_core::MINUTE_MS),
            throttles: crate::throttle::Throttles::new(&config.throttle),
            policy: std::sync::RwLock::new(Arc::new(policy)),
            memberships: crate::app::memberships::Memberships::default(),
            derived: std::sync::RwLock::new(Arc::new(derived)),
            admin_anchors: anchors,
            metadata_root,
            metadata_source: config.metadata_blob.clone(),
            refuse_reported_models: config.metadata_refuse_reported,
            metadata_refresh: Duration::from_secs(
                config.metadata_refresh_hours.saturating_mul(3600),
            ),
        })))
    }
}

/// The wall clock, read once per request at the edge and passed inward.
pub fn now_ms() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64 / 1_000_000
}
