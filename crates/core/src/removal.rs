//! Whether a person may remove one of their own sign-in methods: never the last one that
//! can still sign them in (administrators can, through the CLI and the API).

/// Why a person may not remove a method of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RemovalRefusal {
    #[error(
        "this is the only method that can sign you in: add another passkey first, then remove this one"
    )]
    LastMethod,
}

impl RemovalRefusal {
    pub fn code(self) -> &'static str {
        match self {
            RemovalRefusal::LastMethod => "last_method",
        }
    }
}

/// What the decision knows about the method to remove and the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnRemovalFacts {
    /// Whether the method can sign the person in today (a passkey the policy accepts,
    /// not blocked). One that cannot is never the last way in.
    pub target_signs_in: bool,
    /// How many of their other lasting methods can (a Temporary Access Pass does not
    /// count: it expires).
    pub others_that_sign_in: usize,
}

pub fn may_remove_own(f: OwnRemovalFacts) -> Result<(), RemovalRefusal> {
    if f.target_signs_in && f.others_that_sign_in == 0 {
        return Err(RemovalRefusal::LastMethod);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_way_in_stays() {
        let facts = |target_signs_in, others_that_sign_in| OwnRemovalFacts {
            target_signs_in,
            others_that_sign_in,
        };
        assert_eq!(
            may_remove_own(facts(true, 0)),
            Err(RemovalRefusal::LastMethod)
        );
        assert_eq!(may_remove_own(facts(true, 1)), Ok(()));
        // A passkey that cannot sign in (refused by the policy, blocked) may always go.
        assert_eq!(may_remove_own(facts(false, 0)), Ok(()));
        assert_eq!(RemovalRefusal::LastMethod.code(), "last_method");
    }
}
