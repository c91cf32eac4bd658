//! Passkey-preferred sign-in: which way to sign in Keyfort offers first, and which it
//! lists under "Other ways to sign in".
//!
//! The order is the preferred-method ranking (docs/semantics.md, "Preferred method
//! ranking"): a Temporary Access Pass, then a passkey, then the phishable methods — a
//! password with an authenticator-app code, then a password alone — last. Only methods the person has *and* the methods policy allows them are
//! ranked. A name Keyfort does not know is answered as a person in the policy's default
//! scope who holds every method that scope allows, so the answer for an unknown name is
//! the answer for a fully enrolled one.

use serde::Serialize;

/// A way to sign in, strongest first (the derived order is the ranking).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SignInChoice {
    TemporaryAccessPass,
    Passkey,
    /// A password, then a code from an authenticator app.
    SoftwareOath,
    Password,
}

impl SignInChoice {
    pub const ALL: [SignInChoice; 4] = [
        SignInChoice::TemporaryAccessPass,
        SignInChoice::Passkey,
        SignInChoice::SoftwareOath,
        SignInChoice::Password,
    ];

    pub fn code(self) -> &'static str {
        match self {
            SignInChoice::TemporaryAccessPass => "temporaryAccessPass",
            SignInChoice::Passkey => "passkey",
            SignInChoice::SoftwareOath => "softwareOath",
            SignInChoice::Password => "password",
        }
    }

    /// Whether the method alone resists phishing (a passkey is bound to Keyfort's origin).
    pub fn phishing_resistant(self) -> bool {
        self == SignInChoice::Passkey
    }
}

/// For one method: whether the person has it (a usable one) and whether the methods
/// policy allows it to them now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Held {
    pub registered: bool,
    pub allowed: bool,
}

/// What ranking a person's ways to sign in knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChoiceFacts {
    pub pass: Held,
    pub passkey: Held,
    /// An authenticator app (offered only with a usable password).
    pub software_oath: Held,
    pub password: Held,
}

impl ChoiceFacts {
    fn held(&self, c: SignInChoice) -> Held {
        match c {
            SignInChoice::TemporaryAccessPass => self.pass,
            SignInChoice::Passkey => self.passkey,
            SignInChoice::SoftwareOath => Held {
                registered: self.software_oath.registered && self.password.registered,
                allowed: self.software_oath.allowed && self.password.allowed,
            },
            SignInChoice::Password => self.password,
        }
    }

    /// The stand-in for a name Keyfort does not know: every method the default scope
    /// allows, held. (A pass is never assumed: a pass exists only for a short while.)
    pub fn for_unknown_name(
        passkey_allowed: bool,
        software_oath_allowed: bool,
        password_allowed: bool,
    ) -> ChoiceFacts {
        let all = |allowed| Held {
            registered: allowed,
            allowed,
        };
        ChoiceFacts {
            pass: Held::default(),
            passkey: all(passkey_allowed),
            software_oath: all(software_oath_allowed),
            password: all(password_allowed),
        }
    }
}

/// The ways offered, strongest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Choices {
    /// What the page starts at once; `None` when the person holds nothing usable (then
    /// a passkey prompt is still the default, and a pass the way in).
    pub preferred: Option<SignInChoice>,
    /// The rest, strongest first, weakest last.
    pub others: Vec<SignInChoice>,
    /// Why `preferred` is what it is, for the sign-in log and tests.
    pub reason: ChoiceReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ChoiceReason {
    /// The strongest method held and allowed.
    Strongest,
    /// Nothing held is allowed.
    NothingUsable,
    /// The ranking is off for the first factor: the person picks.
    PersonPicks,
}

/// Ranks what the person holds and may use; with the ranking off for the first factor,
/// nothing is started at once and every way is listed, strongest first, to pick from.
pub fn rank_with(f: ChoiceFacts, setting: crate::policy::PreferredMethodRanking) -> Choices {
    let ranked = rank(f);
    if setting.first_factor() {
        return ranked;
    }
    let mut others = ranked.others;
    if let Some(p) = ranked.preferred {
        others.insert(0, p);
    }
    Choices {
        preferred: None,
        others,
        reason: match ranked.reason {
            ChoiceReason::NothingUsable => ChoiceReason::NothingUsable,
            ChoiceReason::Strongest | ChoiceReason::PersonPicks => ChoiceReason::PersonPicks,
        },
    }
}

