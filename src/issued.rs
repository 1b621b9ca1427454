//! The issued certificate as the upstream gives it, in either shape a
//! BILLmanager certificate module saves (field-2026-12.md §8,
//! upstream-api.md §3.6): PEM text (the leaf, then whatever chain the CA
//! gave), or a base64 ZIP (`crt_type=zip`: a `.p7b` and one PEM `.crt` per
//! certificate) when the CA gives PKCS#7.
//!
//! The module saves the text exactly as given ([`crt_type`] says how) and
//! never adds a certificate the upstream did not give; this file only reads
//! it: which certificate is the leaf, which form the chain, and the files a
//! customer installs ([`Issued::leaf_pem`] …). Reading is bounded: a ZIP
//! with too many entries or an entry too large is refused, never unpacked
//! into memory; nothing here panics on hostile input. The DER is RustCrypto's
//! (`x509-cert` through [`crate::x509`], `cms` and `der` for the PKCS#7
//! bundle, see `CertBundle`); PEM blocks are split here, decoded by
//! `base64`.

use std::io::Read;

use base64::Engine;

use crate::x509::{self, CertFacts};

/// How the upstream gave the certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// PEM text: the leaf first, then the chain as given.
    Pem,
    /// A base64 ZIP (`crt_type=zip`).
    Zip,
}

/// Entries a certificate ZIP may hold: a `.p7b` and a few `.crt` files.
pub const MAX_ZIP_ENTRIES: usize = 16;
/// Bytes one entry may unpack to: a certificate is a few KiB.
pub const MAX_ENTRY_BYTES: u64 = 256 * 1024;
/// Certificates one issued text may carry.
pub const MAX_CERTS: usize = 16;

/// The issued certificate, read.
#[derive(Clone, PartialEq, Eq)]
pub struct Issued {
    pub shape: Shape,
    /// The leaf's DER.
    pub leaf: Vec<u8>,
    /// The chain's DER, in the order given (PEM) or issuer after issued (ZIP).
    pub chain: Vec<Vec<u8>>,
    /// The PKCS#7 file as given in a ZIP (DER or PEM text, as it was).
    pub p7b: Option<Vec<u8>>,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("shape", &self.shape)
            .field("chain", &self.chain.len())
            .field("p7b", &self.p7b.as_ref().map(Vec::len))
            .finish()
    }
}

/// The `crt_type` that `certificate.save` needs for `text`: `zip` for a
/// base64 ZIP, none for PEM (field-2026-12.md §8).
pub fn crt_type(text: &str) -> Option<&'static str> {
    zip_bytes(text).map(|_| "zip")
}

/// Do the stored certificate and the upstream's hold the same thing? The
/// same text (whitespace aside), or the same certificates in the same
/// shape (a store that re-wrapped the lines).
pub fn same(local: Option<&str>, upstream: &str) -> bool {
    let Some(local) = local else { return false };
    let norm = |s: &str| -> String { s.split_whitespace().collect() };
    if norm(local) == norm(upstream) {
        return true;
    }
    matches!((parse(local), parse(upstream)), (Ok(a), Ok(b)) if a == b)
}

/// The leaf's facts (serial, validity), in either shape.
pub fn leaf_facts(text: &str) -> Result<CertFacts, String> {
    x509::facts_der(&parse(text)?.leaf)
}

/// Read the issued text, or say why it cannot be read.
pub fn parse(text: &str) -> Result<Issued, String> {
    if let Some(bytes) = zip_bytes(text) {
        return parse_zip(&bytes);
    }
    let certs = pem_certs(text)?;
    let mut certs = certs.into_iter();
    let leaf = certs.next().ok_or("no PEM CERTIFICATE block")?;
    Ok(Issued {
        shape: Shape::Pem,
        leaf,
        chain: certs.collect(),
        p7b: None,
    })
}

impl Issued {
    pub fn leaf_pem(&self) -> String {
        pem("CERTIFICATE", &self.leaf)
    }

    /// The chain as given; `None` when the upstream gave none.
    pub fn chain_pem(&self) -> Option<String> {
        (!self.chain.is_empty()).then(|| self.chain.iter().map(|d| pem("CERTIFICATE", d)).collect())
    }

    /// Leaf then chain; `None` without a chain (it would be the leaf alone).
    pub fn fullchain_pem(&self) -> Option<String> {
        self.chain_pem().map(|c| format!("{}{c}", self.leaf_pem()))
    }

    /// The PKCS#7 file: as given in a ZIP, else the given certificates in a
    /// certificates-only PKCS#7 (what `openssl crl2pkcs7 -nocrl` makes):
    /// a container of what was given, nothing added. An error when a given
    /// certificate is not one DER element (nothing to put in the container).
    pub fn p7b(&self) -> Result<Vec<u8>, String> {
        match &self.p7b {
            Some(given) => Ok(given.clone()),
            None => {
                let mut all = vec![self.leaf.clone()];
                all.extend(self.chain.iter().cloned());
                certs_only_p7b(&all)
            }
        }
    }
}

