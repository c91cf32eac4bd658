//! `keyfort metadata …`: the FIDO metadata BLOB every node uses, through the
//! application layer (`app::metadata`), verified against FIDO's root.

use crate::CliError;
use crate::admin::{app_failed, store};
use crate::output;
use clap::Subcommand;
use keyfort_server::app::metadata as app_metadata;
use keyfort_server::metadata::MetadataRoot;

#[derive(Subcommand)]
pub enum MetadataCommand {
    /// What the BLOB in use is: its serial number, next update and models.
    Show,
    /// Verify a BLOB (a file, or an https URL such as https://mds3.fidoalliance.org/)
    /// and, when it is newer than the one in use, store it for every node.
    Load { source: String },
}

pub async fn metadata(cmd: MetadataCommand, as_json: bool, actor: &str) -> Result<(), CliError> {
    let store = store().await?;
    let root = MetadataRoot::fido().map_err(CliError::Failed)?;
    let now = keyfort_server::state::now_ms();
    match cmd {
        MetadataCommand::Show => {
            let shown = app_metadata::show(&store, &root, now)
                .await
                .map_err(app_failed)?;
            match (shown, as_json) {
                (shown, true) => output::json(&shown),
                (None, false) => println!("No FIDO metadata loaded."),
                (Some(m), false) => println!(
                    "FIDO metadata no {}: {} models, next update {}{}, stored {}",
                    m.serial,
                    m.models,
                    m.next_update_date_time,
                    if m.outdated { " (overdue)" } else { "" },
                    m.stored_date_time
                ),
            }
        }
        MetadataCommand::Load { source } => {
            let text = app_metadata::read_source(&source)
                .await
                .map_err(app_failed)?;
            let (loaded, _) = app_metadata::load(&store, &root, &text, actor, now)
                .await
                .map_err(app_failed)?;
            if as_json {
                output::json(&loaded);
            } else if loaded.stored {
                println!(
                    "Stored FIDO metadata no {} ({} models); every node uses it within a minute.",
                    loaded.metadata.serial, loaded.metadata.models
                );
            } else {
                println!(
                    "FIDO metadata no {} is already in use.",
                    loaded.metadata.serial
                );
            }
        }
    }
    Ok(())
}
