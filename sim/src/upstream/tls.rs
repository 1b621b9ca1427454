//! HTTPS for the listener (`--tls-dir DIR`): rustls with the ring provider, certificate from `certs`.

use super::certs::TlsMaterial;
// PEM decoding from rustls' own pki-types (re-exported by rustls), not the
// unmaintained rustls-pemfile crate (RUSTSEC-2025-0134), which is a thin
// wrapper over the same code.
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;

pub fn server_config(m: &TlsMaterial) -> Result<Arc<rustls::ServerConfig>, String> {
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(m.server_chain_pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("server certificate: {e}"))?;
    let key = PrivateKeyDer::from_pem_slice(m.server_key_pem.as_bytes()).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => "server key: no key in PEM".to_string(),
        e => format!("server key: {e}"),
    })?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS: {e}"))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| format!("TLS: {e}"))?;
    Ok(Arc::new(config))
}