/// The bytes of a base64 ZIP, when `text` is one.
fn zip_bytes(text: &str) -> Option<Vec<u8>> {
    if text.contains("-----BEGIN") {
        return None;
    }
    let body: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()?;
    bytes.starts_with(b"PK\x03\x04").then_some(bytes)
}

fn parse_zip(bytes: &[u8]) -> Result<Issued, String> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| format!("not a readable ZIP: {e}"))?;
    if archive.len() > MAX_ZIP_ENTRIES {
        return Err(format!(
            "the ZIP holds {} entries, more than the {MAX_ZIP_ENTRIES} a certificate needs",
            archive.len()
        ));
    }
    let mut certs: Vec<Vec<u8>> = Vec::new();
    let mut p7b: Option<Vec<u8>> = None;
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| format!("ZIP entry {i} unreadable: {e}"))?;
        if entry.is_dir() {
            continue;
        }
        let shown = entry
            .name()
            .map(|n| n.to_string())
            .map_err(|e| format!("ZIP entry {i} has no readable name: {e}"))?;
        let name = shown.to_ascii_lowercase();
        let wanted = [".p7b", ".p7c", ".crt", ".pem", ".cer"]
            .iter()
            .any(|ext| name.ends_with(ext));
        if !wanted {
            continue;
        }
        if entry.size() > MAX_ENTRY_BYTES {
            return Err(format!(
                "ZIP entry {} unpacks to {} bytes, more than {MAX_ENTRY_BYTES}",
                crate::quote::quote(&shown),
                entry.size()
            ));
        }
        let mut data = Vec::new();
        (&mut entry)
            .take(MAX_ENTRY_BYTES + 1)
            .read_to_end(&mut data)
            .map_err(|e| format!("ZIP entry {i} unreadable: {e}"))?;
        if data.len() as u64 > MAX_ENTRY_BYTES {
            return Err(format!(
                "ZIP entry {i} unpacks to more than {MAX_ENTRY_BYTES} bytes"
            ));
        }
        if name.ends_with(".p7b") || name.ends_with(".p7c") {
            if p7b.is_none() {
                p7b = Some(data);
            }
            continue;
        }
        match std::str::from_utf8(&data) {
            Ok(t) if t.contains("-----BEGIN") => certs.extend(pem_certs(t)?),
            _ => certs.push(data),
        }
        if certs.len() > MAX_CERTS {
            return Err(format!("more than {MAX_CERTS} certificates in the ZIP"));
        }
    }
    if certs.is_empty() {
        if let Some(p) = &p7b {
            certs = p7b_certs(p)?;
        }
    }
    let (leaf, chain) = order(certs)?;
    Ok(Issued {
        shape: Shape::Zip,
        leaf,
        chain,
        p7b,
    })
}

/// The leaf (the certificate that issued none of the others) and the chain
/// from it upwards, then any certificate not on that path, as given.
fn order(mut certs: Vec<Vec<u8>>) -> Result<(Vec<u8>, Vec<Vec<u8>>), String> {
    certs.dedup();
    if certs.is_empty() {
        return Err("no certificate in the ZIP".into());
    }
    let names: Vec<Option<(Vec<u8>, Vec<u8>)>> =
        certs.iter().map(|d| x509::issuer_subject(d)).collect();
    if names.iter().any(Option::is_none) {
        return Err("a certificate in the ZIP is not DER X.509".into());
    }
    let names: Vec<(Vec<u8>, Vec<u8>)> = names.into_iter().flatten().collect();
    let issued_another = |i: usize| {
        names
            .iter()
            .enumerate()
            .any(|(j, (issuer, _))| j != i && *issuer == names[i].1)
    };
    let leaf = (0..certs.len()).find(|&i| !issued_another(i)).unwrap_or(0);
    let mut path = vec![leaf];
    let mut at = leaf;
    while let Some(next) = (0..certs.len())
        .find(|&j| !path.contains(&j) && names[j].1 == names[at].0 && names[at].0 != names[at].1)
    {
        path.push(next);
        at = next;
    }
    let rest: Vec<usize> = (0..certs.len()).filter(|i| !path.contains(i)).collect();
    let mut chain = Vec::new();
    for &i in path.iter().skip(1).chain(rest.iter()) {
        chain.push(std::mem::take(&mut certs[i]));
    }
    Ok((std::mem::take(&mut certs[leaf]), chain))
}

