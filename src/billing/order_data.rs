//! `CertificateOrderData`: THE one reader of a certificate item's order data
//! (module-protocol.md §12.3).
//!
//! P-U6, module-protocol.md §18: whether BILLmanager 6 keeps certificate
//! contacts in service profiles instead of `adm_*`/`tech_*`/`org_*` item
//! params is unconfirmed. We read item params, here and nowhere else, so a
//! change touches only this file.

use std::collections::BTreeMap;

use super::crypt::CryptKey;
use super::csr;
use super::db::{CertificateRow, Db, ItemRow};
use crate::protocol::error::{ModuleError, Result};
use crate::vocab::item_params::{
    ALTNAME_PARAM, APPROVER_EMAIL_PARAM, APPROVER_METHOD_PARAM, CN_PARAM, CONTACT_PREFIXES,
    CSR_PARAM, OLD_ALTNAME_PARAM,
};

/// Domain-control validation method (item param `approver_method`).
///
/// P-U8, module-protocol.md §18: only `auth_email` and `auth_dnstxt` are
/// confirmed (L-GS); anything else is passed through as [`Other`](Self::Other).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApproverMethod {
    /// `auth_email` (also what an empty value means).
    Email,
    /// `auth_dnstxt`.
    DnsTxt,
    /// Any other value, kept verbatim.
    Other(String),
}

impl ApproverMethod {
    /// `None` for an empty or missing value (BILLmanager's default, e-mail).
    pub fn from_param(value: Option<&str>) -> Option<ApproverMethod> {
        match value.map(str::trim) {
            None | Some("") => None,
            Some("auth_email") => Some(ApproverMethod::Email),
            Some("auth_dnstxt") => Some(ApproverMethod::DnsTxt),
            Some(other) => Some(ApproverMethod::Other(other.to_string())),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            ApproverMethod::Email => "auth_email",
            ApproverMethod::DnsTxt => "auth_dnstxt",
            ApproverMethod::Other(s) => s,
        }
    }
}

/// Everything needed to order or reissue the certificate of one item.
#[derive(Debug, Clone)]
pub struct CertificateOrderData {
    pub item: ItemRow,
    /// All item params (plain ∪ decrypted crypted).
    pub params: BTreeMap<String, String>,
    pub certificate: Option<CertificateRow>,
    /// Item param `CN`, else the CSR subject's CN.
    pub cn: String,
    /// Item param `altname`, split on whitespace.
    pub altnames: Vec<String>,
    /// Item param `old_altname` (the list before a reissue).
    pub old_altnames: Vec<String>,
    /// `None`: not set (BILLmanager's default, e-mail).
    pub approver_method: Option<ApproverMethod>,
    /// Item param `approver_email`, split on commas.
    pub approver_emails: Vec<String>,
    /// The CSR (PEM): `certificate.csr`, else item param `csr`.
    pub csr: String,
    /// `adm_*`, `tech_*`, `org_*` item params, sorted by name, empty ones
    /// left out; a numeric `org_country` is turned into its ISO code.
    pub contacts: Vec<(String, String)>,
}

