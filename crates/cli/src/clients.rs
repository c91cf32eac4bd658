//! `keyfort client …` and `keyfort keys rotate`.

use crate::CliError;
use crate::output::{self, when};
use crate::serve::open_store;
use clap::Subcommand;
use keyfort_server::config::Config;
use keyfort_server::crypto::{random_token, token_hash};
use keyfort_server::oidc::keyring::{self, ALGORITHMS, MasterKey, alg_name, parse_alg};
use keyfort_server::state::now_ms;
use keyfort_store::{ClientRecord, Store, StoreError};
use serde_json::json;

#[derive(Subcommand)]
pub enum ClientCommand {
    /// Register an application. Prints its client_id and, for confidential clients, a secret shown once.
    Add {
        name: String,
        /// A redirect URI, matched exactly (repeatable).
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// A public client (no secret; PKCE required), such as a single-page or native app.
        #[arg(long)]
        public: bool,
        /// A grant type it may use (repeatable): authorization_code, refresh_token, client_credentials.
        /// Default: authorization_code and refresh_token.
        #[arg(long = "grant")]
        grants: Vec<String>,
        /// Where the application may send people after sign-out (repeatable, exact match).
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// client_secret_basic (default), client_secret_post, or private_key_jwt (with --jwks).
        #[arg(long)]
        auth_method: Option<String>,
        /// A JSON Web Key Set file with the client's public keys, for private_key_jwt.
        #[arg(long)]
        jwks: Option<std::path::PathBuf>,
        /// ID token signature: ES256 (default), EdDSA or RS256.
        #[arg(long, default_value = "ES256")]
        id_token_alg: String,
        /// Include the user's groups in ID tokens and UserInfo.
        #[arg(long)]
        groups_claim: bool,
    },
    /// List applications.
    List,
    /// Show one application.
    Show { client_id: String },
    /// Remove an application and every token issued to it.
    Remove { client_id: String },
    /// Replace a confidential client's secret; the new one is shown once.
    RotateSecret { client_id: String },
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Add a new signing key (all algorithms, or one with --alg). Old public keys stay
    /// published until every token they signed has expired.
    Rotate {
        #[arg(long)]
        alg: Option<String>,
    },
}

fn failed(e: StoreError) -> CliError {
    match e {
        StoreError::Conflict(what) => CliError::Failed(format!("that {what} already exists")),
        StoreError::NotFound(what) => CliError::Failed(format!("no such {what}")),
        other => CliError::Failed(other.to_string()),
    }
}

fn view(c: &ClientRecord) -> serde_json::Value {
    json!({
        "clientId": c.id, "name": c.name, "public": c.public_client != 0, "redirectUris": c.redirect_uri_list(),
        "postLogoutRedirectUris": c.post_logout_uri_list(), "grantTypes": c.grant_type_list(),
        "tokenEndpointAuthMethod": c.auth_method, "idTokenSignedResponseAlg": c.id_token_alg,
        "groupsClaim": c.groups_claim != 0, "createdAt": c.created_at, "secretRotatedAt": c.secret_rotated_at,
    })
}

fn usage(m: impl Into<String>) -> CliError {
    CliError::Usage(m.into())
}

