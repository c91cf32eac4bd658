//! Decisions are values: an outcome plus the reasons behind it, so a refusal
//! can always be explained (in the sign-in log, to the user, in a report).

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    Allow,
    Deny,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub outcome: Outcome,
    /// Stable, machine-readable reason codes (snake_case).
    pub reasons: Vec<&'static str>,
}

impl Decision {
    pub fn allow(reason: &'static str) -> Self {
        Decision {
            outcome: Outcome::Allow,
            reasons: vec![reason],
        }
    }

    pub fn deny(reason: &'static str) -> Self {
        Decision {
            outcome: Outcome::Deny,
            reasons: vec![reason],
        }
    }

    pub fn is_allowed(&self) -> bool {
        self.outcome == Outcome::Allow
    }

    /// The first reason, the one reported to the user and logged as the reason code.
    pub fn reason(&self) -> &'static str {
        self.reasons.first().copied().unwrap_or("unspecified")
    }
}
