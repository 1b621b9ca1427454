//! The three facts the module reads from an issued certificate: serial
//! number, not-before and not-after (RFC 5280 §4.1), and the issuer and
//! subject names that order a chain. The certificate is decoded by RustCrypto's
//! `x509-cert` (on `der`, which checks every length and never panics on
//! hostile input); this file only finds the first PEM `CERTIFICATE` block and
//! turns the crate's values into the module's.

use base64::Engine;
use chrono::NaiveDate;
use der::{Decode, Encode};
use x509_cert::time::Time;
use x509_cert::Certificate;

/// What the module shows and plans with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFacts {
    /// Upper-case hex, colon-free (as `openssl x509 -serial` prints it).
    pub serial: String,
    pub not_before: NaiveDate,
    pub not_after: NaiveDate,
}

/// The facts of the first certificate in `pem` (the leaf, in a chain), or
/// why they cannot be read.
pub fn facts(pem: &str) -> Result<CertFacts, String> {
    facts_der(&first_der(pem)?)
}

/// The facts of one DER certificate.
pub fn facts_der(der: &[u8]) -> Result<CertFacts, String> {
    let cert = decode(der)?;
    let tbs = &cert.tbs_certificate;
    let serial = tbs.serial_number.as_bytes();
    let serial = serial
        .iter()
        .skip_while(|b| **b == 0 && serial.len() > 1)
        .map(|b| format!("{b:02X}"))
        .collect();
    Ok(CertFacts {
        serial,
        not_before: date(tbs.validity.not_before).ok_or("bad notBefore")?,
        not_after: date(tbs.validity.not_after).ok_or("bad notAfter")?,
    })
}

/// The issuer and subject names of one DER certificate, as DER (compared
/// byte for byte to find which certificate issued which).
pub fn issuer_subject(der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let tbs = decode(der).ok()?.tbs_certificate;
    Some((tbs.issuer.to_der().ok()?, tbs.subject.to_der().ok()?))
}

/// One DER certificate, whole (nothing may follow it).
fn decode(der: &[u8]) -> Result<Certificate, String> {
    Certificate::from_der(der).map_err(|e| format!("not a DER X.509 certificate: {e}"))
}

/// The calendar date of a UTCTime (RFC 5280: YY < 50 → 20YY) or a
/// GeneralizedTime; `x509-cert` reads both.
fn date(time: Time) -> Option<NaiveDate> {
    let t = time.to_date_time();
    NaiveDate::from_ymd_opt(
        i32::from(t.year()),
        u32::from(t.month()),
        u32::from(t.day()),
    )
}

fn first_der(pem: &str) -> Result<Vec<u8>, String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let start = pem.find(BEGIN).ok_or("no PEM CERTIFICATE block")? + BEGIN.len();
    let len = pem[start..].find(END).ok_or("unterminated PEM block")?;
    let body: String = pem[start..start + len]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|e| format!("PEM body is not base64: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    // A leaf made with OpenSSL 3.0 (how: the fixture's first lines): serial 0A1B2C,
    // valid 2026-12-02 .. 2027-06-20, in the DER shape every CA uses.
    const LEAF: &str = include_str!("../tests/fixtures/x509-leaf.pem");

    #[test]
    fn reads_serial_and_validity() {
        let f = facts(LEAF).unwrap();
        assert_eq!(f.serial, "0A1B2C");
        assert_eq!(f.not_before, NaiveDate::from_ymd_opt(2026, 12, 2).unwrap());
        assert_eq!(f.not_after, NaiveDate::from_ymd_opt(2027, 6, 20).unwrap());
    }

    // The same kind of leaf valid until 2050-01-15: from 2050 on, RFC 5280
    // §4.1.2.5 writes the date as a GeneralizedTime (four-digit year).
    const LEAF_2050: &str = include_str!("../tests/fixtures/x509-leaf-2050.pem");

    #[test]
    fn reads_a_generalized_time() {
        let f = facts(LEAF_2050).unwrap();
        assert_eq!(f.serial, "0A1B2D");
        assert_eq!(f.not_before, NaiveDate::from_ymd_opt(2026, 12, 2).unwrap());
        assert_eq!(f.not_after, NaiveDate::from_ymd_opt(2050, 1, 15).unwrap());
    }

    #[test]
    fn junk_is_an_error_not_a_panic() {
        assert!(facts("").is_err());
        assert!(facts("-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----").is_err());
        assert!(facts("-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----").is_err());
        // Truncated: every prefix of a real certificate fails cleanly.
        let body: String = LEAF.lines().filter(|l| !l.starts_with("-----")).collect();
        for cut in (4..body.len()).step_by(40) {
            let pem = format!(
                "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----",
                &body[..cut - cut % 4]
            );
            let _ = facts(&pem);
        }
    }
}
