//! Authentication strengths (docs/semantics.md, "Authentication strengths") and how a
//! sign-in's methods map to the `acr` and `amr` an application receives.

use serde::Serialize;

/// Authentication methods by their policy names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Method {
    Password,
    Voice,
    HardwareOath,
    SoftwareOath,
    Sms,
    Fido2,
    X509CertificateSingleFactor,
    X509CertificateMultiFactor,
    TemporaryAccessPassOneTime,
    TemporaryAccessPassMultiUse,
    Email,
}

/// A strength: a set of allowed method combinations. A sign-in satisfies the
/// strength when the methods it used include every method of one combination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Strength {
    pub id: &'static str,
    pub display_name: &'static str,
    /// The `acr` value applications use to ask for this strength.
    pub acr: &'static str,
    pub allowed_combinations: Vec<Vec<Method>>,
}

pub const ACR_MFA: &str = "urn:keyfort:acr:mfa";
pub const ACR_PASSWORDLESS: &str = "urn:keyfort:acr:passwordless";
pub const ACR_PHISHING_RESISTANT: &str = "urn:keyfort:acr:phishing-resistant";

impl Strength {
    pub fn satisfied_by(&self, used: &[Method]) -> bool {
        self.allowed_combinations
            .iter()
            .any(|combo| combo.iter().all(|m| used.contains(m)))
    }
}

/// The built-in strengths, weakest first (immutable; docs/semantics.md).
pub fn built_in() -> Vec<Strength> {
    use Method::*;
    vec![
        Strength {
            id: "00000000-0000-0000-0000-000000000002",
            display_name: "Multifactor authentication",
            acr: ACR_MFA,
            allowed_combinations: vec![
                vec![Fido2],
                vec![X509CertificateMultiFactor],
                vec![TemporaryAccessPassOneTime],
                vec![TemporaryAccessPassMultiUse],
                vec![Password, SoftwareOath],
                vec![Password, HardwareOath],
                vec![Password, Sms],
                vec![Password, Voice],
            ],
        },
        Strength {
            id: "00000000-0000-0000-0000-000000000003",
            display_name: "Passwordless MFA",
            acr: ACR_PASSWORDLESS,
            allowed_combinations: vec![vec![Fido2], vec![X509CertificateMultiFactor]],
        },
        Strength {
            id: "00000000-0000-0000-0000-000000000004",
            display_name: "Phishing-resistant MFA",
            acr: ACR_PHISHING_RESISTANT,
            allowed_combinations: vec![vec![Fido2], vec![X509CertificateMultiFactor]],
        },
    ]
}

/// The strength an `acr` value asks for.
pub fn by_acr(acr: &str) -> Option<Strength> {
    built_in().into_iter().find(|s| s.acr == acr)
}

/// The strongest `acr` the methods satisfy (None when they satisfy no strength).
pub fn strongest_acr(used: &[Method]) -> Option<&'static str> {
    built_in()
        .into_iter()
        .rev()
        .find(|s| s.satisfied_by(used))
        .map(|s| s.acr)
}

/// None of the requested strengths is met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the sign-in does not meet the requested authentication strength")]
pub struct StrengthNotMet;

/// Of the requested `acr` values (in preference order), the first the methods satisfy.
/// `Err(StrengthNotMet)` when none is: the user must authenticate again, or the
/// request fails — never a silent downgrade.
pub fn select_acr(
    requested: &[&str],
    used: &[Method],
) -> Result<Option<&'static str>, StrengthNotMet> {
    let known: Vec<Strength> = requested.iter().filter_map(|r| by_acr(r)).collect();
    if known.is_empty() {
        // No (known) acr requested: report the strongest the session meets.
        return Ok(strongest_acr(used));
    }
    match known.iter().find(|s| s.satisfied_by(used)) {
        // The issued acr is the strongest value the session actually satisfies.
        Some(_) => Ok(strongest_acr(used)),
        None => Err(StrengthNotMet),
    }
}

/// What a sign-in used, as far as `amr` (RFC 8176) is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInEvidence {
    /// A passkey with user verification; `hardware_attested` when it is device-bound
    /// and its attestation was verified.
    Passkey {
        hardware_attested: bool,
    },
    TemporaryAccessPass {
        one_time: bool,
    },
    /// A password alone: single-factor.
    Password,
    /// A password and an authenticator-app code.
    PasswordTotp,
}

