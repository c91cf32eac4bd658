//! `keyfort`: the server (`keyfort serve`) and its administration commands.

mod admin;
mod clients;
mod metadata;
mod output;
mod passwords;
mod policy;
mod roles;
mod serve;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "keyfort",
    version,
    about = "Keyfort: a passkey-first identity provider"
)]
struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve,
    /// Manage users.
    #[command(subcommand)]
    User(admin::UserCommand),
    /// Manage groups.
    #[command(subcommand)]
    Group(admin::GroupCommand),
    /// Temporary Access Passes.
    #[command(subcommand)]
    Tap(admin::TapCommand),
    /// Read the sign-in and audit logs.
    #[command(subcommand)]
    Log(admin::LogCommand),
    /// OpenID Connect applications.
    #[command(subcommand)]
    Client(clients::ClientCommand),
    /// Token signing keys.
    #[command(subcommand)]
    Keys(clients::KeysCommand),
    /// The authentication-methods policy and its passkey profiles.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Administrative roles of people and applications.
    #[command(subcommand)]
    Role(roles::RoleCommand),
    /// FIDO metadata: authenticator models, their attestation roots and status.
    #[command(subcommand)]
    Metadata(metadata::MetadataCommand),
}

fn main() -> ExitCode {
    // Before anything reads jsonwebtoken's provider (which fixes it for the process).
    keyfort_server::oidc::signer::install();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("keyfort: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve => serve::run().await,
            Command::User(c) => admin::user(c, cli.json).await,
            Command::Group(c) => admin::group(c, cli.json).await,
            Command::Tap(c) => admin::tap(c, cli.json).await,
            Command::Log(c) => admin::log(c, cli.json).await,
            Command::Client(c) => clients::client(c, cli.json, &admin::actor()).await,
            Command::Keys(c) => clients::keys(c, cli.json, &admin::actor()).await,
            Command::Policy(c) => policy::policy(c, cli.json, &admin::actor()).await,
            Command::Role(c) => roles::role(c, cli.json, &admin::actor()).await,
            Command::Metadata(c) => metadata::metadata(c, cli.json, &admin::actor()).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keyfort: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// A failure to report in one line.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("invalid configuration: {0}")]
    Config(#[from] keyfort_server::config::ConfigError),
    #[error("cannot open the store named by KEYFORT_DATABASE_URL: {0}")]
    Store(keyfort_store::StoreError),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    fn exit_code(&self) -> u8 {
        match self {
            CliError::Config(_) | CliError::Store(_) => 2,
            CliError::Usage(_) => 64,
            CliError::Failed(_) => 1,
        }
    }
}
