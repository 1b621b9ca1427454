//! Which kind of reissue a `reopen` asks the upstream for
//! (`certificate.reissue.step2 crt_type=…`, upstream-api.md §3.4).
//!
//! A new CSR wins (`manual`): it may carry a new key and new names at once.
//! Otherwise a changed SAN list (`altname` vs `old_altname`, the pair
//! BILLmanager keeps on the item, module-protocol.md §12.3) asks for
//! `altname`. Otherwise the certificate is reissued from the request on file
//! (`oldrequest`).

use std::collections::BTreeSet;

use crate::upstream::ReissueKind;

/// A CSR with line endings and surrounding blanks ignored.
pub fn normalise_csr(csr: &str) -> String {
    csr.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

fn name_set(names: &[String]) -> BTreeSet<String> {
    names
        .iter()
        .map(|n| n.trim().trim_end_matches('.').to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect()
}

/// Choose the reissue kind.
/// - `local_csr`: the CSR in the local `certificate` row (what the customer
///   entered for this reissue);
/// - `upstream_csr`: the CSR the upstream certificate was issued from;
/// - `altnames` / `old_altnames`: the item's SAN lists now and before.
pub fn choose(
    local_csr: Option<&str>,
    upstream_csr: Option<&str>,
    altnames: &[String],
    old_altnames: &[String],
) -> ReissueKind {
    if let (Some(local), Some(up)) = (local_csr, upstream_csr) {
        let local_n = normalise_csr(local);
        if !local_n.is_empty() && local_n != normalise_csr(up) {
            return ReissueKind::Manual {
                csr: local.trim().to_string(),
            };
        }
    }
    if name_set(altnames) != name_set(old_altnames) {
        return ReissueKind::AltName {
            altnames: name_set(altnames).into_iter().collect(),
        };
    }
    ReissueKind::OldRequest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(x: &[&str]) -> Vec<String> {
        x.iter().map(|s| s.to_string()).collect()
    }

    const CSR_A: &str =
        "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n";
    const CSR_B: &str =
        "-----BEGIN CERTIFICATE REQUEST-----\nBBBB\n-----END CERTIFICATE REQUEST-----\n";

    #[test]
    fn new_csr_is_manual_even_with_san_change() {
        let c = choose(Some(CSR_B), Some(CSR_A), &v(&["a.example.com"]), &v(&[]));
        assert_eq!(crate::upstream::wire::crt_type(&c), "manual");
        assert_eq!(
            c,
            ReissueKind::Manual {
                csr: CSR_B.trim().to_string()
            }
        );
    }

    #[test]
    fn same_csr_with_other_line_endings_is_not_new() {
        let crlf = CSR_A.replace('\n', "\r\n");
        assert_eq!(
            choose(Some(&crlf), Some(CSR_A), &v(&[]), &v(&[])),
            ReissueKind::OldRequest
        );
    }

    #[test]
    fn san_change_is_altname() {
        let c = choose(
            Some(CSR_A),
            Some(CSR_A),
            &v(&["b.example.com", "a.example.com"]),
            &v(&["a.example.com"]),
        );
        assert_eq!(
            c,
            ReissueKind::AltName {
                altnames: v(&["a.example.com", "b.example.com"])
            }
        );
    }

    #[test]
    fn same_sans_in_other_order_is_oldrequest() {
        assert_eq!(
            choose(
                None,
                Some(CSR_A),
                &v(&["B.example.com", "a.example.com"]),
                &v(&["a.example.com", "b.example.com."]),
            ),
            ReissueKind::OldRequest
        );
    }
}