fn split_ws(v: Option<&String>) -> Vec<String> {
    v.map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

fn split_commas(v: Option<&String>) -> Vec<String> {
    v.map(|s| {
        s.split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect()
    })
    .unwrap_or_default()
}

impl CertificateOrderData {
    pub fn load(db: &mut Db, key: &CryptKey, item_id: u64) -> Result<CertificateOrderData> {
        let item = db.item(item_id)?;
        let params = db.item_params(item_id, key)?;
        let certificate = db.certificate(item_id)?;
        let mut data = CertificateOrderData::from_parts(item, params, certificate)?;
        // OP-SSL: org_country is BILLmanager's numeric country id.
        for (name, value) in data.contacts.iter_mut() {
            if name == "org_country" {
                if let Ok(id) = value.trim().parse::<u64>() {
                    if let Some(iso2) = db.country_iso2(id)? {
                        *value = iso2;
                    }
                }
            }
        }
        Ok(data)
    }

    /// Build from rows already read (no database); errors name the item.
    pub fn from_parts(
        item: ItemRow,
        params: BTreeMap<String, String>,
        certificate: Option<CertificateRow>,
    ) -> Result<CertificateOrderData> {
        let id = item.id;
        let csr = certificate
            .as_ref()
            .and_then(|c| c.csr.clone())
            .or_else(|| params.get(CSR_PARAM).cloned())
            .filter(|c| !c.trim().is_empty())
            .ok_or_else(|| {
                ModuleError::missed(
                    "csr",
                    format!(
                        "item {id} has no certificate signing request (certificate.csr is empty); \
                         the client must submit a CSR before the certificate can be ordered"
                    ),
                )
                .with_param("item", id.to_string())
            })?;
        let cn = params
            .get(CN_PARAM)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .or_else(|| csr::common_name(&csr))
            .ok_or_else(|| {
                ModuleError::missed(
                    "CN",
                    format!(
                        "item {id} has no domain name: item param CN is empty and the CSR has \
                         no readable common name"
                    ),
                )
                .with_param("item", id.to_string())
            })?;
        let contacts = params
            .iter()
            .filter(|(k, v)| {
                CONTACT_PREFIXES.iter().any(|p| k.starts_with(p)) && !v.trim().is_empty()
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(CertificateOrderData {
            altnames: split_ws(params.get(ALTNAME_PARAM)),
            old_altnames: split_ws(params.get(OLD_ALTNAME_PARAM)),
            approver_method: ApproverMethod::from_param(
                params.get(APPROVER_METHOD_PARAM).map(String::as_str),
            ),
            approver_emails: split_commas(params.get(APPROVER_EMAIL_PARAM)),
            cn,
            csr,
            contacts,
            item,
            params,
            certificate,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::error::ErrorKind;

    const CSR: &str = include_str!("../../tests/fixtures/example.com.csr");

    fn item() -> ItemRow {
        ItemRow {
            id: 42,
            processingmodule: Some(1),
            module: Some("pmsslreseller".into()),
            pricelist: 7,
            lastpricelist: None,
            pricelist_intname: "ssl_3033".into(),
            itemtype_intname: "certificate".into(),
            period: crate::vocab::Period::Months(12),
            status: 1,
            expiredate: None,
            opendate: None,
            name: "example.com".into(),
        }
    }

    fn params(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn cert(csr: &str) -> Option<CertificateRow> {
        Some(CertificateRow {
            csr: Some(csr.into()),
            crt: None,
        })
    }

    #[test]
    fn full_item() {
        let d = CertificateOrderData::from_parts(
            item(),
            params(&[
                ("CN", "example.com"),
                ("altname", " www.example.com\tmail.example.com \n"),
                ("old_altname", "www.example.com"),
                (
                    "approver_email",
                    "admin@example.com, ,hostmaster@example.com",
                ),
                ("approver_method", "auth_dnstxt"),
                ("adm_fname", "Иван"),
                ("org_name", "ООО Пример"),
                ("tech_email", ""),
                ("service_status", "3"),
            ]),
            cert(CSR),
        )
        .unwrap();
        assert_eq!(d.cn, "example.com");
        assert_eq!(d.altnames, ["www.example.com", "mail.example.com"]);
        assert_eq!(d.old_altnames, ["www.example.com"]);
        assert_eq!(
            d.approver_emails,
            ["admin@example.com", "hostmaster@example.com"]
        );
        assert_eq!(d.approver_method, Some(ApproverMethod::DnsTxt));
        assert_eq!(
            d.contacts,
            vec![
                ("adm_fname".to_string(), "Иван".to_string()),
                ("org_name".to_string(), "ООО Пример".to_string())
            ]
        );
    }

    #[test]
    fn cn_from_csr_when_param_missing() {
        let d = CertificateOrderData::from_parts(item(), params(&[]), cert(CSR)).unwrap();
        assert_eq!(d.cn, "example.com");
        assert!(d.altnames.is_empty());
        assert_eq!(d.approver_method, None);
    }

    #[test]
    fn csr_from_param_when_no_certificate_row() {
        let d = CertificateOrderData::from_parts(item(), params(&[("csr", CSR)]), None).unwrap();
        assert_eq!(d.cn, "example.com");
    }

    #[test]
    fn missing_csr_names_item() {
        let e =
            CertificateOrderData::from_parts(item(), params(&[("CN", "a.com")]), None).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Missed);
        assert_eq!(e.object.as_deref(), Some("csr"));
        assert!(e.message.contains("item 42"), "{}", e.message);
    }

    #[test]
    fn missing_cn_names_item() {
        let e =
            CertificateOrderData::from_parts(item(), params(&[]), cert("not a csr")).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Missed);
        assert_eq!(e.object.as_deref(), Some("CN"));
        assert!(e.message.contains("item 42"), "{}", e.message);
    }

    #[test]
    fn approver_methods() {
        assert_eq!(ApproverMethod::from_param(Some(" ")), None);
        assert_eq!(
            ApproverMethod::from_param(Some("auth_email")),
            Some(ApproverMethod::Email)
        );
        let o = ApproverMethod::from_param(Some("auth_http")).unwrap();
        assert_eq!(o, ApproverMethod::Other("auth_http".into()));
        assert_eq!(o.as_str(), "auth_http");
    }
}
