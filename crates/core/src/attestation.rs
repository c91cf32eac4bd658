//! Attestation: whether to ask an authenticator for it, and what a verified statement
//! makes of a new passkey. The cryptography (the statement's signature, the chain to a
//! trust anchor) is the verifier's; these are the decisions around it.

use crate::policy::{
    AttestationEnforcement, MethodId, MethodsPolicy, Scope, Subject, method_scope,
};

/// What the attestation statement and its chain turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainCheck {
    /// `none`, or self attestation: nothing to chain.
    NoChain,
    /// A chain was presented but no trust anchor is configured.
    NoAnchors,
    /// The chain ends at a trust anchor.
    Trusted {
        /// The anchor vouches for this passkey's AAGUID (or for every AAGUID).
        covers_aaguid: bool,
    },
    /// The chain ends at no trust anchor (or is broken, or expired).
    Untrusted,
}

/// Attested or not, and why not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttestationLevel {
    Attested,
    NotAttested(NotAttested),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotAttested {
    /// The authenticator sent no attestation (or attested itself).
    NoStatement,
    /// No trust anchors are configured.
    NoAnchors,
    /// The chain does not end at a trust anchor.
    UntrustedChain,
    /// The anchor does not vouch for this model.
    AaguidOutsideAnchor,
}

impl NotAttested {
    pub fn code(self) -> &'static str {
        match self {
            NotAttested::NoStatement => "no_attestation",
            NotAttested::NoAnchors => "no_trust_anchors",
            NotAttested::UntrustedChain => "untrusted_attestation_chain",
            NotAttested::AaguidOutsideAnchor => "aaguid_outside_anchor",
        }
    }
}

impl AttestationLevel {
    pub fn is_attested(self) -> bool {
        self == AttestationLevel::Attested
    }

    /// `attested` or `notAttested`, as recorded on the passkey.
    pub fn as_str(self) -> &'static str {
        match self {
            AttestationLevel::Attested => "attested",
            AttestationLevel::NotAttested(_) => "notAttested",
        }
    }
}

/// A passkey is attested when its statement's chain ends at a trust anchor that vouches
/// for its model. A statement that verifies but chains nowhere is not an error: it makes
/// the passkey not attested, which only a profile enforcing attestation refuses.
pub fn assess(chain: ChainCheck) -> AttestationLevel {
    match chain {
        ChainCheck::NoChain => AttestationLevel::NotAttested(NotAttested::NoStatement),
        ChainCheck::NoAnchors => AttestationLevel::NotAttested(NotAttested::NoAnchors),
        ChainCheck::Untrusted => AttestationLevel::NotAttested(NotAttested::UntrustedChain),
        ChainCheck::Trusted {
            covers_aaguid: false,
        } => AttestationLevel::NotAttested(NotAttested::AaguidOutsideAnchor),
        ChainCheck::Trusted {
            covers_aaguid: true,
        } => AttestationLevel::Attested,
    }
}

/// Whether a registration asks the authenticator for attestation (`direct`): only when
/// trust anchors exist to check it against and a profile in the user's scope enforces
/// it. Otherwise `none`, so that a person is not asked to reveal their authenticator's
/// make for nothing.
pub fn wanted(policy: &MethodsPolicy, subject: Subject<'_>, anchors_configured: bool) -> bool {
    if !anchors_configured {
        return false;
    }
    match method_scope(policy, MethodId::Passkey, subject) {
        Scope::Included { profiles, .. } => profiles
            .iter()
            .any(|p| p.attestation_enforcement == AttestationEnforcement::RegistrationOnly),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_trusted_chain_covering_the_model_attests() {
        assert_eq!(
            assess(ChainCheck::Trusted {
                covers_aaguid: true
            }),
            AttestationLevel::Attested
        );
        for (chain, why) in [
            (ChainCheck::NoChain, NotAttested::NoStatement),
            (ChainCheck::NoAnchors, NotAttested::NoAnchors),
            (ChainCheck::Untrusted, NotAttested::UntrustedChain),
            (
                ChainCheck::Trusted {
                    covers_aaguid: false,
                },
                NotAttested::AaguidOutsideAnchor,
            ),
        ] {
            let level = assess(chain);
            assert_eq!(level, AttestationLevel::NotAttested(why));
            assert!(!level.is_attested());
            assert_eq!(level.as_str(), "notAttested");
        }
    }

    #[test]
    fn attestation_is_asked_for_only_when_it_can_matter() {
        let mut p = MethodsPolicy::default();
        let subject = Subject { groups: &[] };
        assert!(!wanted(&p, subject, true), "no profile enforces it");
        p.fido2.passkey_profiles[0].attestation_enforcement =
            AttestationEnforcement::RegistrationOnly;
        assert!(wanted(&p, subject, true));
        assert!(!wanted(&p, subject, false), "nothing to check it against");
        p.fido2.state = crate::policy::MethodState::Disabled;
        assert!(!wanted(&p, subject, true));
    }
}
