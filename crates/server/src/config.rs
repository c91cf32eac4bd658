//! Configuration: an optional `keyfort.toml`, overridden by `KEYFORT_*` variables.
//! Every problem names the setting it is about, so start-up fails with one clear line.

use keyfort_core::relying_party::RelyingParty;
use keyfort_core::session::SessionLimits;
use keyfort_core::time::MINUTE_MS;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    public_url: Option<String>,
    data_dir: Option<String>,
    database_url: Option<String>,
    session_lifetime_minutes: Option<i64>,
    session_idle_minutes: Option<i64>,
    signout_revokes_tokens: Option<bool>,
    signin_log_retention_days: Option<i64>,
    trusted_proxies: Option<Vec<String>>,
    throttle_pass_per_ip_per_minute: Option<u32>,
    throttle_signin_per_ip_per_minute: Option<u32>,
    throttle_registrations_per_session_per_hour: Option<u32>,
    attestation_ca_file: Option<String>,
    metadata_blob: Option<String>,
    metadata_refresh_hours: Option<i64>,
    metadata_refuse_reported: Option<bool>,
    related_origins: Option<Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub public_url: String,
    pub rp: RelyingParty,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub session: SessionLimits,
    /// `KEYFORT_MASTER_KEY`: encrypts signing keys at rest (else `master.key` in the data directory).
    pub master_key: Option<String>,
    /// Whether signing out also revokes the refresh and access tokens issued in that session.
    pub signout_revokes_tokens: bool,
    /// `KEYFORT_MAINTENANCE_INTERVAL_SECONDS`: purge of expired state and re-reading of signing keys.
    pub maintenance_interval_secs: u64,
    /// `KEYFORT_SIGNIN_LOG_RETENTION_DAYS`: sign-in log rows older than this are purged.
    pub signin_log_retention_days: i64,
    /// Per-address, per-session limits and the proxies whose `X-Forwarded-For` counts.
    pub throttle: crate::throttle::ThrottleConfig,
    /// `KEYFORT_ATTESTATION_CA_FILE`: PEM CA certificates a passkey's attestation may
    /// chain to (read at start-up).
    pub attestation_ca_file: Option<PathBuf>,
    /// `KEYFORT_METADATA_BLOB`: a file or `https://` URL of the FIDO metadata BLOB.
    pub metadata_blob: Option<String>,
    /// `KEYFORT_METADATA_REFRESH_HOURS`: how often the BLOB is fetched again.
    pub metadata_refresh_hours: u64,
    /// `KEYFORT_METADATA_REFUSE_REPORTED`: a passkey whose model FIDO metadata reports
    /// revoked or compromised is refused at sign-in (otherwise flagged and audited only).
    pub metadata_refuse_reported: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("{setting}: {message}")]
pub struct ConfigError {
    pub setting: &'static str,
    pub message: String,
}

fn err(setting: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        setting,
        message: message.into(),
    }
}

/// A whole number from the environment (first) or the file, within `range`.
fn number(
    name: &'static str,
    env: Option<String>,
    file: Option<i64>,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, ConfigError> {
    let n = match env {
        Some(s) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| err(name, format!("`{s}` is not a whole number")))?,
        None => file.unwrap_or(default),
    };
    if !range.contains(&n) {
        return Err(err(
            name,
            format!("{n} is outside {}..={}", range.start(), range.end()),
        ));
    }
    Ok(n)
}

/// A true/false setting from the environment (first) or the file.
fn switch(
    name: &'static str,
    env: Option<String>,
    file: Option<bool>,
    default: bool,
) -> Result<bool, ConfigError> {
    match env.as_deref() {
        None => Ok(file.unwrap_or(default)),
        Some("true" | "1" | "yes") => Ok(true),
        Some("false" | "0" | "no") => Ok(false),
        Some(other) => Err(err(name, format!("`{other}` is not true or false"))),
    }
}

/// Where configuration values come from: a file and an environment lookup
/// (a parameter, so tests need not touch the process environment).
pub struct Sources<'a> {
    pub file: Option<&'a Path>,
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

