//! The registration campaign's snoozes. A snooze counts only while the count is the one
//! the decision read, so two racing snoozes cannot both pass the allowed number.

use crate::audit::{self, AuditEvent};
use crate::exec::{Arg, Cols, Exec, Kind, Record, fetch_record};
use crate::group_commit::Body;
use crate::{Result, Store};

/// How often a person snoozed the campaign, and when last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CampaignSnoozes {
    pub snoozes: i64,
    pub last_snoozed_at: Option<i64>,
}

impl Record for CampaignSnoozes {
    const KINDS: &'static [Kind] = &[Kind::Int, Kind::Int];

    fn from_cols(c: &mut Cols) -> Result<CampaignSnoozes> {
        Ok(CampaignSnoozes {
            snoozes: c.int()?,
            last_snoozed_at: Some(c.int()?),
        })
    }
}

impl Store {
    pub async fn campaign_snoozes(&self, user_id: &str) -> Result<CampaignSnoozes> {
        Ok(self
            .read(SnoozesOf(user_id.to_string()))
            .await?
            .unwrap_or_default())
    }

    /// Counts one more snooze, if the count is still `seen`; audited as
    /// `campaign.snoozed`. Whether it counted.
    pub async fn snooze_campaign(
        &self,
        user_id: &str,
        username: &str,
        seen: i64,
        now: i64,
    ) -> Result<bool> {
        self.transact(Snooze {
            user_id: user_id.to_string(),
            username: username.to_string(),
            seen,
            now,
        })
        .await
    }
}

struct SnoozesOf(String);

impl Body for SnoozesOf {
    type Out = Option<CampaignSnoozes>;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<Self::Out> {
        fetch_record(
            e,
            "SELECT snoozes, last_snoozed_at FROM campaign_snoozes WHERE user_id = $1",
            &[Arg::Text(&self.0)],
        )
        .await
    }
}

struct Snooze {
    user_id: String,
    username: String,
    seen: i64,
    now: i64,
}

impl Body for Snooze {
    type Out = bool;

    async fn run<E: Exec>(&self, e: &mut E) -> Result<bool> {
        let moved = if self.seen == 0 {
            e.exec(
                "INSERT INTO campaign_snoozes (user_id, snoozes, last_snoozed_at) \
                 VALUES ($1, 1, $2) ON CONFLICT (user_id) DO NOTHING",
                &[Arg::Text(&self.user_id), Arg::Int(self.now)],
            )
            .await?
        } else {
            e.exec(
                "UPDATE campaign_snoozes SET snoozes = snoozes + 1, last_snoozed_at = $1 \
                 WHERE user_id = $2 AND snoozes = $3",
                &[
                    Arg::Int(self.now),
                    Arg::Text(&self.user_id),
                    Arg::Int(self.seen),
                ],
            )
            .await?
        };
        if moved != 1 {
            return Ok(false);
        }
        let ev = AuditEvent::new(self.now, &self.username, "campaign.snoozed", &self.username)
            .after(serde_json::json!({ "snoozes": self.seen.saturating_add(1) }));
        audit::write_with(e, &ev).await?;
        Ok(true)
    }
}
