//! Where a person goes right after signing in: someone who signed in with a Temporary
//! Access Pass is led to set up a passkey before going on to where they were going.

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
}

/// Why a person is led to set up a passkey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetUpReason {
    /// They have none: the pass is how they get their first.
    FirstPasskey,
    /// They have passkeys, but came in with a pass (a new device, or one lost).
    AnotherDevice,
}

impl SetUpReason {
    pub fn code(self) -> &'static str {
        match self {
            SetUpReason::FirstPasskey => "first_passkey",
            SetUpReason::AnotherDevice => "another_device",
        }
    }
}

/// Why a person goes straight on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContinueReason {
    /// They signed in with a passkey.
    SignedInWithPasskey,
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
        return NextStep::Continue(ContinueReason::SignedInWithPasskey);
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
        }
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