/// Ranks what the person holds and may use.
pub fn rank(f: ChoiceFacts) -> Choices {
    let mut usable = SignInChoice::ALL
        .into_iter()
        .filter(|c| {
            let h = f.held(*c);
            h.registered && h.allowed
        })
        .collect::<Vec<_>>();
    usable.sort();
    if usable.is_empty() {
        return Choices {
            preferred: None,
            others: Vec::new(),
            reason: ChoiceReason::NothingUsable,
        };
    }
    let preferred = usable.remove(0);
    Choices {
        preferred: Some(preferred),
        others: usable,
        reason: ChoiceReason::Strongest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YES: Held = Held {
        registered: true,
        allowed: true,
    };

    #[test]
    fn a_passkey_comes_before_a_password() {
        let c = rank(ChoiceFacts {
            passkey: YES,
            password: YES,
            ..ChoiceFacts::default()
        });
        assert_eq!(c.preferred, Some(SignInChoice::Passkey));
        assert_eq!(c.others, [SignInChoice::Password]);
    }

    #[test]
    fn a_pass_comes_first() {
        let c = rank(ChoiceFacts {
            pass: YES,
            passkey: YES,
            password: YES,
            ..ChoiceFacts::default()
        });
        assert_eq!(c.preferred, Some(SignInChoice::TemporaryAccessPass));
        assert_eq!(c.others, [SignInChoice::Passkey, SignInChoice::Password]);
    }

    #[test]
    fn what_policy_refuses_or_nobody_registered_is_not_offered() {
        let c = rank(ChoiceFacts {
            passkey: Held {
                registered: false,
                allowed: true,
            },
            password: Held {
                registered: true,
                allowed: false,
            },
            ..ChoiceFacts::default()
        });
        assert_eq!(c.preferred, None);
        assert!(c.others.is_empty());
        assert_eq!(c.reason, ChoiceReason::NothingUsable);
        let only_password = rank(ChoiceFacts {
            password: YES,
            ..ChoiceFacts::default()
        });
        assert_eq!(only_password.preferred, Some(SignInChoice::Password));
    }

    #[test]
    fn an_app_code_ranks_between_a_passkey_and_a_password_alone() {
        let c = rank(ChoiceFacts {
            passkey: YES,
            software_oath: YES,
            password: YES,
            ..ChoiceFacts::default()
        });
        assert_eq!(c.preferred, Some(SignInChoice::Passkey));
        assert_eq!(
            c.others,
            [SignInChoice::SoftwareOath, SignInChoice::Password]
        );
        // An app is a second factor: without a usable password it is no way in.
        let no_password = rank(ChoiceFacts {
            software_oath: YES,
            password: Held {
                registered: true,
                allowed: false,
            },
            ..ChoiceFacts::default()
        });
        assert_eq!(no_password.preferred, None);
    }

    #[test]
    fn an_unknown_name_looks_fully_enrolled() {
        let unknown = rank(ChoiceFacts::for_unknown_name(true, true, true));
        let enrolled = rank(ChoiceFacts {
            passkey: YES,
            software_oath: YES,
            password: YES,
            ..ChoiceFacts::default()
        });
        assert_eq!(unknown, enrolled);
        let passkeys_only = rank(ChoiceFacts::for_unknown_name(true, false, false));
        assert_eq!(passkeys_only.preferred, Some(SignInChoice::Passkey));
        assert!(passkeys_only.others.is_empty());
    }

    #[test]
    fn with_the_ranking_off_the_person_picks_from_every_way() {
        use crate::policy::PreferredMethodRanking::*;
        let f = ChoiceFacts {
            passkey: YES,
            password: YES,
            ..ChoiceFacts::default()
        };
        assert_eq!(rank_with(f, FirstAndSecondFactor), rank(f));
        for setting in [SecondFactorOnly, Off] {
            let c = rank_with(f, setting);
            assert_eq!(c.preferred, None);
            assert_eq!(c.others, [SignInChoice::Passkey, SignInChoice::Password]);
            assert_eq!(c.reason, ChoiceReason::PersonPicks);
        }
    }

    #[test]
    fn only_passkeys_resist_phishing() {
        let resistant: Vec<_> = SignInChoice::ALL
            .into_iter()
            .filter(|c| c.phishing_resistant())
            .collect();
        assert_eq!(resistant, [SignInChoice::Passkey]);
    }
}
