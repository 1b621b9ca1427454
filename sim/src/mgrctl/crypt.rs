//! Crypted values as BILLmanager stores them: base64(RSA PKCS#1 v1.5) with
//! `$MGR5_ROOT/etc/billmgr.pem` (module-protocol.md §9.2). Kept apart from
//! the module's own implementation on purpose: the stand-in plays
//! BILLmanager, so the module's decryption is tested against another writer.

use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::{Pkcs1v15Encrypt, RsaPrivateKey, RsaPublicKey};

use super::SimError;

pub struct Key(RsaPrivateKey);

impl Key {
    pub fn load(root: &Path) -> Result<Key, SimError> {
        let path = root.join("etc").join("billmgr.pem");
        let pem = std::fs::read_to_string(&path).map_err(|e| {
            SimError::new(
                "config",
                "billmgr.pem",
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        RsaPrivateKey::from_pkcs1_pem(&pem)
            .or_else(|_| RsaPrivateKey::from_pkcs8_pem(&pem))
            .map(Key)
            .map_err(|_| SimError::new("config", "billmgr.pem", "not an RSA private key"))
    }

    pub fn encrypt(&self, plain: &str) -> Result<String, SimError> {
        if plain.is_empty() {
            return Ok(String::new());
        }
        RsaPublicKey::from(&self.0)
            .encrypt(
                &mut rsa::rand_core::OsRng,
                Pkcs1v15Encrypt,
                plain.as_bytes(),
            )
            .map(|b| STANDARD.encode(b))
            .map_err(|_| SimError::new("value", "crypted", "value too long to encrypt"))
    }

    pub fn decrypt(&self, b64: &str) -> Result<String, SimError> {
        if b64.trim().is_empty() {
            return Ok(String::new());
        }
        let bytes = STANDARD
            .decode(b64.trim())
            .map_err(|_| SimError::new("value", "crypted", "stored value is not base64"))?;
        let plain = self
            .0
            .decrypt(Pkcs1v15Encrypt, &bytes)
            .map_err(|_| SimError::new("value", "crypted", "stored value does not decrypt"))?;
        String::from_utf8(plain)
            .map_err(|_| SimError::new("value", "crypted", "stored value is not UTF-8"))
    }
}
