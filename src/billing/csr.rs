//! The subject of a PKCS#10 CSR (PEM), read the way ISPsystem's modules do
//! (module-protocol.md §9.3: "The modules decode the CSR subject (CN, O, OU,
//! L, ST, C, emailAddress) from `csr`").
//!
//! A small bounds-checked DER walk over `CertificationRequest ::= SEQUENCE {
//! certificationRequestInfo SEQUENCE { version INTEGER, subject Name, … }, … }`
//! instead of a full X.509 crate: we need a handful of strings, nothing is
//! verified, and bad input only yields `None`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// Attribute type OIDs (DER content bytes) → the short names used as item
/// params (§12.3).
const SUBJECT_OIDS: &[(&[u8], &str)] = &[
    (&[0x55, 0x04, 0x03], "CN"),
    (&[0x55, 0x04, 0x06], "C"),
    (&[0x55, 0x04, 0x07], "L"),
    (&[0x55, 0x04, 0x08], "ST"),
    (&[0x55, 0x04, 0x0A], "O"),
    (&[0x55, 0x04, 0x0B], "OU"),
    (
        &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x01],
        "emailAddress",
    ),
];

/// One DER element: tag, content, and what follows it.
fn tlv(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = data.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7F);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let mut len = 0usize;
        for &b in &rest[..n] {
            len = (len << 8) | usize::from(b);
        }
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The DER bytes of the first PEM block in `pem`.
fn pem_body(pem: &str) -> Option<Vec<u8>> {
    let mut inside = false;
    let mut b64 = String::new();
    for line in pem.lines().map(str::trim) {
        if line.starts_with("-----BEGIN") {
            inside = true;
        } else if line.starts_with("-----END") {
            break;
        } else if inside && !line.contains(':') {
            b64.push_str(line);
        }
    }
    if b64.is_empty() {
        return None;
    }
    STANDARD.decode(b64.as_bytes()).ok()
}

fn decode_string(tag: u8, bytes: &[u8]) -> Option<String> {
    match tag {
        // UTF8String, PrintableString, IA5String, T61String (treated as UTF-8/Latin).
        0x0C | 0x13 | 0x16 | 0x14 => match std::str::from_utf8(bytes) {
            Ok(s) => Some(s.to_string()),
            Err(_) => Some(bytes.iter().map(|&b| char::from(b)).collect()),
        },
        // BMPString: UTF-16BE.
        0x1E => {
            if !bytes.len().is_multiple_of(2) {
                return None;
            }
            let units: Vec<u16> = bytes
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        _ => None,
    }
}

/// Subject attributes in CSR order, e.g. `[("C","RU"), …, ("CN","example.com")]`.
/// `None` when the text is not a CSR we can read.
pub fn subject(pem: &str) -> Option<Vec<(&'static str, String)>> {
    let der = pem_body(pem)?;
    let (0x30, request, _) = tlv(&der)? else {
        return None;
    };
    let (0x30, info, _) = tlv(request)? else {
        return None;
    };
    let (0x02, _version, rest) = tlv(info)? else {
        return None;
    };
    let (0x30, mut name, _) = tlv(rest)? else {
        return None;
    };
    let mut out = Vec::new();
    while !name.is_empty() {
        let (tag, mut set, next) = tlv(name)?;
        name = next;
        if tag != 0x31 {
            return None;
        }
        while !set.is_empty() {
            let (tag, atv, next) = tlv(set)?;
            set = next;
            if tag != 0x30 {
                return None;
            }
            let (0x06, oid, value) = tlv(atv)? else {
                return None;
            };
            let (vtag, vbytes, _) = tlv(value)?;
            if let Some((_, short)) = SUBJECT_OIDS.iter().find(|(o, _)| *o == oid) {
                if let Some(s) = decode_string(vtag, vbytes) {
                    out.push((*short, s));
                }
            }
        }
    }
    Some(out)
}

/// The subject's common name (the last one, as OpenSSL shows it).
pub fn common_name(pem: &str) -> Option<String> {
    subject(pem)?
        .into_iter()
        .rev()
        .find(|(k, _)| *k == "CN")
        .map(|(_, v)| v)
        .filter(|v| !v.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSR: &str = include_str!("../../tests/fixtures/example.com.csr");

    #[test]
    fn reads_fixture_subject() {
        let s = subject(CSR).unwrap();
        assert_eq!(
            s,
            vec![
                ("C", "RU".to_string()),
                ("ST", "Moscow".to_string()),
                ("L", "Moscow".to_string()),
                ("O", "Example LLC".to_string()),
                ("CN", "example.com".to_string()),
            ]
        );
        assert_eq!(common_name(CSR).as_deref(), Some("example.com"));
    }

    #[test]
    fn garbage_is_none_not_panic() {
        assert!(subject("").is_none());
        assert!(subject(
            "-----BEGIN CERTIFICATE REQUEST-----\n!!!\n-----END CERTIFICATE REQUEST-----"
        )
        .is_none());
        assert!(subject(
            "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----"
        )
        .is_none());
        // Every truncation of a real CSR must fail cleanly.
        let der = pem_body(CSR).unwrap();
        for cut in 0..der.len() {
            let pem = format!(
                "-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n",
                STANDARD.encode(&der[..cut])
            );
            let _ = subject(&pem);
        }
    }

    #[test]
    fn long_form_lengths() {
        assert_eq!(
            tlv(&[0x04, 0x81, 0x01, 0xAA]),
            Some((0x04, &[0xAA][..], &[][..]))
        );
        assert_eq!(tlv(&[0x04, 0x82, 0x00]), None);
        assert_eq!(tlv(&[0x04, 0x05, 0x00]), None);
    }
}
