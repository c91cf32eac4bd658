//! `keyfort.toml`: any text is either a configuration or an error naming its setting.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = std::path::Path::new("keyfort.toml");
    match keyfort_server::config::Config::load_text(Some((path, text)), &|_| None) {
        Ok(c) => assert!(c.signin_log_retention_days >= 1),
        Err(e) => assert!(!e.setting.is_empty()),
    }
});
