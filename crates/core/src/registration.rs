//! Passkey registration decisions: whether a session may add a passkey now, and what the
//! new passkey is called.

use crate::passkey::{MAX_PASSKEYS_PER_USER, normalize_passkey_name};
use crate::policy::{
    MethodsPolicy, PasskeyCandidate, PasskeyPolicyRefusal, Stage, Subject, evaluate_passkey,
};
use crate::session::{SessionFacts, SignInMethod, may_register_passkey};
use crate::time::Millis;
use crate::webauthn::WebAuthnRefusal;

/// Why a registration (or a change to a passkey) is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationRefusal {
    /// The ceremony, or the authenticator's response, was refused.
    WebAuthn(WebAuthnRefusal),
    /// Adding a passkey needs a passkey sign-in within 5 minutes, or a pass.
    ReauthenticationRequired,
    /// The user has the most passkeys one may have.
    TooManyPasskeys,
    /// A passkey name is 1 to 64 characters without control characters.
    InvalidName,
    /// This credential is registered already.
    CredentialExists,
    /// The authentication-methods policy does not let this user register this passkey.
    Policy(PasskeyPolicyRefusal),
    /// FIDO metadata reports this model revoked or compromised.
    ModelReported(crate::metadata::Standing),
}

impl RegistrationRefusal {
    /// The stable code.
    pub fn code(self) -> &'static str {
        match self {
            RegistrationRefusal::WebAuthn(r) => r.code(),
            RegistrationRefusal::ReauthenticationRequired => "reauthentication_required",
            RegistrationRefusal::TooManyPasskeys => "too_many_passkeys",
            RegistrationRefusal::InvalidName => "invalid_name",
            RegistrationRefusal::CredentialExists => "credential_exists",
            RegistrationRefusal::Policy(r) => r.code(),
            RegistrationRefusal::ModelReported(s) => s.code(),
        }
    }
}

impl From<WebAuthnRefusal> for RegistrationRefusal {
    fn from(r: WebAuthnRefusal) -> Self {
        RegistrationRefusal::WebAuthn(r)
    }
}

/// What the policy says about who is registering.
#[derive(Debug, Clone, Copy)]
pub struct PolicyFacts<'a> {
    pub policy: &'a MethodsPolicy,
    pub subject: Subject<'a>,
}

/// Whether the session may start a registration: the passkey method applies to the user
/// (and self-service registration is allowed, unless they are onboarding with a pass),
/// recent enough a sign-in (`session::may_register_passkey`), and room for one more
/// passkey.
pub fn assess_begin(
    session: &SessionFacts,
    passkeys: usize,
    policy: PolicyFacts<'_>,
    now: Millis,
) -> Result<(), RegistrationRefusal> {
    let with_pass = session.method == SignInMethod::TemporaryAccessPass;
    crate::policy::may_register_passkey(policy.policy, policy.subject, with_pass)
        .map_err(RegistrationRefusal::Policy)?;
    if !may_register_passkey(session, now).is_allowed() {
        return Err(RegistrationRefusal::ReauthenticationRequired);
    }
    // A password proves too little to add a passkey beside others: only a first one.
    if session.method == SignInMethod::Password && passkeys > 0 {
        return Err(RegistrationRefusal::ReauthenticationRequired);
    }
    if passkeys >= MAX_PASSKEYS_PER_USER {
        return Err(RegistrationRefusal::TooManyPasskeys);
    }
    Ok(())
}

/// What finishing a registration knows before the response is verified.
#[derive(Debug, Clone, Copy)]
pub struct FinishFacts<'a> {
    pub session: &'a SessionFacts,
    /// Whether the ceremony was begun by this session.
    pub begun_by_session: bool,
    /// The passkeys the user has now.
    pub passkeys: usize,
    /// The name asked for, if any.
    pub name: Option<&'a str>,
    pub policy: PolicyFacts<'a>,
}

/// Decides whether a registration may finish, checked again as at begin (the session may
/// have aged, another registration may have finished meanwhile), and names the passkey:
/// the name asked for, or "Passkey n".
pub fn assess_finish(f: FinishFacts<'_>, now: Millis) -> Result<String, RegistrationRefusal> {
    if !f.begun_by_session {
        return Err(WebAuthnRefusal::ChallengeInvalid.into());
    }
    assess_begin(f.session, f.passkeys, f.policy, now)?;
    match f.name {
        Some(n) => normalize_passkey_name(n).ok_or(RegistrationRefusal::InvalidName),
        None => Ok(format!("Passkey {}", f.passkeys.saturating_add(1))),
    }
}

/// Whether the verified new passkey is one the policy accepts for the user at
/// registration (its type, its attestation, its AAGUID: any one profile in scope).
pub fn assess_new_passkey(
    policy: PolicyFacts<'_>,
    passkey: PasskeyCandidate<'_>,
) -> Result<(), RegistrationRefusal> {
    evaluate_passkey(policy.policy, policy.subject, passkey, Stage::Registration)
        .outcome
        .map(|_| ())
        .map_err(RegistrationRefusal::Policy)
}

