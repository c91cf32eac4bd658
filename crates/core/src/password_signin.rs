//! Signing in with a password: whether the facts let the person in, and what must follow.
//!
//! A password alone is never multi-factor. When the person also holds a second factor the
//! policy allows (today: a passkey), a right password only leads on to it; the session
//! comes from the second factor. A password-only session exists only for someone who
//! holds nothing stronger, and it may register their first passkey.

use crate::signin::SignInRefusal;

/// What follows a right password before there is a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SecondFactor {
    Passkey,
    /// An authenticator-app code (TOTP).
    SoftwareOath,
}

impl SecondFactor {
    pub fn code(self) -> &'static str {
        match self {
            SecondFactor::Passkey => "passkey",
            SecondFactor::SoftwareOath => "softwareOath",
        }
    }
}

/// The second factors a person holds and may use, strongest first (the preferred-method
/// ranking): a passkey before an authenticator app.
pub fn second_factors(passkey: bool, software_oath: bool) -> Vec<SecondFactor> {
    [
        (passkey, SecondFactor::Passkey),
        (software_oath, SecondFactor::SoftwareOath),
    ]
    .into_iter()
    .filter_map(|(held, f)| held.then_some(f))
    .collect()
}

/// What a password sign-in knows before it decides. The password is verified on every
/// path — against a stand-in hash when the name is unknown or has no password — before
/// this is built, so timing says nothing about which usernames exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordFacts {
    /// The named user has a password: whether the user is enabled, and whether the stored
    /// hash is weaker than what Keyfort writes. `None`: unknown name, or no password.
    pub stored: Option<StoredPassword>,
    /// Whether the password typed is the stored one.
    pub matches: bool,
    /// Whether the methods policy enables passwords for the user now.
    pub allowed: bool,
    /// The strongest second factor the user holds and the policy allows, if any.
    pub second_factor: Option<SecondFactor>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredPassword {
    pub user_enabled: bool,
    pub needs_rehash: bool,
}

/// What to do with a password sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordVerdict {
    pub outcome: Result<PasswordAccepted, SignInRefusal>,
    /// Forgive the earlier wrong attempts on this username: the right password was typed.
    pub forgive_attempts: bool,
    /// Replace the stored hash by Argon2id now that the password is known to be right.
    pub rehash: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordAccepted {
    /// Sign in: a single-factor session.
    SignIn,
    /// The password was right; the person finishes with this second factor, which makes
    /// the session.
    ThenSecondFactor(SecondFactor),
}

/// Decides a password sign-in. Only someone who typed the right password learns that the
/// account is disabled or that the policy turned passwords off for them; everyone else
/// gets the generic refusal.
pub fn assess_password(f: PasswordFacts) -> PasswordVerdict {
    let refuse = |refusal, forgive_attempts| PasswordVerdict {
        outcome: Err(refusal),
        forgive_attempts,
        rehash: false,
    };
    let Some(stored) = f.stored else {
        return refuse(SignInRefusal::PasswordIncorrect, false);
    };
    if !f.matches {
        return refuse(SignInRefusal::PasswordIncorrect, false);
    }
    if !f.allowed {
        return refuse(SignInRefusal::PasswordDisabledByPolicy, true);
    }
    if !stored.user_enabled {
        return refuse(SignInRefusal::UserDisabled, true);
    }
    PasswordVerdict {
        outcome: Ok(match f.second_factor {
            Some(second) => PasswordAccepted::ThenSecondFactor(second),
            None => PasswordAccepted::SignIn,
        }),
        forgive_attempts: true,
        // A verified password is the one moment its hash can be upgraded.
        rehash: stored.needs_rehash,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> PasswordFacts {
        PasswordFacts {
            stored: Some(StoredPassword {
                user_enabled: true,
                needs_rehash: false,
            }),
            matches: true,
            allowed: true,
            second_factor: None,
        }
    }

    #[test]
    fn the_right_password_alone_signs_in_someone_without_a_second_factor() {
        let v = assess_password(facts());
        assert_eq!(v.outcome, Ok(PasswordAccepted::SignIn));
        assert!(v.forgive_attempts);
        assert!(!v.rehash);
    }

    #[test]
    fn a_held_second_factor_is_always_asked_for() {
        let v = assess_password(PasswordFacts {
            second_factor: Some(SecondFactor::Passkey),
            ..facts()
        });
        assert_eq!(
            v.outcome,
            Ok(PasswordAccepted::ThenSecondFactor(SecondFactor::Passkey))
        );
    }

    #[test]
    fn wrong_or_unknown_answer_alike_and_are_not_forgiven() {
        let wrong = assess_password(PasswordFacts {
            matches: false,
            ..facts()
        });
        let unknown = assess_password(PasswordFacts {
            stored: None,
            matches: false,
            ..facts()
        });
        // An unknown name verifies against a stand-in: even a "match" there means nothing.
        let stand_in = assess_password(PasswordFacts {
            stored: None,
            ..facts()
        });
        for v in [wrong, unknown, stand_in] {
            assert_eq!(v.outcome, Err(SignInRefusal::PasswordIncorrect));
            assert!(!v.forgive_attempts);
            assert!(!v.rehash);
        }
    }

    #[test]
    fn only_the_right_password_learns_of_policy_or_a_disabled_account() {
        let off = assess_password(PasswordFacts {
            allowed: false,
            ..facts()
        });
        assert_eq!(off.outcome, Err(SignInRefusal::PasswordDisabledByPolicy));
        let wrong_and_off = assess_password(PasswordFacts {
            allowed: false,
            matches: false,
            ..facts()
        });
        assert_eq!(wrong_and_off.outcome, Err(SignInRefusal::PasswordIncorrect));
        let disabled = assess_password(PasswordFacts {
            stored: Some(StoredPassword {
                user_enabled: false,
                needs_rehash: true,
            }),
            ..facts()
        });
        assert_eq!(disabled.outcome, Err(SignInRefusal::UserDisabled));
        assert!(!disabled.rehash);
    }

    #[test]
    fn a_passkey_outranks_an_app() {
        assert_eq!(
            second_factors(true, true),
            [SecondFactor::Passkey, SecondFactor::SoftwareOath]
        );
        assert_eq!(second_factors(false, true), [SecondFactor::SoftwareOath]);
        assert!(second_factors(false, false).is_empty());
    }

    #[test]
    fn a_weak_hash_is_replaced_once_its_password_is_verified() {
        let v = assess_password(PasswordFacts {
            stored: Some(StoredPassword {
                user_enabled: true,
                needs_rehash: true,
            }),
            second_factor: Some(SecondFactor::Passkey),
            ..facts()
        });
        assert!(v.rehash);
    }
}
