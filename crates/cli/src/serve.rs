//! `keyfort serve`.

use crate::CliError;
use keyfort_server::config::Config;
use keyfort_server::state::{AppState, StartError, now_ms};
use keyfort_store::Store;

pub async fn open_store(config: &Config) -> Result<Store, CliError> {
    config.prepare_data_dir()?;
    Store::open(&config.database_url)
        .await
        .map_err(CliError::Store)
}

/// The log filter: `KEYFORT_LOG`, or Keyfort's own events at info and others' warnings.
/// webauthn-rs-core logs whole attacker-sent inputs at ERROR (a 45 KB authenticator
/// data became ~225 KB of log), so it stays silent unless a filter names it.
fn log_filter(configured: Option<String>) -> String {
    let base = configured
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "keyfort=info,warn".into());
    if base.contains("webauthn_rs_core") {
        base
    } else {
        format!("{base},webauthn_rs_core=off")
    }
}

pub async fn run() -> Result<(), CliError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(log_filter(std::env::var("KEYFORT_LOG").ok()))
                .unwrap_or_else(|_| log_filter(None).into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = Config::from_process_env()?;
    let store = open_store(&config).await?;
    if let Some(pass) = keyfort_server::bootstrap::first_start(&store, now_ms())
        .await
        .map_err(|e| CliError::Failed(format!("first start failed: {e}")))?
    {
        println!("Keyfort first start: created the administrator account `admin`.");
        println!("Sign in at {}/signin/tap?username=admin", config.rp.base);
        println!(
            "with this one-time Temporary Access Pass (valid {} minutes): {}",
            pass.record.lifetime_minutes, pass.code
        );
        println!(
            "then register a passkey. This pass is shown only once; `keyfort tap issue admin` makes a new one."
        );
    }
    let state = AppState::new(&config, store).await.map_err(|e| match e {
        StartError::Store(e) => CliError::Store(e),
        StartError::Config(e) => CliError::Config(e),
        StartError::Keys(e) => CliError::Failed(format!("signing keys: {e}")),
        StartError::Cipher(e) => CliError::Failed(format!("master key: {e}")),
        e @ (StartError::Policy(_) | StartError::Metadata(_)) => CliError::Failed(e.to_string()),
    })?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| {
            CliError::Config(keyfort_server::config::ConfigError {
                setting: "KEYFORT_LISTEN",
                message: format!("cannot listen on {}: {e}", config.listen),
            })
        })?;
    let local = listener
        .local_addr()
        .map_err(|e| CliError::Failed(e.to_string()))?;
    println!(
        "Keyfort listening on http://{local} (public URL {}, {} store)",
        config.rp.base,
        state.store.backend().as_str()
    );
    let shutdown = async {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => return std::future::pending().await,
                };
            tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
    };
    keyfort_server::serve(listener, state.clone(), shutdown)
        .await
        .map_err(|e| CliError::Failed(e.to_string()))?;
    state.store.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_webauthn_verifier_is_silent_unless_named() {
        assert_eq!(
            super::log_filter(None),
            "keyfort=info,warn,webauthn_rs_core=off"
        );
        assert_eq!(
            super::log_filter(Some("debug".into())),
            "debug,webauthn_rs_core=off"
        );
        assert_eq!(
            super::log_filter(Some("webauthn_rs_core=debug".into())),
            "webauthn_rs_core=debug"
        );
    }
}