/// Every `CERTIFICATE` block of a PEM text, decoded.
fn pem_certs(text: &str) -> Result<Vec<Vec<u8>>, String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let body_start = start + BEGIN.len();
        let len = rest[body_start..]
            .find(END)
            .ok_or("unterminated PEM block")?;
        let body: String = rest[body_start..body_start + len]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|e| format!("PEM body is not base64: {e}"))?;
        out.push(der);
        if out.len() > MAX_CERTS {
            return Err(format!("more than {MAX_CERTS} certificates"));
        }
        rest = &rest[body_start + len + END.len()..];
    }
    Ok(out)
}

/// A PKCS#7 / CMS SignedData as a certificate bundle carries it (RFC 5652
/// §5.1; RFC 2315 §9.1 is the same shape): RustCrypto's `cms` types for every
/// field but `certificates`. `cms::signed_data::CertificateSet` is a DER
/// `SET OF` that `der` sorts on decode and on encode, refuses duplicates in,
/// and re-encodes each certificate from its parsed form; the module must hand
/// back the certificates byte for byte and in the order given (the leaf
/// first, as `openssl crl2pkcs7 -nocrl` writes them and as
/// `openssl pkcs7 -print_certs` reads them). So the set is read and written
/// here as the `[0] IMPLICIT` sequence of whole elements it is on the wire.
#[derive(der::Sequence)]
struct CertBundle {
    version: cms::content_info::CmsVersion,
    digest_algorithms: cms::signed_data::DigestAlgorithmIdentifiers,
    encap_content_info: cms::signed_data::EncapsulatedContentInfo,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    certificates: Option<Vec<der::Any>>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    crls: Option<cms::revocation::RevocationInfoChoices>,
    signer_infos: cms::signed_data::SignerInfos,
}

/// The certificates of a PKCS#7 SignedData (DER, or PEM `PKCS7`), as given.
fn p7b_certs(p7b: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    use der::{Decode, Encode};
    let der: Vec<u8> = match std::str::from_utf8(p7b) {
        Ok(t) if t.contains("-----BEGIN") => {
            // The first block's lines (text around the block is no body).
            let body: String = t
                .lines()
                .skip_while(|l| !l.starts_with("-----BEGIN"))
                .skip(1)
                .take_while(|l| !l.starts_with("-----END"))
                .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .map_err(|e| format!("the .p7b is not base64: {e}"))?
        }
        _ => p7b.to_vec(),
    };
    let bad = |e: der::Error| format!("the .p7b is not a PKCS#7 certificate bundle: {e}");
    let info = cms::content_info::ContentInfo::from_der(&der).map_err(bad)?;
    if info.content_type != const_oid::db::rfc5911::ID_SIGNED_DATA {
        return Err("the .p7b is not a PKCS#7 certificate bundle: not SignedData".into());
    }
    let bundle: CertBundle = info.content.decode_as().map_err(bad)?;
    let certs = bundle.certificates.unwrap_or_default();
    if certs.len() > MAX_CERTS {
        return Err(format!("more than {MAX_CERTS} certificates in the .p7b"));
    }
    certs.iter().map(|c| c.to_der().map_err(bad)).collect()
}

/// A certificates-only PKCS#7 SignedData (RFC 2315 §9.1, no signers), the
/// certificates in the order given.
fn certs_only_p7b(certs: &[Vec<u8>]) -> Result<Vec<u8>, String> {
    use der::{Decode, Encode};
    let bad = |e: der::Error| format!("cannot make the PKCS#7 file: {e}");
    let certificates = certs
        .iter()
        .map(|c| der::Any::from_der(c))
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    let bundle = CertBundle {
        version: cms::content_info::CmsVersion::V1,
        digest_algorithms: Default::default(),
        encap_content_info: cms::signed_data::EncapsulatedContentInfo {
            econtent_type: const_oid::db::rfc5911::ID_DATA,
            econtent: None,
        },
        certificates: Some(certificates),
        crls: None,
        signer_infos: cms::signed_data::SignerInfos(Default::default()),
    };
    cms::content_info::ContentInfo {
        content_type: const_oid::db::rfc5911::ID_SIGNED_DATA,
        content: der::Any::encode_from(&bundle).map_err(bad)?,
    }
    .to_der()
    .map_err(bad)
}

