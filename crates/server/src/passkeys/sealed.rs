//! Sign-in ceremonies carried by the browser, sealed.
//!
//! Beginning a passkey sign-in is unauthenticated, so it writes nothing: the ceremony
//! (challenge, webauthn state, the user a username-first sign-in expects) is sealed with
//! AES-256-GCM under a key derived from the master key — every node shares it — and the
//! sealed text is the ceremony id the browser sends back. Finishing opens it, checks its
//! kind (bound as associated data) and expiry, and spends its unique id in the same commit
//! as the sign-in or the refusal (`Store::record_signin`, `Store::log_signin`):
//! a second finish with the same ceremony finds the id spent, on whichever node it lands.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The label the sealing key is derived under (`MasterKey::derive`).
pub const KEY_LABEL: &str = "ceremony sealing v1";

/// Longer ceremony ids are refused before any decoding.
pub const MAX_SEALED_LEN: usize = 8 * 1024;

/// What a sealed ceremony holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Envelope<T> {
    /// Unique (time-ordered, `crypto::ordered_id`); spent once.
    pub id: String,
    /// Expiry, milliseconds since the epoch.
    pub exp: i64,
    pub body: T,
}

pub struct CeremonySealer {
    key: LessSafeKey,
}

impl CeremonySealer {
    pub fn new(key: [u8; 32]) -> CeremonySealer {
        CeremonySealer {
            key: LessSafeKey::new(
                UnboundKey::new(&AES_256_GCM, &key).expect("a 32-byte AES-256 key"),
            ),
        }
    }

    /// nonce ‖ ciphertext ‖ tag, base64url; `kind` is bound as associated data.
    pub fn seal<T: Serialize>(&self, kind: &str, envelope: &Envelope<T>) -> String {
        let nonce: [u8; NONCE_LEN] = crate::crypto::random_bytes(NONCE_LEN)
            .try_into()
            .expect("nonce length");
        let mut buf = nonce.to_vec();
        serde_json::to_writer(&mut buf, envelope).expect("a ceremony serializes");
        let mut tail = buf.split_off(NONCE_LEN);
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad(kind).as_bytes()),
                &mut tail,
            )
            .expect("AES-GCM sealing cannot fail for small inputs");
        buf.extend_from_slice(&tail);
        B64.encode(buf)
    }

    /// The envelope, or `None` for anything this server did not seal for `kind`.
    pub fn open<T: DeserializeOwned>(&self, kind: &str, sealed: &str) -> Option<Envelope<T>> {
        if sealed.len() > MAX_SEALED_LEN {
            return None;
        }
        let raw = B64.decode(sealed).ok()?;
        if raw.len() < NONCE_LEN {
            return None;
        }
        let (nonce, rest) = raw.split_at(NONCE_LEN);
        let mut buf = rest.to_vec();
        let plain = self
            .key
            .open_in_place(
                Nonce::try_assume_unique_for_key(nonce).ok()?,
                Aad::from(aad(kind).as_bytes()),
                &mut buf,
            )
            .ok()?;
        serde_json::from_slice(plain).ok()
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
        let s = CeremonySealer::new([7; 32]);
        let sealed = s.seal("authentication", &envelope());
        assert_eq!(s.open("authentication", &sealed), Some(envelope()));
        assert_eq!(s.open::<String>("registration", &sealed), None);
        assert_eq!(
            CeremonySealer::new([8; 32]).open::<String>("authentication", &sealed),
            None,
            "another key"
        );
        // Two seals of the same envelope differ (fresh nonce).
        assert_ne!(sealed, s.seal("authentication", &envelope()));
    }

    #[test]
    fn refuses_tampered_truncated_and_oversized_input() {
        let s = CeremonySealer::new([7; 32]);
        let sealed = s.seal("authentication", &envelope());
        let mut raw = B64.decode(&sealed).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        assert_eq!(s.open::<String>("authentication", &B64.encode(&raw)), None);
        raw[last] ^= 1;
        raw[NONCE_LEN] ^= 1;
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
    use super::CeremonySealer;
    use proptest::prelude::*;

    proptest! {
        /// Nothing but what the sealer sealed opens: any other string, of any shape, is
        /// refused without a panic.
        #[test]
        fn only_sealed_text_opens(text in "[A-Za-z0-9_-]{0,300}|.{0,100}") {
            let s = CeremonySealer::new([9; 32]);
            prop_assert!(s.open::<serde_json::Value>("authentication", &text).is_none());
        }
    }
}
