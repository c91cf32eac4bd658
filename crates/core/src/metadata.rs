//! FIDO Metadata Service (MDS3) decisions: whether a verified BLOB replaces the copy in
//! use, and what a model's status reports make of it. Verifying the BLOB's signature and
//! certificate chain is the server's; these take what it read.

use crate::time::Millis;

/// What identifies a BLOB's edition: its serial number (`no`, which only grows) and the
/// date by which the next one is due (`nextUpdate`, as Unix milliseconds at 00:00 UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobEdition {
    pub no: i64,
    pub next_update: Millis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobVerdict {
    /// Newer than the copy in use (or the first one): use and keep it.
    Newer,
    /// The same edition as the copy in use: nothing to do.
    Unchanged,
}

/// Why a BLOB is not used; the copy in use (if any) stays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BlobRefusal {
    #[error("the BLOB's nextUpdate has passed: it is out of date")]
    Outdated,
    #[error("the BLOB is older (no {candidate}) than the copy in use (no {current})")]
    Rollback { candidate: i64, current: i64 },
}

impl BlobRefusal {
    pub fn code(self) -> &'static str {
        match self {
            BlobRefusal::Outdated => "metadata_outdated",
            BlobRefusal::Rollback { .. } => "metadata_rollback",
        }
    }
}

/// MDS3 §3.1.7–3.1.8: a BLOB whose `nextUpdate` has passed is not used, nor one whose
/// serial number is below the copy in use (a replayed old edition).
pub fn assess_blob(
    candidate: BlobEdition,
    current: Option<BlobEdition>,
    now: Millis,
) -> Result<BlobVerdict, BlobRefusal> {
    if candidate.next_update < now {
        return Err(BlobRefusal::Outdated);
    }
    match current {
        Some(c) if candidate.no < c.no => Err(BlobRefusal::Rollback {
            candidate: candidate.no,
            current: c.no,
        }),
        Some(c) if candidate.no == c.no => Ok(BlobVerdict::Unchanged),
        _ => Ok(BlobVerdict::Newer),
    }
}

/// The statuses of an MDS3 status report (`AuthenticatorStatus`) Keyfort acts on; every
/// other one (certification levels, `UPDATE_AVAILABLE`, …) is [`ReportedStatus::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportedStatus {
    Revoked,
    UserVerificationBypass,
    AttestationKeyCompromise,
    UserKeyRemoteCompromise,
    UserKeyPhysicalCompromise,
    Other,
}

impl ReportedStatus {
    pub fn parse(s: &str) -> ReportedStatus {
        match s {
            "REVOKED" => ReportedStatus::Revoked,
            "USER_VERIFICATION_BYPASS" => ReportedStatus::UserVerificationBypass,
            "ATTESTATION_KEY_COMPROMISE" => ReportedStatus::AttestationKeyCompromise,
            "USER_KEY_REMOTE_COMPROMISE" => ReportedStatus::UserKeyRemoteCompromise,
            "USER_KEY_PHYSICAL_COMPROMISE" => ReportedStatus::UserKeyPhysicalCompromise,
            _ => ReportedStatus::Other,
        }
    }
}

/// One status report: the status, effective from (Unix milliseconds; absent: always).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusReport {
    pub status: ReportedStatus,
    pub effective: Option<Millis>,
}

/// What the metadata says of a model today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// No report Keyfort acts on.
    Good,
    /// Its keys or its user verification can no longer be trusted.
    Compromised(ReportedStatus),
    /// FIDO revoked its certification.
    Revoked,
}

impl Standing {
    /// Whether a passkey of this model must not be registered (and is flagged at sign-in).
    pub fn is_bad(self) -> bool {
        self != Standing::Good
    }

    pub fn code(self) -> &'static str {
        match self {
            Standing::Good => "good",
            Standing::Compromised(_) => "authenticator_compromised",
            Standing::Revoked => "authenticator_revoked",
        }
    }
}

/// A model's standing from its reports in effect at `now`. *Keyfort's choice:* any
/// revocation or compromise in effect counts, whatever came after it (a later
/// `UPDATE_AVAILABLE` fixes new devices, not the ones already in people's hands).
pub fn standing(reports: &[StatusReport], now: Millis) -> Standing {
    let in_effect = reports
        .iter()
        .filter(|r| r.effective.is_none_or(|at| at <= now));
    let mut worst = Standing::Good;
    for r in in_effect {
        match r.status {
            ReportedStatus::Revoked => return Standing::Revoked,
            ReportedStatus::Other => {}
            s => worst = Standing::Compromised(s),
        }
    }
    worst
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Millis = 86_400_000;

    #[test]
    fn only_a_current_newer_blob_replaces_the_copy_in_use() {
        let now = 100 * DAY;
        let e = |no, next| BlobEdition {
            no,
            next_update: next,
        };
        assert_eq!(
            assess_blob(e(5, now + DAY), None, now),
            Ok(BlobVerdict::Newer)
        );
        assert_eq!(
            assess_blob(e(6, now + DAY), Some(e(5, now)), now),
            Ok(BlobVerdict::Newer)
        );
        assert_eq!(
            assess_blob(e(5, now + DAY), Some(e(5, now)), now),
            Ok(BlobVerdict::Unchanged)
        );
        assert_eq!(
            assess_blob(e(4, now + DAY), Some(e(5, now)), now),
            Err(BlobRefusal::Rollback {
                candidate: 4,
                current: 5
            })
        );
        assert_eq!(
            assess_blob(e(9, now - 1), Some(e(5, now)), now),
            Err(BlobRefusal::Outdated)
        );
        assert_eq!(assess_blob(e(9, now), None, now), Ok(BlobVerdict::Newer));
    }

    #[test]
    fn revocation_and_compromise_in_effect_count() {
        let now = 10 * DAY;
        let r = |s: &str, at: Option<Millis>| StatusReport {
            status: ReportedStatus::parse(s),
            effective: at,
        };
        assert_eq!(standing(&[], now), Standing::Good);
        assert_eq!(
            standing(&[r("FIDO_CERTIFIED_L1", Some(DAY))], now),
            Standing::Good
        );
        let compromised = [
            r("FIDO_CERTIFIED", Some(DAY)),
            r("ATTESTATION_KEY_COMPROMISE", Some(2 * DAY)),
            r("UPDATE_AVAILABLE", Some(3 * DAY)),
        ];
        assert_eq!(
            standing(&compromised, now),
            Standing::Compromised(ReportedStatus::AttestationKeyCompromise)
        );
        assert!(standing(&compromised, now).is_bad());
        assert_eq!(
            standing(&[r("REVOKED", None), r("FIDO_CERTIFIED", None)], now),
            Standing::Revoked
        );
        // Not yet in effect.
        assert_eq!(
            standing(&[r("REVOKED", Some(now + 1))], now),
            Standing::Good
        );
        assert_eq!(Standing::Revoked.code(), "authenticator_revoked");
    }
}
