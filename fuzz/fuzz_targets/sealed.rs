//! The opener of sealed sign-in ceremonies and waiting authorization requests: only what
//! the sealer sealed may open.
#![no_main]
use keyfort_server::passkeys::sealed::CeremonySealer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let sealer = CeremonySealer::new([7; 32]);
    for kind in ["authentication", "authorize"] {
        assert!(sealer.open::<serde_json::Value>(kind, text).is_none());
    }
});