impl SignInEvidence {
    pub fn methods(self) -> Vec<Method> {
        match self {
            SignInEvidence::Passkey { .. } => vec![Method::Fido2],
            SignInEvidence::TemporaryAccessPass { one_time: true } => {
                vec![Method::TemporaryAccessPassOneTime]
            }
            SignInEvidence::TemporaryAccessPass { one_time: false } => {
                vec![Method::TemporaryAccessPassMultiUse]
            }
            SignInEvidence::Password => vec![Method::Password],
            SignInEvidence::PasswordTotp => vec![Method::Password, Method::SoftwareOath],
        }
    }

    /// RFC 8176 §2 values: `hwk`/`swk` (proof of possession of a hardware- or
    /// software-secured key), `user` (user presence and verification), `otp`,
    /// and `mfa` when the methods make the sign-in multi-factor.
    pub fn amr(self) -> Vec<&'static str> {
        match self {
            SignInEvidence::Passkey {
                hardware_attested: true,
            } => vec!["hwk", "user", "mfa"],
            SignInEvidence::Passkey {
                hardware_attested: false,
            } => vec!["swk", "user", "mfa"],
            // A Temporary Access Pass counts as multi-factor (docs/semantics.md).
            SignInEvidence::TemporaryAccessPass { .. } => vec!["otp", "mfa"],
            SignInEvidence::Password => vec!["pwd"],
            SignInEvidence::PasswordTotp => vec!["pwd", "otp", "mfa"],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passkeys_satisfy_every_built_in_strength() {
        let used = SignInEvidence::Passkey {
            hardware_attested: false,
        }
        .methods();
        for s in built_in() {
            assert!(s.satisfied_by(&used), "{}", s.display_name);
        }
        assert_eq!(strongest_acr(&used), Some(ACR_PHISHING_RESISTANT));
    }

    #[test]
    fn a_pass_is_multifactor_but_not_phishing_resistant() {
        let used = SignInEvidence::TemporaryAccessPass { one_time: true }.methods();
        assert_eq!(strongest_acr(&used), Some(ACR_MFA));
        assert_eq!(
            select_acr(&[ACR_PHISHING_RESISTANT], &used),
            Err(StrengthNotMet)
        );
        assert_eq!(select_acr(&[ACR_PASSWORDLESS], &used), Err(StrengthNotMet));
        assert_eq!(
            select_acr(&[ACR_PHISHING_RESISTANT, ACR_MFA], &used),
            Ok(Some(ACR_MFA))
        );
    }

    #[test]
    fn combinations_need_every_method() {
        let mfa = by_acr(ACR_MFA).unwrap();
        assert!(!mfa.satisfied_by(&[Method::Password]));
        assert!(mfa.satisfied_by(&[Method::Password, Method::Sms]));
        assert_eq!(strongest_acr(&[Method::Password]), None);
    }

    #[test]
    fn issued_acr_is_the_strongest_met_and_unknown_values_are_ignored() {
        let used = [Method::Fido2];
        assert_eq!(
            select_acr(&[ACR_MFA], &used),
            Ok(Some(ACR_PHISHING_RESISTANT))
        );
        assert_eq!(
            select_acr(&["urn:other:loa:2"], &used),
            Ok(Some(ACR_PHISHING_RESISTANT))
        );
        assert_eq!(select_acr(&[], &[Method::Password]), Ok(None));
    }

    #[test]
    fn amr_reflects_the_key() {
        assert_eq!(
            SignInEvidence::Passkey {
                hardware_attested: true
            }
            .amr(),
            ["hwk", "user", "mfa"]
        );
        assert_eq!(
            SignInEvidence::Passkey {
                hardware_attested: false
            }
            .amr(),
            ["swk", "user", "mfa"]
        );
        assert_eq!(
            SignInEvidence::TemporaryAccessPass { one_time: false }.amr(),
            ["otp", "mfa"]
        );
        assert_eq!(SignInEvidence::Password.amr(), ["pwd"]);
        assert_eq!(strongest_acr(&SignInEvidence::Password.methods()), None);
        assert_eq!(SignInEvidence::PasswordTotp.amr(), ["pwd", "otp", "mfa"]);
        assert_eq!(
            strongest_acr(&SignInEvidence::PasswordTotp.methods()),
            Some(ACR_MFA)
        );
    }
}
