//! The three facts the module reads from an issued certificate: serial
//! number, not-before and not-after (RFC 5280 §4.1). A minimal DER walk over
//! the first PEM `CERTIFICATE` block, bounded by the input: no dependency,
//! no panic on hostile input (every length is checked), and nothing else of
//! the certificate is interpreted.

use base64::Engine;
use chrono::NaiveDate;

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
    let (cert, _) = tlv(der, 0x30).ok_or("not a DER certificate")?;
    let (tbs, _) = tlv(cert, 0x30).ok_or("no tbsCertificate")?;
    let mut rest = tbs;
    // version [0] EXPLICIT, optional.
    if rest.first() == Some(&0xa0) {
        rest = tlv(rest, 0xa0).ok_or("bad version")?.1;
    }
    let (serial, rest) = tlv(rest, 0x02).ok_or("no serial number")?;
    let (_sig_alg, rest) = tlv(rest, 0x30).ok_or("no signature algorithm")?;
    let (_issuer, rest) = tlv(rest, 0x30).ok_or("no issuer")?;
    let (validity, _) = tlv(rest, 0x30).ok_or("no validity")?;
    let (not_before, after) = time(validity).ok_or("bad notBefore")?;
    let (not_after, _) = time(after).ok_or("bad notAfter")?;
    let serial = serial
        .iter()
        .skip_while(|b| **b == 0 && serial.len() > 1)
        .map(|b| format!("{b:02X}"))
        .collect();
    Ok(CertFacts {
        serial,
        not_before,
        not_after,
    })
}

/// The issuer and subject names of one DER certificate, as their raw DER
/// (compared byte for byte to find which certificate issued which).
pub fn issuer_subject(der: &[u8]) -> Option<(&[u8], &[u8])> {
    let (cert, _) = tlv(der, 0x30)?;
    let (tbs, _) = tlv(cert, 0x30)?;
    let mut rest = tbs;
    if rest.first() == Some(&0xa0) {
        rest = tlv(rest, 0xa0)?.1;
    }
    let (_serial, rest) = tlv(rest, 0x02)?;
    let (_sig_alg, rest) = tlv(rest, 0x30)?;
    let (issuer, rest) = tlv(rest, 0x30)?;
    let (_validity, rest) = tlv(rest, 0x30)?;
    let (subject, _) = tlv(rest, 0x30)?;
    Some((issuer, subject))
}

/// One whole DER element (tag, length and content) at the start of
/// `input`, whatever its tag: how long it is. For splitting a sequence of
/// certificates (a PKCS#7 `certificates` set).
pub fn element_len(input: &[u8]) -> Option<usize> {
    let tag = *input.first()?;
    let (content, rest) = tlv(input, tag)?;
    let _ = content;
    Some(input.len() - rest.len())
}

/// The content of one DER element with tag `tag` at the start of `input`,
/// and what follows it.
pub fn der_element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    tlv(input, tag)
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

/// One DER element with tag `tag` at the start of `input`: (content, rest).
fn tlv(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&t, rest) = input.split_first()?;
    if t != tag {
        return None;
    }
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let mut len = 0usize;
        for b in &rest[..n] {
            len = (len << 8) | usize::from(*b);
        }
        rest = &rest[n..];
        len
    };
    (rest.len() >= len).then(|| rest.split_at(len))
}

/// UTCTime (YYMMDDHHMMSSZ, RFC 5280: YY < 50 → 20YY) or GeneralizedTime.
fn time(input: &[u8]) -> Option<(NaiveDate, &[u8])> {
    let (text, digits_of_year, rest) = match input.first()? {
        0x17 => {
            let (c, r) = tlv(input, 0x17)?;
            (c, 2, r)
        }
        0x18 => {
            let (c, r) = tlv(input, 0x18)?;
            (c, 4, r)
        }
        _ => return None,
    };
    let text = std::str::from_utf8(text).ok()?;
    let num = |s: &str| s.parse::<u32>().ok();
    let year = num(text.get(..digits_of_year)?)?;
    let year = match digits_of_year {
        2 if year < 50 => 2000 + year,
        2 => 1900 + year,
        _ => year,
    };
    let month = num(text.get(digits_of_year..digits_of_year + 2)?)?;
    let day = num(text.get(digits_of_year + 2..digits_of_year + 4)?)?;
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    Some((date, rest))
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