pub async fn client(cmd: ClientCommand, as_json: bool, actor: &str) -> Result<(), CliError> {
    let config = Config::from_process_env()?;
    let store = open_store(&config).await?;
    let now = now_ms();
    match cmd {
        ClientCommand::Add {
            name,
            redirect_uris,
            public,
            grants,
            post_logout_redirect_uris,
            auth_method,
            jwks,
            id_token_alg,
            groups_claim,
        } => {
            let name = name.trim().to_string();
            if name.is_empty() || name.chars().count() > 128 || name.chars().any(char::is_control) {
                return Err(usage(
                    "a client name is 1 to 128 characters without control characters",
                ));
            }
            for uri in redirect_uris.iter().chain(&post_logout_redirect_uris) {
                keyfort_core::oidc::validate_redirect_uri(uri)
                    .map_err(|e| usage(format!("--redirect-uri: {e}")))?;
            }
            let grants = if grants.is_empty() {
                vec![
                    "authorization_code".to_string(),
                    "refresh_token".to_string(),
                ]
            } else {
                grants
            };
            for g in &grants {
                if !matches!(
                    g.as_str(),
                    "authorization_code" | "refresh_token" | "client_credentials"
                ) {
                    return Err(usage(format!(
                        "--grant `{g}`: use authorization_code, refresh_token or client_credentials (the password grant is never offered)"
                    )));
                }
            }
            if grants.iter().any(|g| g == "authorization_code") && redirect_uris.is_empty() {
                return Err(usage(
                    "the authorization_code grant needs at least one --redirect-uri",
                ));
            }
            if public && grants.iter().any(|g| g == "client_credentials") {
                return Err(usage("a public client cannot use client_credentials"));
            }
            if parse_alg(&id_token_alg).is_none() {
                return Err(usage("--id-token-alg is ES256, EdDSA or RS256"));
            }
            let jwks_text = match &jwks {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .map_err(|e| usage(format!("--jwks {}: {e}", path.display())))?;
                    let set: jsonwebtoken::jwk::JwkSet =
                        serde_json::from_str(&text).map_err(|e| {
                            usage(format!("--jwks {}: not a JWK set: {e}", path.display()))
                        })?;
                    if set.keys.is_empty() {
                        return Err(usage("--jwks: the set has no keys"));
                    }
                    Some(serde_json::to_string(&set).map_err(|e| CliError::Failed(e.to_string()))?)
                }
                None => None,
            };
            let auth_method = match (public, auth_method.as_deref(), &jwks_text) {
                (true, None | Some("none"), None) => "none".to_string(),
                (true, _, _) => {
                    return Err(usage(
                        "a public client has no secret and no keys (--auth-method none)",
                    ));
                }
                (false, None, Some(_)) | (false, Some("private_key_jwt"), Some(_)) => {
                    "private_key_jwt".to_string()
                }
                (false, Some("private_key_jwt"), None) => {
                    return Err(usage("private_key_jwt needs --jwks"));
                }
                (false, None, None) => "client_secret_basic".to_string(),
                (false, Some(m @ ("client_secret_basic" | "client_secret_post")), None) => {
                    m.to_string()
                }
                (false, Some(m), _) => {
                    return Err(usage(format!(
                        "--auth-method `{m}` is not one of client_secret_basic, client_secret_post, private_key_jwt"
                    )));
                }
            };
            let secret = (!public && auth_method.starts_with("client_secret")).then(random_token);
            let record = ClientRecord {
                id: random_token()[..22].to_string(),
                name,
                secret_hash: secret.as_deref().map(token_hash),
                public_client: i64::from(public),
                redirect_uris: serde_json::to_string(&redirect_uris).unwrap_or_default(),
                post_logout_redirect_uris: serde_json::to_string(&post_logout_redirect_uris)
                    .unwrap_or_default(),
                grant_types: serde_json::to_string(&grants).unwrap_or_default(),
                auth_method,
                jwks: jwks_text,
                id_token_alg,
                groups_claim: i64::from(groups_claim),
                created_at: now,
                secret_rotated_at: None,
            };
            store.create_client(&record, actor).await.map_err(failed)?;
            if as_json {
                let mut v = view(&record);
                v["clientSecret"] = json!(secret);
                v["issuer"] = json!(config.rp.base);
                output::json(&v);
            } else {
                println!("Registered {} (issuer {})", record.name, config.rp.base);
                println!("client_id:     {}", record.id);
                if let Some(s) = &secret {
                    println!("client_secret: {s}");
                    println!(
                        "The secret is shown only now; `keyfort client rotate-secret {}` replaces it.",
                        record.id
                    );
                }
            }
        }
        ClientCommand::List => {
            let clients = store.list_clients().await.map_err(failed)?;
            if as_json {
                output::json(&clients.iter().map(view).collect::<Vec<_>>());
            } else {
                println!("{:<24} {:<28} {:<8} GRANTS", "CLIENT ID", "NAME", "TYPE");
                for c in &clients {
                    println!(
                        "{:<24} {:<28} {:<8} {}",
                        c.id,
                        c.name,
                        if c.public_client != 0 {
                            "public"
                        } else {
                            "conf."
                        },
                        c.grant_type_list().join(",")
                    );
                }
            }
        }
        ClientCommand::Show { client_id } => {
            let c = store
                .client(&client_id)
                .await
                .map_err(failed)?
                .ok_or_else(|| CliError::Failed(format!("no client `{client_id}`")))?;
            if as_json {
                output::json(&view(&c));
            } else {
                println!("Client id:      {}", c.id);
                println!("Name:           {}", c.name);
                println!(
                    "Type:           {}",
                    if c.public_client != 0 {
                        "public"
                    } else {
                        "confidential"
                    }
                );
                println!("Authentication: {}", c.auth_method);
                println!("Grants:         {}", c.grant_type_list().join(", "));
                println!("Redirect URIs:  {}", c.redirect_uri_list().join(" "));
                println!("After sign-out: {}", c.post_logout_uri_list().join(" "));
                println!("ID token alg:   {}", c.id_token_alg);
                println!(
                    "Groups claim:   {}",
                    if c.groups_claim != 0 { "yes" } else { "no" }
                );
                println!("Created:        {}", when(Some(c.created_at)));
                println!("Secret rotated: {}", when(c.secret_rotated_at));
            }
        }
        ClientCommand::Remove { client_id } => {
            store
                .remove_client(&client_id, actor, now)
                .await
                .map_err(failed)?;
            if as_json {
                output::json(&json!({ "removed": client_id }))
            } else {
                println!("Removed {client_id} and every token issued to it")
            }
        }
        ClientCommand::RotateSecret { client_id } => {
            let c = store
                .client(&client_id)
                .await
                .map_err(failed)?
                .ok_or_else(|| CliError::Failed(format!("no client `{client_id}`")))?;
            if !c.auth_method.starts_with("client_secret") {
                return Err(usage(format!(
                    "{client_id} authenticates with {}, not a secret",
                    c.auth_method
                )));
            }
            let secret = random_token();
            store
                .set_client_secret(&client_id, &token_hash(&secret), actor, now)
                .await
                .map_err(failed)?;
            if as_json {
                output::json(&json!({ "clientId": client_id, "clientSecret": secret }));
            } else {
                println!("New client_secret for {client_id}: {secret}");
                println!("The old secret no longer works. This one is shown only now.");
            }
        }
    }
    store.close().await;
    Ok(())
}

pub async fn keys(cmd: KeysCommand, as_json: bool, actor: &str) -> Result<(), CliError> {
    let KeysCommand::Rotate { alg } = cmd;
    let config = Config::from_process_env()?;
    let store: Store = open_store(&config).await?;
    let master = MasterKey::load(config.master_key.as_deref(), &config.data_dir)?;
    let algs = match alg.as_deref() {
        Some(a) => vec![parse_alg(a).ok_or_else(|| usage("--alg is ES256, EdDSA or RS256"))?],
        None => ALGORITHMS.to_vec(),
    };
    let mut added = Vec::new();
    for a in algs {
        let kid = keyring::add_key(&store, &master, a, actor, now_ms())
            .await
            .map_err(|e| CliError::Failed(e.to_string()))?;
        added.push(json!({ "kid": kid, "alg": alg_name(a) }));
    }
    if as_json {
        output::json(&added);
    } else {
        for k in &added {
            println!(
                "New {} signing key {}",
                k["alg"].as_str().unwrap_or(""),
                k["kid"].as_str().unwrap_or("")
            );
        }
        println!(
            "Running servers start signing with it within a minute; old public keys stay in the JWKS until their tokens expire."
        );
    }
    store.close().await;
    Ok(())
}
