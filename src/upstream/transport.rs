//! One HTTPS POST to the upstream, and the classification of everything that
//! can go wrong on the way (upstream-api.md §1.2, §7.1).
//!
//! The classes matter for money safety: "nothing was sent" (connect, TLS,
//! connect timeout) may be retried blindly; "sent, no usable answer" (timeout
//! after sending, dropped connection, HTTP error page, broken body) means the
//! request may have been applied. reqwest never retries a request that reached
//! the server, and we add no retries of our own.

use std::error::Error as StdError;
use std::io::Read;
use std::time::Instant;

use reqwest::blocking::Client as HttpClient;
use reqwest::header::{CONTENT_TYPE, LOCATION};

use super::error::UpstreamError;
use super::url::Endpoint;
use crate::config::UpstreamConfig;
use crate::secret::redact;

/// How much of an HTTP error page we read to describe it.
const ERROR_BODY_PEEK: u64 = 16 * 1024;
/// Longest error-chain detail kept in an error.
const MAX_DETAIL_CHARS: usize = 300;

/// Build the HTTP client: timeouts from the config (the total deadline is set
/// per request in [`post`]), TLS verification always on,
/// extra roots from `ca_file`, no redirects (a redirect would turn the POST into
/// a GET and hide a wrong URL), no proxy for a loopback upstream, and no idle
/// connection reuse: a request written into a keep-alive connection the server
/// has just closed fails as "closed before the answer", which we would have to
/// report as "outcome unknown". A fresh connection per call (a handful per
/// process) costs little and removes that false alarm.
pub fn http_client(endpoint: &Endpoint, cfg: &UpstreamConfig) -> Result<HttpClient, UpstreamError> {
    let mut b = HttpClient::builder()
        .connect_timeout(cfg.connect_timeout())
        .timeout(cfg.timeout())
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .user_agent(concat!("pmsslreseller/", env!("CARGO_PKG_VERSION")))
        .tls_built_in_root_certs(true)
        .https_only(!endpoint.is_loopback());
    if endpoint.is_loopback() {
        b = b.no_proxy();
    }
    if let Some(path) = &cfg.ca_file {
        let pem = std::fs::read(path).map_err(|e| {
            UpstreamError::Config(format!("cannot read ca_file {}: {e}", path.display()))
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            UpstreamError::Config(format!(
                "ca_file {} is not a PEM certificate file: {}",
                path.display(),
                error_chain(&e)
            ))
        })?;
        if certs.is_empty() {
            return Err(UpstreamError::Config(format!(
                "ca_file {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            )));
        }
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    b.build().map_err(|e| {
        UpstreamError::Config(format!(
            "cannot set up the HTTPS client: {}",
            error_chain(&e)
        ))
    })
}

/// Every message in an error's source chain, joined, deduplicated, shortened.
pub fn error_chain(e: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        let s = err.to_string();
        if !s.is_empty() && !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = err.source();
    }
    let joined = parts.join(": ");
    let mut short: String = joined.chars().take(MAX_DETAIL_CHARS).collect();
    if joined.chars().count() > MAX_DETAIL_CHARS {
        short.push('…');
    }
    redact(&short)
}

/// What an admin should do about a TLS failure with this detail. webpki
/// refuses a certificate marked CA:TRUE as a server certificate even when it is
/// the trust anchor from `ca_file`, and that is what the usual self-signed
/// recipe (`openssl req -x509`) makes; the bare "CaUsedAsEndEntity" says
/// nothing to an admin.
pub fn tls_advice(detail: &str) -> &'static str {
    if detail.contains("CaUsedAsEndEntity") {
        "the upstream presents a CA certificate (basicConstraints CA:TRUE, what `openssl req -x509` \
         makes by default) as its server certificate, which TLS verification refuses even when it \
         is in ca_file. Give the upstream a server certificate: re-make the self-signed one with \
         `-addext basicConstraints=critical,CA:FALSE` (and a subjectAltName with its host name) and \
         put that in ca_file, or sign a server certificate with a private CA and put the CA in ca_file"
    } else {
        "the upstream certificate must be valid for its host name; for a private CA set ca_file in \
         [upstream] of etc/pmsslreseller.toml"
    }
}

/// Is there a rustls error (handshake, certificate verification) in the chain?
/// rustls errors travel inside `std::io::Error` (tokio-rustls), sometimes an
/// io::Error inside another io::Error (the connector), and `io::Error::source()`
/// skips the wrapped error, so every io::Error is opened with `get_ref()`.
pub fn is_tls_error(e: &(dyn StdError + 'static)) -> bool {
    fn walk(e: &(dyn StdError + 'static), depth: usize) -> bool {
        if depth > 16 {
            return false;
        }
        if e.is::<rustls::Error>() {
            return true;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(inner) = io.get_ref() {
                if walk(inner, depth + 1) {
                    return true;
                }
            }
        }
        match e.source() {
            Some(next) => walk(next, depth + 1),
            None => false,
        }
    }
    walk(e, 0)
}

/// Is there an `io::ErrorKind::TimedOut` in the chain?
fn is_io_timeout(e: &(dyn StdError + 'static)) -> bool {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::TimedOut {
                return true;
            }
            if let Some(inner) = io
                .get_ref()
                .and_then(|i| i.downcast_ref::<reqwest::Error>())
            {
                if inner.is_timeout() {
                    return true;
                }
            }
        }
        if err
            .downcast_ref::<reqwest::Error>()
            .is_some_and(|r| r.is_timeout())
        {
            return true;
        }
        cur = err.source();
    }
    false
}

/// Classify an error of `send()`: before any response headers arrived.
fn classify_send_error(endpoint: &Endpoint, func: &str, e: &reqwest::Error) -> UpstreamError {
    let detail = error_chain(e);
    let host = endpoint.host_port();
    if e.is_builder() {
        return UpstreamError::Config(format!("cannot build the request: {detail}"));
    }
    if e.is_connect() {
        // The connector (TCP, then TLS) failed: the request was never written.
        if is_tls_error(e) {
            return UpstreamError::Tls {
                detail: format!("{host}: {detail}"),
            };
        }
        if e.is_timeout() || is_io_timeout(e) {
            return UpstreamError::Timeout {
                func: func.to_string(),
                sent: false,
            };
        }
        return UpstreamError::Connect {
            detail: format!("{host}: {detail}"),
        };
    }
    if is_tls_error(e) {
        // A TLS alert after the handshake: the request may have been written.
        return UpstreamError::Dropped {
            func: func.to_string(),
            detail,
        };
    }
    if e.is_timeout() || is_io_timeout(e) {
        return UpstreamError::Timeout {
            func: func.to_string(),
            sent: true,
        };
    }
    // Reset, closed before the answer, incomplete message: we cannot tell how
    // far the server got.
    UpstreamError::Dropped {
        func: func.to_string(),
        detail,
    }
}

/// Classify an error while reading the body. The server did answer, so the
/// request was processed; the answer was cut off (e.g. fewer bytes than its
/// Content-Length promised): a truncated answer, outcome unknown.
fn classify_read_error(func: &str, e: &std::io::Error, got: usize) -> UpstreamError {
    if is_io_timeout(e) {
        return UpstreamError::Timeout {
            func: func.to_string(),
            sent: true,
        };
    }
    UpstreamError::malformed(
        func,
        format!(
            "answer truncated after {got} bytes ({}): outcome unknown",
            error_chain(e)
        ),
    )
}

/// Read at most `limit` bytes; more → TooLarge.
fn read_capped(
    func: &str,
    resp: &mut reqwest::blocking::Response,
    limit: u64,
) -> Result<Vec<u8>, UpstreamError> {
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(UpstreamError::TooLarge {
            func: func.to_string(),
            limit,
        });
    }
    let mut body = Vec::new();
    resp.by_ref()
        .take(limit.saturating_add(1))
        .read_to_end(&mut body)
        .map_err(|e| classify_read_error(func, &e, body.len()))?;
    if body.len() as u64 > limit {
        return Err(UpstreamError::TooLarge {
            func: func.to_string(),
            limit,
        });
    }
    Ok(body)
}

/// POST the form to the endpoint; the raw body of a 2xx answer.
/// `form` is already url-encoded and holds the credentials: it is never logged.
pub fn post(
    http: &HttpClient,
    endpoint: &Endpoint,
    cfg: &UpstreamConfig,
    func: &str,
    form: String,
) -> Result<Vec<u8>, UpstreamError> {
    let started = Instant::now();
    // The per-request timeout is reqwest's *total* deadline (connect, headers
    // and body together). The client-wide `.timeout()` of the blocking client
    // restarts at every body read, so an upstream trickling one byte a second
    // would hold us (and the item lock) for ever; this one does not.
    let sent = http
        .post(endpoint.url().clone())
        .timeout(cfg.timeout())
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form)
        .send();
    let mut resp = match sent {
        Ok(r) => r,
        Err(e) => return Err(classify_send_error(endpoint, func, &e.without_url())),
    };
    let status = resp.status();
    log::trace!(
        "upstream {func}: HTTP {} after {} ms",
        status.as_u16(),
        started.elapsed().as_millis()
    );
    if status.is_redirection() {
        let to = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(|l| format!("redirect to {l}: set the module URL to the final address"))
            .unwrap_or_else(|| "redirect without a Location".to_string());
        return Err(UpstreamError::HttpStatus {
            func: func.to_string(),
            status: status.as_u16(),
            first_line: redact(&to),
        });
    }
    if !status.is_success() {
        let mut peek = Vec::new();
        // Best effort: the status is the news, the page only a hint.
        let _ = resp.by_ref().take(ERROR_BODY_PEEK).read_to_end(&mut peek);
        return Err(UpstreamError::HttpStatus {
            func: func.to_string(),
            status: status.as_u16(),
            first_line: super::parse::first_line(&peek),
        });
    }
    read_capped(func, &mut resp, cfg.max_response_bytes)
}