/// A model FIDO metadata reports revoked or compromised is never registered, whatever
/// the policy says.
pub fn assess_model(standing: crate::metadata::Standing) -> Result<(), RegistrationRefusal> {
    if standing.is_bad() {
        return Err(RegistrationRefusal::ModelReported(standing));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::passkey::PasskeyType;
    use crate::policy::{MethodState, ProfileRule};
    use crate::time::MINUTE_MS;

    fn open_policy() -> MethodsPolicy {
        MethodsPolicy::default()
    }

    fn facts(p: &MethodsPolicy) -> PolicyFacts<'_> {
        PolicyFacts {
            policy: p,
            subject: Subject { groups: &[] },
        }
    }

    fn passkey_session(auth_time: Millis) -> SessionFacts {
        SessionFacts {
            method: SignInMethod::Passkey,
            auth_time,
            expires_at: 100 * MINUTE_MS,
            last_seen_at: auth_time,
            pass_one_time: false,
            pass_expires_at: None,
        }
    }

    #[test]
    fn a_fresh_session_with_room_may_register() {
        let s = passkey_session(0);
        let p = open_policy();
        assert_eq!(assess_begin(&s, 0, facts(&p), MINUTE_MS), Ok(()));
        assert_eq!(
            assess_begin(&s, 0, facts(&p), 6 * MINUTE_MS),
            Err(RegistrationRefusal::ReauthenticationRequired)
        );
        assert_eq!(
            assess_begin(&s, MAX_PASSKEYS_PER_USER, facts(&p), MINUTE_MS),
            Err(RegistrationRefusal::TooManyPasskeys)
        );
    }

    #[test]
    fn a_password_session_may_register_only_a_first_passkey() {
        let s = SessionFacts {
            method: SignInMethod::Password,
            ..passkey_session(0)
        };
        let p = open_policy();
        assert_eq!(assess_begin(&s, 0, facts(&p), MINUTE_MS), Ok(()));
        assert_eq!(
            assess_begin(&s, 1, facts(&p), MINUTE_MS),
            Err(RegistrationRefusal::ReauthenticationRequired)
        );
        assert_eq!(
            assess_begin(&s, 0, facts(&p), 6 * MINUTE_MS),
            Err(RegistrationRefusal::ReauthenticationRequired)
        );
    }

    #[test]
    fn the_policy_decides_who_may_register_and_what() {
        let s = passkey_session(0);
        let mut p = open_policy();
        p.fido2.is_self_service_registration_allowed = false;
        assert_eq!(
            assess_begin(&s, 0, facts(&p), MINUTE_MS),
            Err(RegistrationRefusal::Policy(
                PasskeyPolicyRefusal::SelfServiceDisabled
            ))
        );
        let onboarding = SessionFacts {
            method: SignInMethod::TemporaryAccessPass,
            pass_expires_at: Some(100 * MINUTE_MS),
            ..s
        };
        assert_eq!(assess_begin(&onboarding, 0, facts(&p), MINUTE_MS), Ok(()));
        p.fido2.state = MethodState::Disabled;
        assert_eq!(
            assess_begin(&onboarding, 0, facts(&p), MINUTE_MS),
            Err(RegistrationRefusal::Policy(
                PasskeyPolicyRefusal::MethodDisabled
            ))
        );
        let mut p = open_policy();
        p.fido2.passkey_profiles[0].passkey_types = vec![PasskeyType::DeviceBound];
        let synced = PasskeyCandidate {
            aaguid: "00000000-0000-0000-0000-000000000000",
            passkey_type: PasskeyType::Synced,
            attested: false,
        };
        assert_eq!(
            assess_new_passkey(facts(&p), synced),
            Err(RegistrationRefusal::Policy(PasskeyPolicyRefusal::Profile(
                ProfileRule::PasskeyType
            )))
        );
        let bound = PasskeyCandidate {
            passkey_type: PasskeyType::DeviceBound,
            ..synced
        };
        assert_eq!(assess_new_passkey(facts(&p), bound), Ok(()));
    }

    #[test]
    fn finishing_checks_again_and_names_the_passkey() {
        let s = passkey_session(0);
        let p = open_policy();
        let f = |begun_by_session, passkeys, name| FinishFacts {
            session: &s,
            begun_by_session,
            passkeys,
            name,
            policy: facts(&p),
        };
        assert_eq!(
            assess_finish(f(true, 2, None), MINUTE_MS).unwrap(),
            "Passkey 3"
        );
        assert_eq!(
            assess_finish(f(true, 0, Some(" Laptop ")), MINUTE_MS).unwrap(),
            "Laptop"
        );
        assert_eq!(
            assess_finish(f(false, 0, None), MINUTE_MS),
            Err(RegistrationRefusal::WebAuthn(
                WebAuthnRefusal::ChallengeInvalid
            ))
        );
        assert_eq!(
            assess_finish(f(true, 0, Some("")), MINUTE_MS),
            Err(RegistrationRefusal::InvalidName)
        );
        assert_eq!(
            assess_finish(f(true, MAX_PASSKEYS_PER_USER, None), MINUTE_MS),
            Err(RegistrationRefusal::TooManyPasskeys),
            "another registration took the last place meanwhile"
        );
        assert_eq!(
            assess_finish(f(true, 0, None), 6 * MINUTE_MS),
            Err(RegistrationRefusal::ReauthenticationRequired)
        );
    }
}
