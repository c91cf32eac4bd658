//! Raw authenticator data (WebAuthn L3 §6.1) as Keyfort reads it for policy.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = keyfort_core::passkey::AuthenticatorDataSummary::parse(data) {
        assert!(data.len() >= 37);
        assert_eq!(s.aaguid.is_some(), data[32] & 0x40 != 0);
    }
});
