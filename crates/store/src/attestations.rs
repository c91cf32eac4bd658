//! What a passkey's attestation showed at registration (`passkey_attestations`), written
//! in the commit that stores the passkey and read only where people look at it.

use crate::exec::{Arg, Cols, Exec, Kind, Record, fetch_records};
use crate::group_commit::Body;
use crate::{Result, Store};
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestationRecord {
    /// `attested` or `notAttested`.
    pub level: String,
    /// Why not (`no_attestation`, `untrusted_attestation_chain`, …).
    pub not_attested_reason: Option<String>,
    pub model_name: Option<String>,
    /// Base64 DER certificates, leaf first.
    pub chain: Vec<String>,
}

pub(crate) async fn insert<E: Exec>(
    e: &mut E,
    passkey_id: &str,
    a: &AttestationRecord,
) -> Result<()> {
    let chain = serde_json::to_string(&a.chain)
        .map_err(|e| crate::StoreError::Corrupt(format!("attestation chain: {e}")))?;
    e.exec(
        "INSERT INTO passkey_attestations (passkey_id, level, not_attested_reason, model_name, chain) \
         VALUES ($1, $2, $3, $4, $5)",
        &[
            Arg::Text(passkey_id),
            Arg::Text(&a.level),
            Arg::OptText(a.not_attested_reason.as_deref()),
            Arg::OptText(a.model_name.as_deref()),
            Arg::Text(&chain),
        ],
    )
    .await?;
    Ok(())
}

struct Row(String, AttestationRecord);

impl Record for Row {
    const KINDS: &'static [Kind] = &[
        Kind::Text,
        Kind::Text,
        Kind::OptText,
        Kind::OptText,
        Kind::Text,
    ];

    fn from_cols(c: &mut Cols) -> Result<Row> {
        let id = c.text()?;
        let level = c.text()?;
        let not_attested_reason = c.opt_text()?;
        let model_name = c.opt_text()?;
        let chain: Vec<String> = serde_json::from_str(&c.text()?)
            .map_err(|e| crate::StoreError::Corrupt(format!("attestation chain: {e}")))?;
        Ok(Row(
            id,
            AttestationRecord {
                level,
                not_attested_reason,
                model_name,
                chain,
            },
        ))
    }
}

struct OfUser(String);

impl Body for OfUser {
    type Out = HashMap<String, AttestationRecord>;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<Self::Out> {
        let rows: Vec<Row> = fetch_records(
            e,
            "SELECT a.passkey_id, a.level, a.not_attested_reason, a.model_name, a.chain \
             FROM passkey_attestations a JOIN passkeys p ON p.id = a.passkey_id WHERE p.user_id = $1",
            &[Arg::Text(&self.0)],
        )
        .await?;
        Ok(rows.into_iter().map(|Row(id, a)| (id, a)).collect())
    }
}

impl Store {
    /// The attestation records of a user's passkeys, by passkey id (passkeys registered
    /// before attestation was recorded have none).
    pub async fn attestations_of_user(
        &self,
        user_id: &str,
    ) -> Result<HashMap<String, AttestationRecord>> {
        self.read(OfUser(user_id.to_string())).await
    }
}
