//! The registration campaign: after signing in, a person in its scope who has no passkey
//! is asked to register one. They may snooze the question (it comes back after the
//! snooze duration; 0 days: at the next sign-in); with enforcement on, after
//! [`ALLOWED_SNOOZES`] snoozes they must register before going on.

use crate::policy::{MethodsPolicy, Subject, campaign_targets};
use crate::time::{HOUR_MS, Millis};

/// Snoozes allowed before registration is enforced.
pub const ALLOWED_SNOOZES: i64 = 3;
const DAY_MS: Millis = 24 * HOUR_MS;

/// What the campaign knows of the person.
#[derive(Debug, Clone, Copy)]
pub struct CampaignFacts<'a> {
    pub policy: &'a MethodsPolicy,
    pub subject: Subject<'a>,
    /// Whether they hold a passkey (any: the campaign's job is done once one exists).
    pub holds_passkey: bool,
    /// Snoozes so far, and when the last one was.
    pub snoozes: i64,
    pub last_snoozed_at: Option<Millis>,
}

/// What the campaign asks now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CampaignStep {
    /// Nothing: the reason.
    Quiet(QuietReason),
    /// "Add a passkey", with "Remind me later"; how many snoozes are left when
    /// enforcement is on.
    Ask { snoozes_left: Option<i64> },
    /// Registration is required before going on.
    Require,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuietReason {
    /// Off, or its targets do not name the person.
    NotInScope,
    HasPasskey,
    /// Snoozed, and the snooze is still running.
    Snoozed {
        until: Millis,
    },
}

impl CampaignStep {
    pub fn code(self) -> &'static str {
        match self {
            CampaignStep::Quiet(QuietReason::NotInScope) => "not_in_scope",
            CampaignStep::Quiet(QuietReason::HasPasskey) => "has_passkey",
            CampaignStep::Quiet(QuietReason::Snoozed { .. }) => "snoozed",
            CampaignStep::Ask { .. } => "asked",
            CampaignStep::Require => "required",
        }
    }
}

/// Decides the campaign's step for the person at `now`.
pub fn step(f: CampaignFacts<'_>, now: Millis) -> CampaignStep {
    if !campaign_targets(f.policy, f.subject) {
        return CampaignStep::Quiet(QuietReason::NotInScope);
    }
    if f.holds_passkey {
        return CampaignStep::Quiet(QuietReason::HasPasskey);
    }
    let c = &f.policy.registration_campaign;
    let enforce = c.enforce_registration_after_allowed_snoozes;
    if enforce && f.snoozes >= ALLOWED_SNOOZES {
        return CampaignStep::Require;
    }
    if let Some(at) = f.last_snoozed_at {
        let until = at.saturating_add(c.snooze_duration_in_days.saturating_mul(DAY_MS));
        if now < until {
            return CampaignStep::Quiet(QuietReason::Snoozed { until });
        }
    }
    CampaignStep::Ask {
        snoozes_left: enforce.then(|| ALLOWED_SNOOZES.saturating_sub(f.snoozes)),
    }
}

/// Why a snooze is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SnoozeRefusal {
    #[error("your organisation requires a passkey before you go on")]
    RegistrationRequired,
    #[error("there is nothing to snooze")]
    NotAsked,
}

impl SnoozeRefusal {
    pub fn code(self) -> &'static str {
        match self {
            SnoozeRefusal::RegistrationRequired => "registration_required",
            SnoozeRefusal::NotAsked => "not_asked",
        }
    }
}

/// Whether the person may snooze now: only while asked.
pub fn may_snooze(step: CampaignStep) -> Result<(), SnoozeRefusal> {
    match step {
        CampaignStep::Ask { .. } => Ok(()),
        CampaignStep::Require => Err(SnoozeRefusal::RegistrationRequired),
        CampaignStep::Quiet(_) => Err(SnoozeRefusal::NotAsked),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{CampaignState, ExcludeTarget};

    fn facts(p: &MethodsPolicy, snoozes: i64, last: Option<Millis>) -> CampaignFacts<'_> {
        CampaignFacts {
            policy: p,
            subject: Subject { groups: &[] },
            holds_passkey: false,
            snoozes,
            last_snoozed_at: last,
        }
    }

    #[test]
    fn asked_until_three_snoozes_then_required() {
        let p = MethodsPolicy::default();
        assert_eq!(
            step(facts(&p, 0, None), 0),
            CampaignStep::Ask {
                snoozes_left: Some(3)
            }
        );
        // A day's snooze: quiet for a day, then asked again.
        let snoozed = step(facts(&p, 1, Some(0)), DAY_MS - 1);
        assert_eq!(
            snoozed,
            CampaignStep::Quiet(QuietReason::Snoozed { until: DAY_MS })
        );
        assert_eq!(
            step(facts(&p, 2, Some(0)), DAY_MS),
            CampaignStep::Ask {
                snoozes_left: Some(1)
            }
        );
        assert_eq!(step(facts(&p, 3, Some(0)), 1), CampaignStep::Require);
        assert_eq!(
            may_snooze(CampaignStep::Require),
            Err(SnoozeRefusal::RegistrationRequired)
        );
    }

    #[test]
    fn zero_days_asks_at_every_sign_in_and_no_enforcement_never_requires() {
        let mut p = MethodsPolicy::default();
        p.registration_campaign.snooze_duration_in_days = 0;
        assert!(matches!(
            step(facts(&p, 1, Some(5)), 5),
            CampaignStep::Ask { .. }
        ));
        p.registration_campaign
            .enforce_registration_after_allowed_snoozes = false;
        assert_eq!(
            step(facts(&p, 10, Some(5)), 5),
            CampaignStep::Ask { snoozes_left: None }
        );
    }

    #[test]
    fn out_of_scope_or_with_a_passkey_nothing_is_asked() {
        let mut p = MethodsPolicy::default();
        let with_passkey = CampaignFacts {
            holds_passkey: true,
            ..facts(&p, 5, None)
        };
        assert_eq!(
            step(with_passkey, 0),
            CampaignStep::Quiet(QuietReason::HasPasskey)
        );
        p.registration_campaign.exclude_targets = vec![ExcludeTarget { id: "g1".into() }];
        let groups = ["g1".to_string()];
        let excluded = CampaignFacts {
            subject: Subject { groups: &groups },
            ..facts(&p, 5, None)
        };
        assert_eq!(
            step(excluded, 0),
            CampaignStep::Quiet(QuietReason::NotInScope)
        );
        p.registration_campaign.state = CampaignState::Disabled;
        assert_eq!(step(facts(&p, 5, None), 0).code(), "not_in_scope");
    }
}
