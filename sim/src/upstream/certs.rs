//! Real X.509 material made with rcgen: the simulator's issuing CA (root → intermediate → leaf chains
//! for "issued" certificates, SIM-22), CSR + key pairs for `certificate.order.csr` (SIM-30), and the
//! CA + server certificate of the HTTPS listener (`--tls-dir`).

use chrono::{Datelike, NaiveDate};
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};
use std::net::IpAddr;

/// The CA that signs issued certificates. Regenerated at each start (chains already handed out keep
/// their own intermediate inside the PEM).
pub struct IssuingCa {
    root: Certificate,
    intermediate: Certificate,
    intermediate_key: KeyPair,
}

fn ca_params(common_name: &str) -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "billmgr-sim");
    dn.push(DnType::CommonName, common_name);
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.not_before = rcgen::date_time_ymd(2020, 1, 1);
    p.not_after = rcgen::date_time_ymd(2099, 12, 31);
    p
}

fn err(e: rcgen::Error) -> String {
    format!("certificate generation: {e}")
}

/// SAN entries for names; names rcgen cannot encode (non-ASCII IDN) are left out of the certificate.
fn sans(names: &[&str]) -> Vec<SanType> {
    let mut out = Vec::new();
    for n in names {
        if let Ok(ip) = n.parse::<IpAddr>() {
            out.push(SanType::IpAddress(ip));
        } else if let Ok(dns) = (*n).to_string().try_into() {
            out.push(SanType::DnsName(dns));
        }
    }
    out
}

/// Sets the validity of `p` to whole days `from ..= until`.
fn set_validity(p: &mut CertificateParams, from: NaiveDate, until: NaiveDate) {
    p.not_before = rcgen::date_time_ymd(from.year(), from.month() as u8, from.day() as u8);
    p.not_after = rcgen::date_time_ymd(until.year(), until.month() as u8, until.day() as u8);
}

impl IssuingCa {
    pub fn generate() -> Result<IssuingCa, String> {
        let root_key = KeyPair::generate().map_err(err)?;
        let root = ca_params("billmgr-sim Test Root CA")
            .self_signed(&root_key)
            .map_err(err)?;
        let intermediate_key = KeyPair::generate().map_err(err)?;
        let mut ip = ca_params("billmgr-sim Test Issuing CA");
        ip.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        let intermediate = ip
            .signed_by(&intermediate_key, &root, &root_key)
            .map_err(err)?;
        Ok(IssuingCa {
            root,
            intermediate,
            intermediate_key,
        })
    }

    /// Leaf for `cn` + `altnames`, valid `from..=until`, followed by the intermediate (PEM chain).
    pub fn issue(
        &self,
        cn: &str,
        altnames: &[String],
        from: NaiveDate,
        until: NaiveDate,
    ) -> Result<String, String> {
        let mut names: Vec<&str> = vec![cn];
        names.extend(altnames.iter().map(String::as_str).filter(|n| *n != cn));
        let mut p = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, cn);
        p.distinguished_name = dn;
        p.subject_alt_names = sans(&names);
        p.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        p.use_authority_key_identifier_extension = true;
        set_validity(&mut p, from, until);
        let leaf_key = KeyPair::generate().map_err(err)?;
        let leaf = p
            .signed_by(&leaf_key, &self.intermediate, &self.intermediate_key)
            .map_err(err)?;
        Ok(format!("{}{}", leaf.pem(), self.intermediate.pem()))
    }

    /// The root of issued chains (`GET /_sim/ca`), for tests that verify a `crt`.
    pub fn root_pem(&self) -> String {
        self.root.pem()
    }
}

/// A CSR for `cn` (+ SANs) and its private key, both PEM (SIM-30).
pub fn csr_and_key(cn: &str, altnames: &[String]) -> Result<(String, String), String> {
    let mut names: Vec<&str> = vec![cn];
    names.extend(altnames.iter().map(String::as_str));
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    p.subject_alt_names = sans(&names);
    let key = KeyPair::generate().map_err(err)?;
    let csr = p.serialize_request(&key).map_err(err)?;
    Ok((csr.pem().map_err(err)?, key.serialize_pem()))
}

/// CA + server certificate for the HTTPS listener (SANs 127.0.0.1 and localhost). The CA key is kept in
/// `DIR/ca-key.pem` and reused on restart, so a `ca.pem` a test already loaded stays valid.
pub struct TlsMaterial {
    pub server_chain_pem: String,
    pub server_key_pem: String,
}

