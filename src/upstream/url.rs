//! The upstream URL: from what an admin types to the one endpoint we POST to.
//!
//! Rules (upstream-api.md §1.1, developers' guide):
//! - a bare host (`billing.example.com`, `host:1500`) means `https://host/billmgr`;
//! - a URL with a path is used as given (`/billmgr`, `/manager/billmgr`, …),
//!   only a trailing `/` is dropped;
//! - plain `http://` only for loopback hosts (127.0.0.0/8, ::1, localhost):
//!   anything else would send the password in clear over the network;
//! - no user:password@, query string or fragment: nothing secret may sit in a URL,
//!   and every parameter goes in the POST body.
//!
//! All of this is decided before any network access.

use std::net::IpAddr;

use reqwest::Url;

use super::error::UpstreamError;

/// The default entry point of the panel binary (upstream-api.md §1.1, [DOC S2, S3]).
pub const DEFAULT_PATH: &str = "/billmgr";

/// A checked, normalised upstream endpoint.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    url: Url,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Endpoint({})", self.url)
    }
}

impl Endpoint {
    /// Parse and check what the admin configured.
    pub fn parse(raw: &str) -> Result<Endpoint, UpstreamError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(UpstreamError::Config("the upstream URL is empty".into()));
        }
        let with_scheme = if raw.contains("://") {
            raw.to_string()
        } else {
            format!("https://{raw}")
        };
        let mut url = Url::parse(&with_scheme).map_err(|e| {
            UpstreamError::Config(format!(
                "the upstream URL is not a valid URL ({e}); expected e.g. https://billing.example.com/billmgr"
            ))
        })?;
        if !url.username().is_empty() || url.password().is_some() {
            // Do not echo the URL: it holds credentials.
            return Err(UpstreamError::Config(
                "the upstream URL must not contain user:password@; enter the username and password in their own fields".into(),
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(UpstreamError::Config(
                "the upstream URL must not contain a query string (?…) or fragment (#…); all parameters are sent in the POST body".into(),
            ));
        }
        let host = match url.host_str() {
            Some(h) if !h.is_empty() => h.to_string(),
            _ => {
                return Err(UpstreamError::Config(
                    "the upstream URL has no host name".into(),
                ))
            }
        };
        match url.scheme() {
            "https" => {}
            "http" => {
                if !is_loopback_host(&url) {
                    return Err(UpstreamError::Config(format!(
                        "plain http:// is allowed only for a loopback upstream (127.0.0.1, ::1, localhost); use https://{host}…"
                    )));
                }
            }
            other => {
                return Err(UpstreamError::Config(format!(
                    "unsupported URL scheme '{other}'; use https://"
                )))
            }
        }
        let path = url.path().trim_end_matches('/').to_string();
        if path.is_empty() {
            url.set_path(DEFAULT_PATH);
        } else {
            url.set_path(&path);
        }
        Ok(Endpoint { url })
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    /// `host[:port]` for messages and error objects (never secret).
    pub fn host_port(&self) -> String {
        let host = self.url.host_str().unwrap_or("?");
        match self.url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        }
    }

    pub fn is_loopback(&self) -> bool {
        is_loopback_host(&self.url)
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.url.as_str())
    }
}

/// 127.0.0.0/8, ::1 (also as an IPv4-mapped address) or the name `localhost`.
fn is_loopback_host(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => ip.is_loopback(),
        Ok(IpAddr::V6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => {
            let d = bare.trim_end_matches('.').to_ascii_lowercase();
            // Only the name itself: `x.localhost` may resolve anywhere.
            d == "localhost"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> String {
        Endpoint::parse(raw).unwrap().to_string()
    }

    fn config_err(raw: &str) -> String {
        match Endpoint::parse(raw) {
            Err(UpstreamError::Config(m)) => m,
            other => panic!("{raw}: expected Config error, got {other:?}"),
        }
    }

    #[test]
    fn bare_host_gets_billmgr() {
        assert_eq!(
            ok("billing.example.com"),
            "https://billing.example.com/billmgr"
        );
        assert_eq!(
            ok("https://billing.example.com"),
            "https://billing.example.com/billmgr"
        );
        assert_eq!(
            ok("https://billing.example.com/"),
            "https://billing.example.com/billmgr"
        );
        assert_eq!(ok("10.0.0.1:1500"), "https://10.0.0.1:1500/billmgr");
    }

    #[test]
    fn paths_kept() {
        assert_eq!(ok("https://h.example/billmgr"), "https://h.example/billmgr");
        assert_eq!(
            ok("https://api.ispsystem.com/manager/billmgr"),
            "https://api.ispsystem.com/manager/billmgr"
        );
        assert_eq!(
            ok(" https://h.example/billmgr/ "),
            "https://h.example/billmgr"
        );
    }

    #[test]
    fn http_only_for_loopback() {
        assert_eq!(ok("http://127.0.0.1:8080"), "http://127.0.0.1:8080/billmgr");
        assert_eq!(ok("http://127.1.2.3/billmgr"), "http://127.1.2.3/billmgr");
        assert_eq!(ok("http://[::1]:9/billmgr"), "http://[::1]:9/billmgr");
        assert_eq!(ok("http://localhost/billmgr"), "http://localhost/billmgr");
        assert_eq!(ok("http://LOCALHOST."), "http://localhost./billmgr");
        let m = config_err("http://billing.example.com/billmgr");
        assert!(m.contains("loopback"), "{m}");
        config_err("http://10.0.0.1/billmgr");
        config_err("http://[2001:db8::1]/billmgr");
        config_err("http://localhost.evil.example/billmgr");
        config_err("http://x.localhost/billmgr");
    }

    #[test]
    fn refuses_secrets_and_junk_in_url() {
        let m = config_err("https://user:hunter2@h.example/billmgr");
        assert!(!m.contains("hunter2"), "{m}");
        config_err("https://h.example/billmgr?authinfo=a:b");
        config_err("https://h.example/billmgr#x");
        config_err("ftp://h.example/");
        config_err("");
        config_err("   ");
        config_err("https://");
        config_err("https://exa mple.com/");
    }

    #[test]
    fn host_port() {
        let e = Endpoint::parse("https://h.example:1500/billmgr").unwrap();
        assert_eq!(e.host_port(), "h.example:1500");
        let e = Endpoint::parse("h.example").unwrap();
        assert_eq!(e.host_port(), "h.example");
        assert!(!e.is_loopback());
    }
}
