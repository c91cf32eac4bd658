//! `keyfort client …` and `keyfort keys rotate`.

use crate::CliError;
use crate::admin::app_failed;
use crate::output;
use crate::serve::open_store;
use clap::Subcommand;
use keyfort_core::clients::ClientDraft;
use keyfort_server::app::clients;
use keyfort_server::config::Config;
use keyfort_server::oidc::keyring::{self, ALGORITHMS, MasterKey, alg_name, parse_alg};
use keyfort_server::state::now_ms;
use keyfort_store::Store;
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

fn usage(m: impl Into<String>) -> CliError {
    CliError::Usage(m.into())
}

pub async fn client(cmd: ClientCommand, as_json: bool, actor: &str) -> Result<(), CliError> {
    let config = Config::from_process_env()?;
    let store = open_store(&config).await?;
    let result = run(&store, &config, cmd, as_json, actor).await;
    store.close().await;
    result
}

async fn run(
    store: &Store,
    config: &Config,
    cmd: ClientCommand,
    as_json: bool,
    actor: &str,
) -> Result<(), CliError> {
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
            let jwks_text = match &jwks {
                Some(path) => Some(
                    std::fs::read_to_string(path)
                        .map_err(|e| usage(format!("--jwks {}: {e}", path.display())))?,
                ),
                None => None,
            };
            let draft = ClientDraft {
                name,
                redirect_uris,
                post_logout_redirect_uris,
                public,
                grants,
                auth_method,
                id_token_alg: Some(id_token_alg),
                // Whether keys come with it is the JWK set passed to `register`.
                ..ClientDraft::default()
            };
            let r = clients::register(
                store,
                &draft,
                jwks_text.as_deref(),
                groups_claim,
                actor,
                now,
            )
            .await
            .map_err(app_failed)?;
            if as_json {
                let mut v =
                    serde_json::to_value(&r).map_err(|e| CliError::Failed(e.to_string()))?;
                v["issuer"] = json!(config.rp.base);
                output::json(&v);
            } else {
                println!("Registered {} (issuer {})", r.client.name, config.rp.base);
                println!("client_id:     {}", r.client.client_id);
                if let Some(s) = &r.client_secret {
                    println!("client_secret: {s}");
                    println!(
                        "The secret is shown only now; `keyfort client rotate-secret {}` replaces it.",
                        r.client.client_id
                    );
                }
            }
        }
        ClientCommand::List => {
            let list = clients::list(store).await.map_err(app_failed)?;
            if as_json {
                output::json(&list);
            } else {
                println!("{:<24} {:<28} {:<8} GRANTS", "CLIENT ID", "NAME", "TYPE");
                for c in &list {
                    println!(
                        "{:<24} {:<28} {:<8} {}",
                        c.client_id,
                        c.name,
                        if c.public { "public" } else { "conf." },
                        c.grant_types.join(",")
                    );
                }
            }
        }
        ClientCommand::Show { client_id } => {
            let c = clients::show(store, &client_id).await.map_err(app_failed)?;
            if as_json {
                output::json(&c);
            } else {
                println!("Client id:      {}", c.client_id);
                println!("Name:           {}", c.name);
                println!(
                    "Type:           {}",
                    if c.public { "public" } else { "confidential" }
                );
                println!("Authentication: {}", c.token_endpoint_auth_method);
                println!("Grants:         {}", c.grant_types.join(", "));
                println!("Redirect URIs:  {}", c.redirect_uris.join(" "));
                println!("After sign-out: {}", c.post_logout_redirect_uris.join(" "));
                println!("ID token alg:   {}", c.id_token_signed_response_alg);
                println!(
                    "Groups claim:   {}",
                    if c.groups_claim { "yes" } else { "no" }
                );
                println!("Created:        {}", c.created_date_time);
                println!(
                    "Secret rotated: {}",
                    c.secret_rotated_date_time.as_deref().unwrap_or("never")
                );
            }
        }
        ClientCommand::Remove { client_id } => {
            clients::remove(store, &client_id, actor, now)
                .await
                .map_err(app_failed)?;
            if as_json {
                output::json(&json!({ "removed": client_id }))
            } else {
                println!("Removed {client_id} and every token issued to it")
            }
        }
        ClientCommand::RotateSecret { client_id } => {
            let r = clients::rotate_secret(store, &client_id, actor, now)
                .await
                .map_err(app_failed)?;
            if as_json {
                output::json(&r);
            } else {
                println!("New client_secret for {client_id}: {}", r.client_secret);
                println!("The old secret no longer works. This one is shown only now.");
            }
        }
    }
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
