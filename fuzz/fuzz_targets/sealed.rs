//! The opener of sealed sign-in ceremonies and waiting authorization requests: only what
//! the sealer sealed may open.
#![no_main]
use keyfort_server::sealed::Sealer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(sealer) = Sealer::from_key([7; 32]) else {
        return;
    };
    for kind in ["authentication", "authorize"] {
        assert!(sealer.open::<serde_json::Value>(kind, text).is_none());
    }
});
