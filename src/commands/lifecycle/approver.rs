//! `approver --domain D[,D2…] --intname T`: the e-mail addresses a domain
//! owner may approve a certificate from (module-protocol.md §12.4).
//!
//! The list is the five constructed addresses of the CA/Browser Forum
//! Baseline Requirements 3.2.2.4.4 (`admin`, `administrator`, `hostmaster`,
//! `postmaster`, `webmaster`) for the domain itself and for every parent
//! domain down to the registrable domain: a name below the public suffix
//! (`example.co.uk`, never `co.uk`). The public-suffix knowledge comes from the
//! `psl` crate (the Public Suffix List compiled in, released with every list
//! update). A wildcard `*.` prefix is dropped first: the approver of
//! `*.shop.example.com` is the owner of `shop.example.com`.
//!
//! Pure: no database, no network, nothing on stdin (the upstream API has no
//! approver function we could ask, upstream-api.md §3.7, A-U4).

use crate::protocol::error::{ModuleError, Result};
use crate::protocol::xml::Elem;

/// Local parts of BR 3.2.2.4.4, in the order shown to the customer.
pub const CONSTRUCTED_LOCAL_PARTS: [&str; 5] = [
    "admin",
    "administrator",
    "hostmaster",
    "postmaster",
    "webmaster",
];

/// The approver addresses of one requested domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainApprovers {
    /// The domain as requested (wildcard kept, so the form can match it).
    pub requested: String,
    pub emails: Vec<String>,
}

/// Normalise one requested name: trim, lower-case, drop a trailing dot and a
/// leading `*.`.
fn normalise(domain: &str) -> String {
    let d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    match d.strip_prefix("*.") {
        Some(rest) => rest.to_string(),
        None => d,
    }
}

fn valid_hostname(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
        })
}

/// The domain and its parents down to the registrable domain, most specific
/// first.
pub fn authorization_domains(domain: &str) -> Result<Vec<String>> {
    let d = normalise(domain);
    if !valid_hostname(&d) || !d.contains('.') {
        return Err(ModuleError::value(
            "domain",
            format!(
                "'{}' is not a domain name; enter a name such as example.com",
                crate::quote::quote(domain.trim())
            ),
        )
        .with_param("value", crate::quote::quote(domain.trim())));
    }
    let registrable = psl::domain_str(&d).ok_or_else(|| {
        ModuleError::value(
            "domain",
            format!(
                "'{d}' is a public suffix, not a domain someone can own; enter the customer's domain"
            ),
        )
        .with_param("value", d.clone())
    })?;
    let mut out = Vec::new();
    let mut current = d.as_str();
    loop {
        out.push(current.to_string());
        if current.len() <= registrable.len() {
            break;
        }
        match current.split_once('.') {
            Some((_, parent)) => current = parent,
            None => break,
        }
    }
    Ok(out)
}

/// Approver e-mails for each requested domain, in the order requested.
pub fn approvers(domains: &[String]) -> Result<Vec<DomainApprovers>> {
    if domains.is_empty() {
        return Err(ModuleError::missed(
            "domain",
            "approver needs --domain <name>[,<name>…]",
        ));
    }
    domains
        .iter()
        .map(|requested| {
            let emails = authorization_domains(requested)?
                .iter()
                .flat_map(|base| {
                    CONSTRUCTED_LOCAL_PARTS
                        .iter()
                        .map(move |local| format!("{local}@{base}"))
                })
                .collect();
            Ok(DomainApprovers {
                requested: requested.trim().to_string(),
                emails,
            })
        })
        .collect()
}

/// The answer document. The per-domain shape of BILLmanager 6
/// (`<doc><domain name="…"><approver>…</approver></domain></doc>`, L-GS,
/// OP-SSL) is the one we print; the flat BILLmanager 5 shape
/// (`<doc><approver>…</approver></doc>`) is the alternative. The shape choice
/// lives here and only here (module-protocol.md §12.4).
pub fn document(list: &[DomainApprovers]) -> String {
    let mut doc = Elem::doc();
    for d in list {
        let mut e = Elem::new("domain").attr("name", d.requested.as_str());
        for m in &d.emails {
            e = e.leaf("approver", m.as_str());
        }
        doc.push(e);
    }
    doc.to_document()
}

/// The whole command. `intname` is only checked for presence and shape: the
/// approver list does not depend on the template.
pub fn run(domains: &[String], intname: Option<&str>) -> Result<String> {
    if let Some(t) = intname {
        if t.trim().is_empty() {
            return Err(ModuleError::value("intname", "--intname is empty"));
        }
    }
    Ok(document(&approvers(domains)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn parents_stop_at_registrable_domain() {
        assert_eq!(
            authorization_domains("a.b.example.co.uk").unwrap(),
            s(&["a.b.example.co.uk", "b.example.co.uk", "example.co.uk"])
        );
        assert_eq!(
            authorization_domains("example.com").unwrap(),
            s(&["example.com"])
        );
        assert_eq!(
            authorization_domains("www.example.com.").unwrap(),
            s(&["www.example.com", "example.com"])
        );
    }

    #[test]
    fn wildcard_is_stripped() {
        assert_eq!(
            authorization_domains("*.Shop.Example.com").unwrap(),
            s(&["shop.example.com", "example.com"])
        );
    }

    #[test]
    fn public_suffix_and_garbage_are_value_errors() {
        for bad in [
            "co.uk",
            "com",
            "",
            "exa mple.com",
            "-x.example.com",
            "a..b.com",
        ] {
            let e = authorization_domains(bad).unwrap_err();
            assert_eq!(e.kind.type_name(), "value", "{bad}");
            assert_eq!(e.object.as_deref(), Some("domain"));
        }
    }

    #[test]
    fn no_domain_is_missed() {
        assert_eq!(approvers(&[]).unwrap_err().kind.type_name(), "missed");
    }

    #[test]
    fn golden_two_domains() {
        let doc = run(&s(&["www.example.com", "*.example.org"]), Some("ssl_3033")).unwrap();
        let expected = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<doc>\n  \
<domain name=\"www.example.com\">\n    \
<approver>admin@www.example.com</approver>\n    \
<approver>administrator@www.example.com</approver>\n    \
<approver>hostmaster@www.example.com</approver>\n    \
<approver>postmaster@www.example.com</approver>\n    \
<approver>webmaster@www.example.com</approver>\n    \
<approver>admin@example.com</approver>\n    \
<approver>administrator@example.com</approver>\n    \
<approver>hostmaster@example.com</approver>\n    \
<approver>postmaster@example.com</approver>\n    \
<approver>webmaster@example.com</approver>\n  \
</domain>\n  \
<domain name=\"*.example.org\">\n    \
<approver>admin@example.org</approver>\n    \
<approver>administrator@example.org</approver>\n    \
<approver>hostmaster@example.org</approver>\n    \
<approver>postmaster@example.org</approver>\n    \
<approver>webmaster@example.org</approver>\n  \
</domain>\n</doc>\n";
        assert_eq!(doc, expected);
    }

    #[test]
    fn private_suffix_section_counts() {
        // github.io is a public suffix (private section): users own x.github.io.
        assert_eq!(
            authorization_domains("a.x.github.io").unwrap(),
            s(&["a.x.github.io", "x.github.io"])
        );
    }
}
