//! The WebAuthn relying party, derived from the public URL.

use url::{Host, Url};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelyingParty {
    /// WebAuthn RP ID: the host of the public URL (WebAuthn L3 §5.1.2: a valid domain string).
    pub id: String,
    /// The only origin accepted in client data (scheme, host and port of the public URL).
    pub origin: Url,
    /// The public URL without a trailing slash, for building links.
    pub base: String,
    /// Whether cookies must carry `Secure` (everything but plain-HTTP localhost).
    pub secure_cookies: bool,
    /// Other origins allowed to use this RP ID (WebAuthn L3 §5.11, related origin
    /// requests), ASCII-serialized; served at `/.well-known/webauthn` and accepted in
    /// client data beside `origin`.
    pub related_origins: Vec<String>,
}

/// The most related origins Keyfort serves: browsers follow only a handful of
/// registrable domains from the list (WebAuthn L3 §5.11.1 asks them to support at least 5).
pub const MAX_RELATED_ORIGINS: usize = 50;

/// Why a related origin is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RelatedOriginError {
    #[error("related origin `{origin}`: {reason}")]
    Invalid {
        origin: String,
        reason: RelyingPartyError,
    },
    #[error("related origin `{0}` must be an origin only (scheme, host, port), without a path")]
    HasPath(String),
    #[error("related origin `{0}` is Keyfort's own origin")]
    OwnOrigin(String),
    #[error("{0} related origins; at most {MAX_RELATED_ORIGINS}")]
    TooMany(usize),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RelyingPartyError {
    #[error("`{0}` is not a URL")]
    Unparsable(String),
    #[error("the scheme must be https (or http for localhost), not `{0}`")]
    Scheme(String),
    #[error("the host `{0}` is an IP address, which cannot be a WebAuthn RP ID; use a domain name")]
    IpHost(String),
    #[error("the URL has no host")]
    NoHost,
    #[error("plain http is only allowed for localhost; `{0}` needs https")]
    InsecureHost(String),
    #[error("the public URL must not carry a query, fragment or credentials")]
    Extras,
}

fn is_localhost(host: &str) -> bool {
    host == "localhost" || host.ends_with(".localhost")
}