/// One PEM block, 64 columns.
pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const LEAF: &str = include_str!("../tests/fixtures/x509-leaf.pem");

    fn zip_of(entries: &[(&str, &[u8])]) -> String {
        let mut buf = std::io::Cursor::new(Vec::new());
        {
            let mut w = zip::ZipWriter::new(&mut buf);
            for (name, data) in entries {
                w.start_file(*name, zip::write::SimpleFileOptions::default())
                    .unwrap();
                w.write_all(data).unwrap();
            }
            w.finish().unwrap();
        }
        base64::engine::general_purpose::STANDARD.encode(buf.into_inner())
    }

    #[test]
    fn pem_leaf_alone_has_no_chain() {
        let i = parse(LEAF).unwrap();
        assert_eq!(i.shape, Shape::Pem);
        assert!(i.chain_pem().is_none() && i.fullchain_pem().is_none());
        assert_eq!(crt_type(LEAF), None);
        assert_eq!(leaf_facts(LEAF).unwrap().serial, "0A1B2C");
    }

    #[test]
    fn zip_is_read_and_compared() {
        let leaf = parse(LEAF).unwrap().leaf;
        let p7b = certs_only_p7b(std::slice::from_ref(&leaf)).unwrap();
        let z = zip_of(&[
            ("example.com.crt", LEAF.as_bytes()),
            ("example.com.p7b", &p7b),
        ]);
        assert_eq!(crt_type(&z), Some("zip"));
        let i = parse(&z).unwrap();
        assert_eq!(i.shape, Shape::Zip);
        assert_eq!(i.leaf, leaf);
        assert_eq!(i.p7b().unwrap(), p7b);
        assert_eq!(p7b_certs(&p7b).unwrap(), vec![leaf.clone()]);
        assert_eq!(leaf_facts(&z).unwrap().serial, "0A1B2C");
        // Re-wrapped base64 is still the same certificate; PEM versus ZIP is not.
        let wrapped: String = z
            .as_bytes()
            .chunks(60)
            .map(|c| format!("{}\n", std::str::from_utf8(c).unwrap()))
            .collect();
        assert!(same(Some(&wrapped), &z));
        assert!(!same(Some(LEAF), &z));
        // Only the .p7b: the certificates come from it.
        let only = zip_of(&[("a.p7b", &p7b)]);
        assert_eq!(parse(&only).unwrap().leaf, leaf);
    }

    // What `openssl crl2pkcs7 -nocrl` makes of two certificates (how: the
    // fixture's first lines), the later-sorting one first.
    const LEAF_2050: &str = include_str!("../tests/fixtures/x509-leaf-2050.pem");
    const OPENSSL_P7B: &str = include_str!("../tests/fixtures/p7b-openssl.pem");

    #[test]
    fn p7b_is_what_openssl_makes_in_the_order_given() {
        let a = parse(LEAF_2050).unwrap().leaf;
        let b = parse(LEAF).unwrap().leaf;
        let given = p7b_certs(OPENSSL_P7B.as_bytes()).unwrap();
        assert_eq!(given, vec![a.clone(), b.clone()]);
        let body: String = OPENSSL_P7B
            .lines()
            .skip_while(|l| !l.starts_with("-----BEGIN"))
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let openssl = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap();
        let ours = certs_only_p7b(&[a.clone(), b.clone()]).unwrap();
        assert_eq!(ours, openssl);
        assert_eq!(p7b_certs(&ours).unwrap(), vec![a, b]);
        // Every truncation is an error, never a panic.
        for cut in 0..ours.len() {
            assert!(p7b_certs(&ours[..cut]).is_err(), "{cut}");
        }
    }

    #[test]
    fn a_certificate_that_is_not_der_makes_no_p7b() {
        let junk = "-----BEGIN CERTIFICATE-----\nanVuaw==\n-----END CERTIFICATE-----\n";
        let i = parse(junk).unwrap();
        assert!(i.p7b().unwrap_err().contains("PKCS#7"), "{:?}", i.p7b());
        let too_many = certs_only_p7b(&vec![parse(LEAF).unwrap().leaf; MAX_CERTS + 1]).unwrap();
        assert!(p7b_certs(&too_many).unwrap_err().contains("more than"));
    }

    #[test]
    fn hostile_zips_are_refused_not_unpacked() {
        let big = vec![b'A'; (MAX_ENTRY_BYTES + 10) as usize];
        let z = zip_of(&[("huge.crt", &big)]);
        assert!(
            parse(&z).unwrap_err().contains("more than"),
            "{:?}",
            parse(&z)
        );
        let names: Vec<String> = (0..MAX_ZIP_ENTRIES + 1)
            .map(|i| format!("{i}.crt"))
            .collect();
        let entries: Vec<(&str, &[u8])> = names
            .iter()
            .map(|n| (n.as_str(), LEAF.as_bytes()))
            .collect();
        assert!(parse(&zip_of(&entries)).unwrap_err().contains("entries"));
        // A truncated ZIP, junk entries, a junk p7b: errors.
        let z = zip_of(&[("x.crt", LEAF.as_bytes())]);
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&z)
            .unwrap();
        for cut in [4usize, 30, raw.len() / 2, raw.len() - 5] {
            let t = base64::engine::general_purpose::STANDARD.encode(&raw[..cut]);
            let _ = parse(&t);
        }
        assert!(parse(&zip_of(&[("x.crt", b"junk")])).is_err());
        assert!(parse(&zip_of(&[("x.p7b", b"junk")])).is_err());
        assert!(parse(&zip_of(&[("readme.txt", b"hi")])).is_err());
    }
}
