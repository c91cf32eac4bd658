//! Bulk provisioning: users with one registered passkey each (a real WebAuthn
//! registration, verified by the same code the server runs), and an OIDC client.

use anyhow::{Context, Result, anyhow};
use keyfort_softauthn::Authenticator;
use keyfort_store::{ClientRecord, NewUser, Store};
use std::time::Duration;
use webauthn_rs_core::WebauthnCore;
use webauthn_rs_proto::RegisterPublicKeyCredential;

pub const REDIRECT_URI: &str = "http://localhost:9/callback";

pub struct Fixture {
    /// One authenticator per user, holding that user's passkey.
    pub authenticators: Vec<Authenticator>,
    pub client_id: String,
    pub client_secret: String,
}

/// The database URL the server will use for this data directory (its default when `url` is None).
pub fn database_url(data_dir: &std::path::Path, url: Option<&str>) -> Result<String> {
    let dir = data_dir.display().to_string();
    let url = url.map(str::to_string);
    let env = |k: &str| match k {
        "KEYFORT_DATA_DIR" => Some(dir.clone()),
        "KEYFORT_DATABASE_URL" => url.clone(),
        _ => None,
    };
    Ok(
        keyfort_server::Config::load(keyfort_server::config::Sources {
            file: None,
            env: &env,
        })?
        .database_url,
    )
}

/// Creates `users` users with a passkey each for the relying party at `base`, in batches.
pub async fn provision(store: &Store, base: &str, users: usize) -> Result<Fixture> {
    provision_population(store, base, users, 0, 0).await
}

/// Like [`provision`], plus `dormant` further users with `keys_each` passkeys each that
/// the run never signs in with: the directory a large organisation has. Their
/// credentials are copies of a verified one with fresh credential ids (a bulk import
/// of already-verified passkeys), so populating millions takes seconds, not hours.
pub async fn provision_population(
    store: &Store,
    base: &str,
    users: usize,
    dormant: usize,
    keys_each: usize,
) -> Result<Fixture> {
    let origin = url::Url::parse(base)?;
    let webauthn = WebauthnCore::new_unsafe_experts_only(
        "Keyfort",
        "localhost",
        vec![origin],
        Duration::from_secs(300),
        Some(false),
        Some(false),
    );
    let now = keyfort_server::state::now_ms();
    let mut authenticators = Vec::with_capacity(users);
    for batch_start in (0..users).step_by(1000) {
        let batch_end = (batch_start + 1000).min(users);
        let new_users: Vec<NewUser> = (batch_start..batch_end)
            .map(|i| NewUser {
                id: uuid::Uuid::new_v4().to_string(),
                username: format!("bench{i:07}"),
                display_name: format!("Bench User {i}"),
                user_type: keyfort_core::directory::UserType::Member,
                ..NewUser::default()
            })
            .collect();
        store.import_users(&new_users, "bench", now).await?;
        let mut records = Vec::with_capacity(new_users.len());
        for nu in &new_users {
            let user = store.user_by_id(&nu.id).await?.context("imported user")?;
            let (options, state) = keyfort_server::passkeys::registration::options(
                &webauthn,
                &user,
                vec![],
                false,
                &[],
            )
            .map_err(|e| anyhow!("{e}"))?;
            let mut authn = Authenticator::synced([0x42; 16]);
            let response = authn.create(&serde_json::to_value(&options.public_key)?, base)?;
            let response: RegisterPublicKeyCredential = serde_json::from_value(response)?;
            let record = keyfort_server::passkeys::registration::verify(
                &webauthn,
                &keyfort_server::passkeys::anchors::TrustAnchors::none(),
                &response,
                &state,
                &user.id,
                "Bench key".into(),
                now,
            )
            .map_err(|e| anyhow!("{e}"))?
            .record;
            records.push(record);
            authenticators.push(authn);
        }
        store.import_passkeys(&records, "bench", now).await?;
    }
    if dormant > 0 {
        let template = store
            .passkeys_of_user(
                &store
                    .user_by_username("bench0000000")
                    .await?
                    .context("a verified template user")?
                    .id,
            )
            .await?
            .pop()
            .context("a verified template passkey")?;
        let mut credential: serde_json::Value = serde_json::from_str(&template.credential)?;
        // A directory sync loads its users in id order (random ids, sorted once up front),
        // so each batch appends to the user-id indexes instead of rewriting pages all over
        // them; the credential ids stay random, as an authenticator makes them.
        let mut ids: Vec<String> = (0..dormant)
            .map(|_| uuid::Uuid::new_v4().to_string())
            .collect();
        ids.sort_unstable();
        let batch = 50_000;
        for start in (0..dormant).step_by(batch) {
            let end = (start + batch).min(dormant);
            let new_users: Vec<NewUser> = (start..end)
                .map(|i| NewUser {
                    id: std::mem::take(&mut ids[i]),
                    username: format!("dormant{i:08}"),
                    display_name: format!("Dormant User {i}"),
                    user_type: keyfort_core::directory::UserType::Member,
                    ..NewUser::default()
                })
                .collect();
            let mut keys = Vec::with_capacity(new_users.len() * keys_each);
            for u in &new_users {
                for k in 0..keys_each {
                    let id_bytes = *uuid::Uuid::new_v4().as_bytes();
                    let id_b64 = base64::Engine::encode(
                        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                        id_bytes,
                    );
                    credential["cred_id"] = serde_json::json!(id_b64);
                    let mut record = template.clone();
                    record.id = uuid::Uuid::now_v7().to_string();
                    record.user_id = u.id.clone();
                    record.credential_id = id_b64;
                    record.credential = credential.to_string();
                    record.display_name = format!("Key {}", k + 1);
                    keys.push(record);
                }
            }
            store.import_users(&new_users, "bench", now).await?;
            store.import_passkeys(&keys, "bench", now).await?;
        }
    }
    let client_id = "bench-client".to_string();
    let client_secret = keyfort_server::crypto::random_token();
    store
        .create_client(
            &ClientRecord {
                id: client_id.clone(),
                name: "Benchmark".into(),
                secret_hash: Some(keyfort_server::crypto::token_hash(&client_secret)),
                public_client: false,
                redirect_uris: serde_json::to_string(&[REDIRECT_URI])?,
                post_logout_redirect_uris: "[]".into(),
                grant_types: serde_json::to_string(&[
                    "authorization_code",
                    "refresh_token",
                    "client_credentials",
                ])?,
                auth_method: "client_secret_basic".into(),
                jwks: None,
                id_token_alg: "ES256".into(),
                groups_claim: false,
                created_at: now,
                secret_rotated_at: None,
            },
            "bench",
        )
        .await?;
    Ok(Fixture {
        authenticators,
        client_id,
        client_secret,
    })
}