impl RelyingParty {
    pub fn from_public_url(raw: &str) -> Result<Self, RelyingPartyError> {
        let url = Url::parse(raw).map_err(|_| RelyingPartyError::Unparsable(raw.to_string()))?;
        if url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(RelyingPartyError::Extras);
        }
        let host = match url.host() {
            None => return Err(RelyingPartyError::NoHost),
            Some(Host::Ipv4(ip)) => return Err(RelyingPartyError::IpHost(ip.to_string())),
            Some(Host::Ipv6(ip)) => return Err(RelyingPartyError::IpHost(ip.to_string())),
            Some(Host::Domain(d)) => d.to_ascii_lowercase(),
        };
        if host.is_empty()
            || host.ends_with('.')
            || !host.contains(|c: char| c.is_ascii_alphabetic())
        {
            return Err(RelyingPartyError::NoHost);
        }
        let secure_cookies = match url.scheme() {
            "https" => true,
            "http" if is_localhost(&host) => false,
            "http" => return Err(RelyingPartyError::InsecureHost(host)),
            other => return Err(RelyingPartyError::Scheme(other.to_string())),
        };
        let mut origin = url.clone();
        origin.set_path("");
        let origin_str = origin.origin().ascii_serialization();
        let origin =
            Url::parse(&origin_str).map_err(|_| RelyingPartyError::Unparsable(raw.to_string()))?;
        let base = raw.trim_end_matches('/').to_string();
        Ok(RelyingParty {
            id: host,
            origin,
            base,
            secure_cookies,
            related_origins: Vec::new(),
        })
    }

    /// This relying party with `raw` as its related origins: each an https origin (http
    /// only for localhost) with a domain name and nothing after the port, not Keyfort's
    /// own, each once, at most [`MAX_RELATED_ORIGINS`].
    pub fn with_related_origins(mut self, raw: &[String]) -> Result<Self, RelatedOriginError> {
        let mut origins: Vec<String> = Vec::new();
        for r in raw.iter().map(|r| r.trim()).filter(|r| !r.is_empty()) {
            let other =
                RelyingParty::from_public_url(r).map_err(|reason| RelatedOriginError::Invalid {
                    origin: r.to_string(),
                    reason,
                })?;
            if !matches!(
                Url::parse(r).map(|u| u.path().to_string()).as_deref(),
                Ok("/" | "")
            ) {
                return Err(RelatedOriginError::HasPath(r.to_string()));
            }
            let origin = other.origin_str();
            if origin == self.origin_str() {
                return Err(RelatedOriginError::OwnOrigin(r.to_string()));
            }
            if !origins.contains(&origin) {
                origins.push(origin);
            }
        }
        if origins.len() > MAX_RELATED_ORIGINS {
            return Err(RelatedOriginError::TooMany(origins.len()));
        }
        self.related_origins = origins;
        Ok(self)
    }

    /// The origin as browsers send it in `Origin` headers and client data.
    pub fn origin_str(&self) -> String {
        self.origin.origin().ascii_serialization()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn related_origins() {
        let rp = RelyingParty::from_public_url("https://login.example.com").unwrap();
        let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let ok = rp
            .clone()
            .with_related_origins(&list(&[
                "https://Login.Example.co.uk/",
                " https://login.example.co.uk ",
                "https://app.example.net:8443",
                "",
            ]))
            .unwrap();
        assert_eq!(
            ok.related_origins,
            [
                "https://login.example.co.uk",
                "https://app.example.net:8443"
            ]
        );
        let refused = |v: &[&str]| rp.clone().with_related_origins(&list(v)).unwrap_err();
        assert!(matches!(
            refused(&["http://app.example.net"]),
            RelatedOriginError::Invalid {
                reason: RelyingPartyError::InsecureHost(_),
                ..
            }
        ));
        assert!(matches!(
            refused(&["https://app.example.net/login"]),
            RelatedOriginError::HasPath(_)
        ));
        assert!(matches!(
            refused(&["https://app.example.net/?x=1"]),
            RelatedOriginError::Invalid { .. }
        ));
        assert!(matches!(
            refused(&["https://login.example.com"]),
            RelatedOriginError::OwnOrigin(_)
        ));
        let many: Vec<String> = (0..=MAX_RELATED_ORIGINS)
            .map(|i| format!("https://a{i}.example.net"))
            .collect();
        assert_eq!(
            rp.clone().with_related_origins(&many).unwrap_err(),
            RelatedOriginError::TooMany(MAX_RELATED_ORIGINS + 1)
        );
    }

    #[test]
    fn localhost_over_http() {
        let rp = RelyingParty::from_public_url("http://localhost:8080").unwrap();
        assert_eq!(rp.id, "localhost");
        assert_eq!(rp.origin_str(), "http://localhost:8080");
        assert!(!rp.secure_cookies);
        assert_eq!(rp.base, "http://localhost:8080");
    }

    #[test]
    fn https_domain_with_path() {
        let rp = RelyingParty::from_public_url("https://Login.Example.com/idp/").unwrap();
        assert_eq!(rp.id, "login.example.com");
        assert_eq!(rp.origin_str(), "https://login.example.com");
        assert!(rp.secure_cookies);
        assert_eq!(rp.base, "https://Login.Example.com/idp");
    }

    #[test]
    fn refusals() {
        use RelyingPartyError::*;
        assert!(matches!(
            RelyingParty::from_public_url("not a url"),
            Err(Unparsable(_))
        ));
        assert!(matches!(
            RelyingParty::from_public_url("http://127.0.0.1:8080"),
            Err(IpHost(_))
        ));
        assert!(matches!(
            RelyingParty::from_public_url("https://[::1]/"),
            Err(IpHost(_))
        ));
        assert!(matches!(
            RelyingParty::from_public_url("http://example.com"),
            Err(InsecureHost(_))
        ));
        assert!(matches!(
            RelyingParty::from_public_url("ftp://example.com"),
            Err(Scheme(_))
        ));
        assert!(matches!(
            RelyingParty::from_public_url("https://example.com/?a=b"),
            Err(Extras)
        ));
        assert!(matches!(
            RelyingParty::from_public_url("https://u:p@example.com/"),
            Err(Extras)
        ));
    }
}