pub fn tls_material(dir: &std::path::Path) -> Result<TlsMaterial, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("--tls-dir {}: {e}", dir.display()))?;
    let key_path = dir.join("ca-key.pem");
    let ca_key = match std::fs::read_to_string(&key_path) {
        Ok(pem) => KeyPair::from_pem(&pem).map_err(err)?,
        Err(_) => {
            let k = KeyPair::generate().map_err(err)?;
            std::fs::write(&key_path, k.serialize_pem())
                .map_err(|e| format!("{}: {e}", key_path.display()))?;
            k
        }
    };
    let ca = ca_params("billmgr-sim HTTPS Test CA")
        .self_signed(&ca_key)
        .map_err(err)?;
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "localhost");
    p.distinguished_name = dn;
    p.subject_alt_names = sans(&["127.0.0.1", "localhost"]);
    p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    p.use_authority_key_identifier_extension = true;
    p.not_before = rcgen::date_time_ymd(2020, 1, 1);
    p.not_after = rcgen::date_time_ymd(2099, 12, 31);
    let server_key = KeyPair::generate().map_err(err)?;
    let server = p.signed_by(&server_key, &ca, &ca_key).map_err(err)?;
    let ca_path = dir.join("ca.pem");
    std::fs::write(&ca_path, ca.pem()).map_err(|e| format!("{}: {e}", ca_path.display()))?;
    Ok(TlsMaterial {
        server_chain_pem: format!("{}{}", server.pem(), ca.pem()),
        server_key_pem: server_key.serialize_pem(),
    })
}

/// The upstream's `crt` field in the shape knob `crt_shape` asks for (upstream-api.md §3.6: what a
/// CA module stored): `chain` the PEM leaf and intermediate as issued, `leaf` the leaf alone, `zip`
/// a base64 ZIP of `<cn>.crt`, `intermediate.crt` and `<cn>.p7b` (field-2026-12.md §8, how
/// ISPsystem's GlobalSign module saves a PKCS#7 answer). Deterministic: the same certificate gives
/// the same text on every view.
pub fn crt_field(chain_pem: &str, cn: &str, shape: &str) -> Result<String, String> {
    const END: &str = "-----END CERTIFICATE-----";
    let blocks: Vec<String> = chain_pem
        .split_inclusive(END)
        .filter(|b| b.contains("-----BEGIN CERTIFICATE-----"))
        .map(|b| format!("{}\n", b.trim_start()))
        .collect();
    match shape {
        "leaf" => Ok(blocks.first().cloned().unwrap_or_default()),
        "zip" => zip_field(&blocks, cn),
        "zip_hostile" => hostile_zip(cn),
        _ => Ok(chain_pem.to_string()),
    }
}

fn zip_field(blocks: &[String], cn: &str) -> Result<String, String> {
    use base64::Engine;
    use std::io::Write;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut ders = Vec::new();
    for b in blocks {
        let body: String = b
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<String>();
        ders.push(b64.decode(body).map_err(|e| e.to_string())?);
    }
    let name = if cn.is_empty() { "certificate" } else { cn };
    let opts = zip::write::SimpleFileOptions::default()
        .last_modified_time(zip::DateTime::default())
        .compression_method(zip::CompressionMethod::Deflated);
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut buf);
        let err = |e: zip::result::ZipError| e.to_string();
        for (i, b) in blocks.iter().enumerate() {
            let file = if i == 0 {
                format!("{name}.crt")
            } else {
                format!("intermediate{i}.crt")
            };
            w.start_file(file, opts).map_err(err)?;
            w.write_all(b.as_bytes()).map_err(|e| e.to_string())?;
        }
        w.start_file(format!("{name}.p7b"), opts).map_err(err)?;
        w.write_all(&p7b(&ders)).map_err(|e| e.to_string())?;
        w.finish().map_err(err)?;
    }
    Ok(b64.encode(buf.into_inner()))
}

/// A ZIP a reader must not unpack into memory: one `.crt` of 4 MiB of zeros (a few KiB packed).
fn hostile_zip(cn: &str) -> Result<String, String> {
    use base64::Engine;
    use std::io::Write;
    let opts = zip::write::SimpleFileOptions::default()
        .last_modified_time(zip::DateTime::default())
        .compression_method(zip::CompressionMethod::Deflated);
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut buf);
        w.start_file(format!("{cn}.crt"), opts)
            .map_err(|e| e.to_string())?;
        w.write_all(&vec![0u8; 4 << 20])
            .map_err(|e| e.to_string())?;
        w.finish().map_err(|e| e.to_string())?;
    }
    Ok(base64::engine::general_purpose::STANDARD.encode(buf.into_inner()))
}

/// A certificates-only PKCS#7 SignedData (RFC 2315), as `openssl crl2pkcs7 -nocrl` writes it.
fn p7b(certs: &[Vec<u8>]) -> Vec<u8> {
    fn der(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let n = content.len();
        if n < 0x80 {
            out.push(n as u8);
        } else {
            let bytes: Vec<u8> = n
                .to_be_bytes()
                .into_iter()
                .skip_while(|b| *b == 0)
                .collect();
            out.push(0x80 | bytes.len() as u8);
            out.extend(bytes);
        }
        out.extend_from_slice(content);
        out
    }
    let signed_data = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
    let data = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];
    let inner = der(
        0x30,
        &[
            der(0x02, &[1]),
            der(0x31, &[]),
            der(0x30, &der(0x06, &data)),
            der(0xa0, &certs.concat()),
            der(0x31, &[]),
        ]
        .concat(),
    );
    der(0x30, &[der(0x06, &signed_data), der(0xa0, &inner)].concat())
}
