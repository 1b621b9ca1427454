//! The files a customer installs, made from the certificate as the upstream
//! gave it (`issued.rs`): `leaf.pem`, `chain.pem`, `fullchain.pem`,
//! `certificate.p7b`. Never the key (the hook's key file is written by the
//! hook run alone, on request). A file that cannot be made from what was
//! given is left out with why; nothing is overwritten.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::issued::{Issued, Shape};
use crate::protocol::error::{ErrorKind, ModuleError, Result};

pub const LEAF: &str = "leaf.pem";
pub const CHAIN: &str = "chain.pem";
pub const FULLCHAIN: &str = "fullchain.pem";
pub const P7B: &str = "certificate.p7b";

/// What was written, and what could not be made and why.
#[derive(Debug, Default)]
pub struct Written {
    pub files: Vec<(&'static str, PathBuf)>,
    pub missing: Vec<(&'static str, String)>,
}

impl Written {
    pub fn path(&self, name: &str) -> Option<&Path> {
        self.files
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| p.as_path())
    }
}

/// Write the files into `dir` (which exists), each new: an existing file is
/// an error, before anything is written.
pub fn write(dir: &Path, issued: &Issued, mode: u32) -> Result<Written> {
    let no_chain = match issued.shape {
        Shape::Pem => {
            "the upstream gave the leaf alone, no chain: ask the upstream (or the CA) \
                       for the intermediate certificate"
        }
        Shape::Zip => "the upstream's ZIP holds the leaf alone, no chain",
    };
    let mut plan: Vec<(&'static str, Vec<u8>)> = vec![(LEAF, issued.leaf_pem().into_bytes())];
    let mut out = Written::default();
    match (issued.chain_pem(), issued.fullchain_pem()) {
        (Some(chain), Some(full)) => {
            plan.push((CHAIN, chain.into_bytes()));
            plan.push((FULLCHAIN, full.into_bytes()));
        }
        _ => {
            out.missing.push((CHAIN, no_chain.to_string()));
            out.missing.push((FULLCHAIN, no_chain.to_string()));
        }
    }
    match issued.p7b() {
        Ok(p7b) => plan.push((P7B, p7b)),
        Err(e) => out.missing.push((P7B, e)),
    }
    for (name, _) in &plan {
        let path = dir.join(name);
        if path.symlink_metadata().is_ok() {
            return Err(ModuleError::new(
                ErrorKind::Config,
                format!(
                    "{} exists; nothing was written (choose an empty directory)",
                    path.display()
                ),
            ));
        }
    }
    for (name, data) in plan {
        let path = dir.join(name);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&path)
            .map_err(|e| write_error(&path, &e))?;
        f.write_all(&data).map_err(|e| write_error(&path, &e))?;
        out.files.push((name, path));
    }
    Ok(out)
}

pub fn write_error(path: &Path, e: &std::io::Error) -> ModuleError {
    ModuleError::new(
        ErrorKind::Config,
        format!(
            "cannot write {}: {e}{}",
            path.display(),
            crate::paths::write_hint(e)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_that_is_not_der_writes_no_p7b_and_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let issued = Issued {
            shape: Shape::Pem,
            leaf: b"junk".to_vec(),
            chain: Vec::new(),
            p7b: None,
        };
        let w = write(dir.path(), &issued, 0o600).unwrap();
        assert!(w.path(LEAF).is_some());
        assert!(w.path(P7B).is_none() && !dir.path().join(P7B).exists());
        let why = &w.missing.iter().find(|(n, _)| *n == P7B).unwrap().1;
        assert!(why.contains("PKCS#7"), "{why}");
    }
}
