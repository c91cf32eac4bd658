//! Values the browser carries for Keyfort, sealed: passkey sign-in ceremonies and
//! authorization requests waiting for a sign-in.
//!
//! Beginning a passkey sign-in is unauthenticated, so it writes nothing: the ceremony
//! (challenge, webauthn state, the user a username-first sign-in expects) is sealed
//! (`aead`, its own subkey per purpose) and the sealed text is the ceremony id the browser
//! sends back. Finishing opens it, checks its kind (bound as associated data) and expiry,
//! and spends its unique id in the same commit as the sign-in or the refusal
//! (`Store::record_signin`, `Store::log_signin`): a second finish with the same ceremony
//! finds the id spent, on whichever node it lands.

use crate::aead::{Cipher, CipherError};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Longer sealed ids are refused before any decoding.
pub const MAX_SEALED_LEN: usize = 8 * 1024;

/// What a sealed value holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Envelope<T> {
    /// Unique (time-ordered, `crypto::ordered_id`); spent once.
    pub id: String,
    /// Expiry, milliseconds since the epoch.
    pub exp: i64,
    pub body: T,
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(transparent)]
    Cipher(#[from] CipherError),
    #[error("the value does not serialize: {0}")]
    Serialize(#[from] serde_json::Error),
}

/// Seals envelopes of one purpose (`aead::Purpose`), each bound to its kind.
pub struct Sealer {
    cipher: Cipher,
}

impl Sealer {
    pub fn new(cipher: Cipher) -> Sealer {
        Sealer { cipher }
    }

    /// A sealer over a raw key (tests).
    pub fn from_key(key: [u8; 32]) -> Result<Sealer, CipherError> {
        Ok(Sealer::new(Cipher::from_key(key)?))
    }

    /// nonce ‖ ciphertext ‖ tag, base64url; `kind` is bound as associated data.
    pub fn seal<T: Serialize>(
        &self,
        kind: &str,
        envelope: &Envelope<T>,
    ) -> Result<String, SealError> {
        let plain = serde_json::to_vec(envelope)?;
        Ok(B64.encode(self.cipher.seal(aad(kind).as_bytes(), &plain)?))
    }

    /// The envelope, or `None` for anything this server did not seal for `kind`.
    pub fn open<T: DeserializeOwned>(&self, kind: &str, sealed: &str) -> Option<Envelope<T>> {
        if sealed.len() > MAX_SEALED_LEN {
            return None;
        }
        let raw = B64.decode(sealed).ok()?;
        let plain = self.cipher.open(aad(kind).as_bytes(), &raw)?;
        serde_json::from_slice(&plain).ok()
    }
}

fn aad(kind: &str) -> String {
    format!("keyfort ceremony/{kind}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope() -> Envelope<String> {
        Envelope {
            id: "abc".into(),
            exp: 42,
            body: "state".into(),
        }
    }

    #[test]
    fn opens_what_it_sealed_for_the_same_kind_only() {
        let s = Sealer::from_key([7; 32]).unwrap();
        let sealed = s.seal("authentication", &envelope()).unwrap();
        assert_eq!(s.open("authentication", &sealed), Some(envelope()));
        assert_eq!(s.open::<String>("registration", &sealed), None);
        assert_eq!(
            Sealer::from_key([8; 32])
                .unwrap()
                .open::<String>("authentication", &sealed),
            None,
            "another key"
        );
        // Two seals of the same envelope differ (fresh nonce).
        assert_ne!(sealed, s.seal("authentication", &envelope()).unwrap());
    }

    #[test]
    fn refuses_tampered_truncated_and_oversized_input() {
        let s = Sealer::from_key([7; 32]).unwrap();
        let sealed = s.seal("authentication", &envelope()).unwrap();
        let mut raw = B64.decode(&sealed).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        assert_eq!(s.open::<String>("authentication", &B64.encode(&raw)), None);
        raw[last] ^= 1;
        raw[12] ^= 1;
        assert_eq!(s.open::<String>("authentication", &B64.encode(&raw)), None);
        assert_eq!(s.open::<String>("authentication", &sealed[..10]), None);
        assert_eq!(s.open::<String>("authentication", ""), None);
        assert_eq!(s.open::<String>("authentication", "not base64 !"), None);
        let huge = "A".repeat(MAX_SEALED_LEN + 1);
        assert_eq!(s.open::<String>("authentication", &huge), None);
    }
}

#[cfg(test)]
mod properties {
    use super::Sealer;
    use proptest::prelude::*;

    proptest! {
        /// Nothing but what the sealer sealed opens: any other string, of any shape, is
        /// refused without a panic.
        #[test]
        fn only_sealed_text_opens(text in "[A-Za-z0-9_-]{0,300}|.{0,100}") {
            let s = Sealer::from_key([9; 32]).unwrap();
            prop_assert!(s.open::<serde_json::Value>("authentication", &text).is_none());
        }
    }
}
