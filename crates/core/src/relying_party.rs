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
        })
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
