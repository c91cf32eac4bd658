//! Where a person goes right after signing in: someone who signed in with a Temporary
//! Access Pass is led to set up a passkey before going on to where they were going, and
//! the registration campaign (`campaign`) asks — or requires — the rest to add one.

use crate::campaign::CampaignStep;
use crate::registration::RegistrationRefusal;
use crate::session::SignInMethod;

/// What the decision needs to know about the sign-in that just succeeded.
#[derive(Debug, Clone, Copy)]
pub struct AfterSignInFacts {
    pub method: SignInMethod,
    /// The passkeys the person has.
    pub passkeys: usize,
    /// Whether this session may register a passkey now
    /// (`registration::assess_begin`: the policy, the session, room for one more).
    pub may_register: Result<(), RegistrationRefusal>,
    /// What the registration campaign asks of them now.
    pub campaign: CampaignStep,
}

/// Why a person is led to set up a passkey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetUpReason {
    /// They have none: the pass is how they get their first.
    FirstPasskey,
    /// They have passkeys, but came in with a pass (a new device, or one lost).
    AnotherDevice,
    /// The registration campaign asks; they may snooze.
    Campaign,
    /// The registration campaign requires one before they go on.
    Required,
}

impl SetUpReason {
    pub fn code(self) -> &'static str {
        match self {
            SetUpReason::FirstPasskey => "first_passkey",
            SetUpReason::AnotherDevice => "another_device",
            SetUpReason::Campaign => "campaign",
            SetUpReason::Required => "required",
        }
    }
}

/// Why a person goes straight on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContinueReason {
    /// They signed in with a passkey.
    SignedInWithPasskey,
    /// Nothing asks them to add one now (the campaign's reason is `campaign`).
    NotAsked,
    /// They may not register one now (the policy, or no room); the reason is the refusal's.
    MayNotRegister(RegistrationRefusal),
}

/// The next step after a sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// "Set up your passkey", then on.
    SetUpPasskey(SetUpReason),
    /// On to the application, or "My security".
    Continue(ContinueReason),
}

/// A pass exists to put a passkey on a device: after a pass sign-in, a person who may
/// register one is led to do so (and may still decline); a passkey sign-in goes on.
pub fn after_signin(f: AfterSignInFacts) -> NextStep {
    if f.method != SignInMethod::TemporaryAccessPass {
        return match (f.campaign, f.may_register) {
            // Required whatever this session may do: registering may need a fresh sign-in.
            (CampaignStep::Require, _) => NextStep::SetUpPasskey(SetUpReason::Required),
            (CampaignStep::Ask { .. }, Ok(())) => NextStep::SetUpPasskey(SetUpReason::Campaign),
            _ if f.method == SignInMethod::Passkey => {
                NextStep::Continue(ContinueReason::SignedInWithPasskey)
            }
            _ => NextStep::Continue(ContinueReason::NotAsked),
        };
    }
    if let Err(r) = f.may_register {
        return NextStep::Continue(ContinueReason::MayNotRegister(r));
    }
    NextStep::SetUpPasskey(if f.passkeys == 0 {
        SetUpReason::FirstPasskey
    } else {
        SetUpReason::AnotherDevice
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PasskeyPolicyRefusal;

    fn facts(method: SignInMethod, passkeys: usize) -> AfterSignInFacts {
        AfterSignInFacts {
            method,
            passkeys,
            may_register: Ok(()),
            campaign: CampaignStep::Quiet(crate::campaign::QuietReason::HasPasskey),
        }
    }

    #[test]
    fn the_campaign_asks_when_a_registration_may_follow_and_requires_always() {
        let ask = AfterSignInFacts {
            campaign: CampaignStep::Ask {
                snoozes_left: Some(2),
            },
            ..facts(SignInMethod::Password, 0)
        };
        assert_eq!(
            after_signin(ask),
            NextStep::SetUpPasskey(SetUpReason::Campaign)
        );
        let stale = AfterSignInFacts {
            may_register: Err(RegistrationRefusal::ReauthenticationRequired),
            ..ask
        };
        assert_eq!(
            after_signin(stale),
            NextStep::Continue(ContinueReason::NotAsked)
        );
        let required = AfterSignInFacts {
            campaign: CampaignStep::Require,
            ..stale
        };
        assert_eq!(
            after_signin(required),
            NextStep::SetUpPasskey(SetUpReason::Required)
        );
    }

    #[test]
    fn a_pass_leads_to_a_passkey() {
        assert_eq!(
            after_signin(facts(SignInMethod::TemporaryAccessPass, 0)),
            NextStep::SetUpPasskey(SetUpReason::FirstPasskey)
        );
        assert_eq!(
            after_signin(facts(SignInMethod::TemporaryAccessPass, 2)),
            NextStep::SetUpPasskey(SetUpReason::AnotherDevice)
        );
    }

    #[test]
    fn a_passkey_sign_in_goes_on() {
        assert_eq!(
            after_signin(facts(SignInMethod::Passkey, 0)),
            NextStep::Continue(ContinueReason::SignedInWithPasskey)
        );
    }

    #[test]
    fn nobody_is_led_to_a_registration_they_would_be_refused() {
        for refusal in [
            RegistrationRefusal::Policy(PasskeyPolicyRefusal::MethodDisabled),
            RegistrationRefusal::TooManyPasskeys,
            RegistrationRefusal::ReauthenticationRequired,
        ] {
            let f = AfterSignInFacts {
                may_register: Err(refusal),
                ..facts(SignInMethod::TemporaryAccessPass, 0)
            };
            assert_eq!(
                after_signin(f),
                NextStep::Continue(ContinueReason::MayNotRegister(refusal))
            );
        }
    }
}