impl Config {
    /// Loads `keyfort.toml` (from `KEYFORT_CONFIG`, or the working directory if present) and the environment.
    pub fn from_process_env() -> Result<Config, ConfigError> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let explicit = env("KEYFORT_CONFIG").map(PathBuf::from);
        let default = PathBuf::from("keyfort.toml");
        let file = match &explicit {
            Some(p) => Some(p.as_path()),
            None if default.exists() => Some(default.as_path()),
            None => None,
        };
        Config::load(Sources { file, env: &env })
    }

    pub fn load(src: Sources<'_>) -> Result<Config, ConfigError> {
        let text = match src.file {
            Some(path) => Some((
                path,
                std::fs::read_to_string(path).map_err(|e| {
                    err(
                        "KEYFORT_CONFIG",
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?,
            )),
            None => None,
        };
        Config::load_text(text.as_ref().map(|(p, t)| (*p, t.as_str())), src.env)
    }

    /// [`Config::load`] from the file's text (named `path` in errors) and the environment.
    pub fn load_text(
        file: Option<(&Path, &str)>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let file: FileConfig = match file {
            Some((path, text)) => toml::from_str(text).map_err(|e| {
                err(
                    "KEYFORT_CONFIG",
                    format!("{} is not valid: {}", path.display(), e.message()),
                )
            })?,
            None => FileConfig::default(),
        };
        let listen_raw = env("KEYFORT_LISTEN")
            .or(file.listen)
            .unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen: SocketAddr = listen_raw.parse().map_err(|_| {
            err(
                "KEYFORT_LISTEN",
                format!("`{listen_raw}` is not an address:port such as 127.0.0.1:8080"),
            )
        })?;
        let public_url = env("KEYFORT_PUBLIC_URL")
            .or(file.public_url)
            .unwrap_or_else(|| "http://localhost:8080".into());
        let rp = RelyingParty::from_public_url(&public_url)
            .map_err(|e| err("KEYFORT_PUBLIC_URL", e.to_string()))?;
        // Comma- or space-separated in the environment, a list in the file.
        let related: Vec<String> = match env("KEYFORT_RELATED_ORIGINS") {
            Some(v) => v
                .split(|c: char| c == ',' || c.is_whitespace())
                .map(str::to_string)
                .collect(),
            None => file.related_origins.unwrap_or_default(),
        };
        let rp = rp
            .with_related_origins(&related)
            .map_err(|e| err("KEYFORT_RELATED_ORIGINS", e.to_string()))?;
        let data_dir = PathBuf::from(
            env("KEYFORT_DATA_DIR")
                .or(file.data_dir)
                .unwrap_or_else(|| "./keyfort-data".into()),
        );
        let database_url = match env("KEYFORT_DATABASE_URL").or(file.database_url) {
            Some(url) => {
                if keyfort_store::Backend::from_url(&url).is_none() {
                    return Err(err(
                        "KEYFORT_DATABASE_URL",
                        "must start with sqlite: or postgres://",
                    ));
                }
                url
            }
            None => format!(
                "sqlite://{}?mode=rwc",
                data_dir.join("keyfort.db").display()
            ),
        };
        let minutes = |name: &'static str,
                       v: Option<String>,
                       f: Option<i64>,
                       default: i64|
         -> Result<i64, ConfigError> {
            let m = match v {
                Some(s) => s
                    .parse::<i64>()
                    .map_err(|_| err(name, format!("`{s}` is not a number of minutes")))?,
                None => f.unwrap_or(default),
            };
            if !(1..=43_200).contains(&m) {
                return Err(err(name, format!("{m} is outside 1..=43200 minutes")));
            }
            Ok(m)
        };
        let lifetime = minutes(
            "KEYFORT_SESSION_LIFETIME_MINUTES",
            env("KEYFORT_SESSION_LIFETIME_MINUTES"),
            file.session_lifetime_minutes,
            480,
        )?;
        let idle = minutes(
            "KEYFORT_SESSION_IDLE_MINUTES",
            env("KEYFORT_SESSION_IDLE_MINUTES"),
            file.session_idle_minutes,
            60,
        )?;
        let signout_revokes_tokens = switch(
            "KEYFORT_SIGNOUT_REVOKES_TOKENS",
            env("KEYFORT_SIGNOUT_REVOKES_TOKENS"),
            file.signout_revokes_tokens,
            true,
        )?;
        let maintenance_interval_secs = match env("KEYFORT_MAINTENANCE_INTERVAL_SECONDS") {
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=3600).contains(n))
                .ok_or_else(|| {
                    err(
                        "KEYFORT_MAINTENANCE_INTERVAL_SECONDS",
                        format!("`{v}` is not 1..=3600 seconds"),
                    )
                })?,
            None => 60,
        };
        let signin_log_retention_days = number(
            "KEYFORT_SIGNIN_LOG_RETENTION_DAYS",
            env("KEYFORT_SIGNIN_LOG_RETENTION_DAYS"),
            file.signin_log_retention_days,
            90,
            1..=3650,
        )?;
        let defaults = crate::throttle::ThrottleConfig::default();
        let limit = |name: &'static str, f: Option<u32>, default: u32| {
            number(
                name,
                env(name),
                f.map(i64::from),
                i64::from(default),
                0..=1_000_000,
            )
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
        };
        let proxies: Vec<String> = match env("KEYFORT_TRUSTED_PROXIES") {
            Some(v) => v
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            None => file.trusted_proxies.unwrap_or_default(),
        };
        let trusted_proxies = proxies
            .iter()
            .map(|p| {
                p.parse::<ipnet::IpNet>()
                    .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        err(
                            "KEYFORT_TRUSTED_PROXIES",
                            format!("`{p}` is not an IP address or CIDR range"),
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let throttle = crate::throttle::ThrottleConfig {
            pass_per_ip_per_minute: limit(
                "KEYFORT_THROTTLE_PASS_PER_IP_PER_MINUTE",
                file.throttle_pass_per_ip_per_minute,
                defaults.pass_per_ip_per_minute,
            )?,
            signin_per_ip_per_minute: limit(
                "KEYFORT_THROTTLE_SIGNIN_PER_IP_PER_MINUTE",
                file.throttle_signin_per_ip_per_minute,
                defaults.signin_per_ip_per_minute,
            )?,
            registrations_per_session_per_hour: limit(
                "KEYFORT_THROTTLE_REGISTRATIONS_PER_SESSION_PER_HOUR",
                file.throttle_registrations_per_session_per_hour,
                defaults.registrations_per_session_per_hour,
            )?,
            trusted_proxies,
        };
        let attestation_ca_file = env("KEYFORT_ATTESTATION_CA_FILE")
            .or(file.attestation_ca_file)
            .map(PathBuf::from);
        let metadata_blob = env("KEYFORT_METADATA_BLOB").or(file.metadata_blob);
        if let Some(b) = &metadata_blob {
            crate::app::metadata::source_allowed(b)
                .map_err(|why| err("KEYFORT_METADATA_BLOB", why))?;
        }
        let metadata_refresh_hours = number(
            "KEYFORT_METADATA_REFRESH_HOURS",
            env("KEYFORT_METADATA_REFRESH_HOURS"),
            file.metadata_refresh_hours,
            24,
            1..=168,
        )?;
        let metadata_refuse_reported = switch(
            "KEYFORT_METADATA_REFUSE_REPORTED",
            env("KEYFORT_METADATA_REFUSE_REPORTED"),
            file.metadata_refuse_reported,
            true,
        )?;
        Ok(Config {
            metadata_refuse_reported,
            metadata_blob,
            metadata_refresh_hours: u64::try_from(metadata_refresh_hours).unwrap_or(24),
            attestation_ca_file,
            signin_log_retention_days,
            throttle,
            maintenance_interval_secs,
            master_key: env("KEYFORT_MASTER_KEY"),
            signout_revokes_tokens,
            listen,
            public_url,
            rp,
            data_dir,
            database_url,
            session: SessionLimits {
                lifetime_ms: lifetime * MINUTE_MS,
                idle_ms: idle * MINUTE_MS,
            },
        })
    }

    /// Creates the data directory when the embedded store lives in it.
    pub fn prepare_data_dir(&self) -> Result<(), ConfigError> {
        if self.database_url.starts_with("sqlite:") {
            std::fs::create_dir_all(&self.data_dir).map_err(|e| {
                err(
                    "KEYFORT_DATA_DIR",
                    format!("cannot create {}: {e}", self.data_dir.display()),
                )
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(vars: &[(&str, &str)], file: Option<&Path>) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let env = move |k: &str| map.get(k).cloned();
        Config::load(Sources { file, env: &env })
    }

    #[test]
    fn defaults() {
        let c = load(&[], None).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.rp.id, "localhost");
        assert!(
            c.database_url
                .starts_with("sqlite://./keyfort-data/keyfort.db")
        );
        assert_eq!(c.session.lifetime_ms, 480 * MINUTE_MS);
    }

    #[test]
    fn throttling_and_retention_settings() {
        let c = load(&[], None).unwrap();
        assert_eq!(c.throttle, crate::throttle::ThrottleConfig::default());
        assert_eq!(c.signin_log_retention_days, 90);
        let c = load(
            &[
                ("KEYFORT_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7"),
                ("KEYFORT_THROTTLE_PASS_PER_IP_PER_MINUTE", "0"),
                ("KEYFORT_SIGNIN_LOG_RETENTION_DAYS", "7"),
            ],
            None,
        )
        .unwrap();
        assert_eq!(c.throttle.trusted_proxies.len(), 2);
        assert_eq!(c.throttle.pass_per_ip_per_minute, 0);
        assert_eq!(c.signin_log_retention_days, 7);
    }

    #[test]
    fn related_origins() {
        let c = load(
            &[(
                "KEYFORT_RELATED_ORIGINS",
                "https://login.example.co.uk, https://apps.example.net",
            )],
            None,
        )
        .unwrap();
        assert_eq!(
            c.rp.related_origins,
            ["https://login.example.co.uk", "https://apps.example.net"]
        );
        let e = load(
            &[("KEYFORT_RELATED_ORIGINS", "http://apps.example.net")],
            None,
        )
        .unwrap_err();
        assert_eq!(e.setting, "KEYFORT_RELATED_ORIGINS");
        assert!(e.message.contains("apps.example.net"), "{e}");
        assert!(load(&[], None).unwrap().rp.related_origins.is_empty());
    }

    #[test]
    fn environment_overrides_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyfort.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\npublic_url = \"https://id.example.com\"\n",
        )
        .unwrap();
        let c = load(&[("KEYFORT_LISTEN", "127.0.0.1:9100")], Some(&path)).unwrap();
        assert_eq!(c.listen.port(), 9100);
        assert_eq!(c.rp.id, "id.example.com");
    }

    #[test]
    fn errors_name_the_setting() {
        assert_eq!(
            load(&[("KEYFORT_PUBLIC_URL", "http://10.0.0.1")], None)
                .unwrap_err()
                .setting,
            "KEYFORT_PUBLIC_URL"
        );
        assert_eq!(
            load(&[("KEYFORT_PUBLIC_URL", "::nope")], None)
                .unwrap_err()
                .setting,
            "KEYFORT_PUBLIC_URL"
        );
        assert_eq!(
            load(&[("KEYFORT_LISTEN", "everywhere")], None)
                .unwrap_err()
                .setting,
            "KEYFORT_LISTEN"
        );
        assert_eq!(
            load(&[("KEYFORT_DATABASE_URL", "mysql://x")], None)
                .unwrap_err()
                .setting,
            "KEYFORT_DATABASE_URL"
        );
        assert_eq!(
            load(&[("KEYFORT_SESSION_IDLE_MINUTES", "0")], None)
                .unwrap_err()
                .setting,
            "KEYFORT_SESSION_IDLE_MINUTES"
        );
        for (name, value) in [
            ("KEYFORT_TRUSTED_PROXIES", "10.0.0.0/8, not-an-ip"),
            ("KEYFORT_THROTTLE_PASS_PER_IP_PER_MINUTE", "-1"),
            ("KEYFORT_THROTTLE_SIGNIN_PER_IP_PER_MINUTE", "lots"),
            ("KEYFORT_SIGNIN_LOG_RETENTION_DAYS", "0"),
        ] {
            assert_eq!(load(&[(name, value)], None).unwrap_err().setting, name);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyfort.toml");
        std::fs::write(&path, "lisen = 1").unwrap();
        assert_eq!(
            load(&[], Some(&path)).unwrap_err().setting,
            "KEYFORT_CONFIG"
        );
    }
}
