//! `CryptKey`: BILLmanager's crypted values (module-protocol.md §9.2).
//!
//! `processingcryptedparam.value` and `itemcryptedparam.value` hold
//! base64(RSA PKCS#1 v1.5 encrypt(plaintext)) made with the private key in
//! `etc/billmgr.pem`. An empty value stays empty. This is the only place that
//! knows the scheme; error messages never carry the value itself.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::{Pkcs1v15Encrypt, RsaPrivateKey, RsaPublicKey};

use crate::paths::MgrRoot;
use crate::protocol::error::{ErrorKind, ModuleError, Result};

/// The private key from `etc/billmgr.pem`. Clone: the bulk sync reads it
/// once and lends a copy to each item's job (the key's memory is zeroed on
/// drop by `rsa`, copies included).
#[derive(Clone)]
pub struct CryptKey {
    key: RsaPrivateKey,
}

impl std::fmt::Debug for CryptKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CryptKey(***)")
    }
}

fn crypt_error(message: impl Into<String>) -> ModuleError {
    ModuleError::new(ErrorKind::Billing, message).with_object("billmgr.pem")
}

impl CryptKey {
    /// Read `etc/billmgr.pem` under the BILLmanager root.
    pub fn load(root: &MgrRoot) -> Result<CryptKey> {
        let path = root.crypt_key();
        let pem = std::fs::read_to_string(&path).map_err(|e| {
            crypt_error(format!(
                "cannot read BILLmanager's key {}: {e}; the module needs it to decrypt crypted settings",
                path.display()
            ))
        })?;
        CryptKey::from_pem(&pem)
            .map_err(|e| crypt_error(format!("{}: {}", path.display(), e.message)))
    }

    /// A key from PEM text: PKCS#1 (`BEGIN RSA PRIVATE KEY`) or PKCS#8
    /// (`BEGIN PRIVATE KEY`).
    pub fn from_pem(pem: &str) -> Result<CryptKey> {
        let key = RsaPrivateKey::from_pkcs1_pem(pem)
            .or_else(|_| RsaPrivateKey::from_pkcs8_pem(pem))
            .map_err(|_| crypt_error("not an RSA private key in PEM form (PKCS#1 or PKCS#8)"))?;
        Ok(CryptKey { key })
    }

    /// Decrypt a stored value. Whitespace inside the base64 is ignored (a
    /// value may have been stored with line breaks).
    pub fn decrypt(&self, b64: &str) -> Result<String> {
        let compact: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        if compact.is_empty() {
            return Ok(String::new());
        }
        let bytes = STANDARD
            .decode(compact.as_bytes())
            .map_err(|e| crypt_error(format!("crypted value is not valid base64 ({e})")))?;
        let plain = self.key.decrypt(Pkcs1v15Encrypt, &bytes).map_err(|_| {
            crypt_error(
                "cannot decrypt a crypted value with etc/billmgr.pem: the value was encrypted \
                 with another key, or is damaged",
            )
        })?;
        String::from_utf8(plain)
            .map_err(|_| crypt_error("a decrypted crypted value is not UTF-8 text"))
    }

    /// Encrypt a value the way BILLmanager stores it. Random padding: two
    /// encryptions of the same text differ.
    pub fn encrypt(&self, plain: &str) -> Result<String> {
        if plain.is_empty() {
            return Ok(String::new());
        }
        let public = RsaPublicKey::from(&self.key);
        let bytes = public
            .encrypt(&mut rsa::rand_core::OsRng, Pkcs1v15Encrypt, plain.as_bytes())
            .map_err(|_| {
                crypt_error(format!(
                    "cannot encrypt a value of {} bytes: PKCS#1 v1.5 with this key takes at most {} bytes",
                    plain.len(),
                    rsa::traits::PublicKeyParts::size(&public).saturating_sub(11)
                ))
            })?;
        Ok(STANDARD.encode(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEST_KEY: &str = include_str!("../../tests/fixtures/billmgr-test.pem");

    fn key() -> CryptKey {
        CryptKey::from_pem(TEST_KEY).unwrap()
    }

    #[test]
    fn round_trip() {
        let k = key();
        for plain in ["hunter2", "pässwörd с кириллицей", "a b=c\nd"] {
            let c = k.encrypt(plain).unwrap();
            assert_ne!(c, plain);
            assert_eq!(k.decrypt(&c).unwrap(), plain);
        }
    }

    #[test]
    fn padding_is_random() {
        let k = key();
        assert_ne!(k.encrypt("same").unwrap(), k.encrypt("same").unwrap());
    }

    #[test]
    fn empty_stays_empty() {
        let k = key();
        assert_eq!(k.encrypt("").unwrap(), "");
        assert_eq!(k.decrypt("").unwrap(), "");
        assert_eq!(k.decrypt(" \n").unwrap(), "");
    }

    #[test]
    fn base64_with_line_breaks() {
        let k = key();
        let c = k.encrypt("secret").unwrap();
        let wrapped = format!("{}\n{}", &c[..40], &c[40..]);
        assert_eq!(k.decrypt(&wrapped).unwrap(), "secret");
    }

    #[test]
    fn bad_base64_is_an_error() {
        let e = key().decrypt("***not base64***").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Billing);
        assert!(e.message.contains("base64"), "{}", e.message);
    }

    #[test]
    fn wrong_key_is_an_error_without_the_value() {
        let other = CryptKey {
            key: RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 1024).unwrap(),
        };
        let c = other.encrypt("topsecret").unwrap();
        let e = key().decrypt(&c).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Billing);
        assert!(e.message.contains("another key"), "{}", e.message);
        assert!(!e.to_string().contains("topsecret"));
        // Valid base64 of garbage that is not a ciphertext of this size.
        assert!(key().decrypt("AAAA").is_err());
    }

    #[test]
    fn bad_pem_is_an_error() {
        let e = CryptKey::from_pem(
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Billing);
        assert!(CryptKey::from_pem("").is_err());
    }

    #[test]
    fn missing_key_file_names_the_path() {
        let e = CryptKey::load(&MgrRoot::new("/nonexistent-root")).unwrap_err();
        assert!(
            e.message.contains("/nonexistent-root/etc/billmgr.pem"),
            "{}",
            e.message
        );
    }

    #[test]
    fn too_long_for_one_block() {
        let e = key().encrypt(&"x".repeat(300)).unwrap_err();
        assert!(e.message.contains("at most 245"), "{}", e.message);
    }

    #[test]
    fn pkcs8_key_is_accepted() {
        use rsa::pkcs8::EncodePrivateKey;
        let pem = key().key.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        let k8 = CryptKey::from_pem(&pem).unwrap();
        assert_eq!(k8.decrypt(&key().encrypt("x").unwrap()).unwrap(), "x");
    }

    #[test]
    fn debug_hides_the_key() {
        assert_eq!(format!("{:?}", key()), "CryptKey(***)");
    }
}
