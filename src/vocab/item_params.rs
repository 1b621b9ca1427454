//! The names of the item params (`itemparam.intname`) the module reads or
//! writes, all in this one table: the module's own (`pmss_*`, written
//! through `mgrctl`, read back from the database) and BILLmanager's that the
//! module reads or sets (the order data, module-protocol.md §12.3, and the
//! certificate sub-status, §12.1).
//!
//! A stored name is part of every installed service: renaming one here
//! without a migration strands what existing items hold. The tests spell the
//! names out on purpose, so such a rename fails them.

// --- The module's own params ---

/// The upstream certificate id.
pub const UPSTREAM_ID_PARAM: &str = "pmss_upstream_id";
/// The intent record of a money-moving operation, JSON (lifecycle/intent.rs).
pub const INTENT_PARAM: &str = "pmss_intent";
/// Marks a service created by import (value: the import date).
pub const IMPORTED_PARAM: &str = "pmss_imported";

/// Item params shown in the service form (xml/ descriptor, form
/// `certificate.pmsslreseller.my`), each written only when its value
/// changes, so each changed fact costs one `mgrctl` call.
///
/// The current certificate: its validity and serial in one param
/// (lifecycle/term.rs `certificate_text`), since they change exactly when
/// the certificate does.
pub const CERTIFICATE_PARAM: &str = "pmss_certificate";
/// The next planned action, with whether it needs a fresh domain validation
/// (lifecycle/term.rs `next_action_text`): both follow from the same plan.
pub const NEXT_ACTION_PARAM: &str = "pmss_next_action";
/// The upstream service's own expiry as last seen (differs from the local
/// paid term on a per-certificate upstream).
pub const UPSTREAM_EXPIRY_PARAM: &str = "pmss_upstream_expiry";
/// The local paid term's end as the module last set it (a renewal, a first
/// issue) or saw it settled (a sync while BILLmanager runs no operation on
/// the item): what one renewal adds one period to, whether or not
/// BILLmanager moved `item.expiredate` itself at payment (prolong.rs
/// `local_target`). Not shown in the form.
pub const PAID_UNTIL_PARAM: &str = "pmss_paid_until";
/// The domain validation in words for the customer: what the CA waits for
/// (the e-mail and where it went, the DNS TXT value to publish) and which
/// names are validated (lifecycle/validation.rs `validation_text`), in the
/// language of `[form] language`.
pub const VALIDATION_STATE_PARAM: &str = "pmss_domain_validation";
/// After a reissue, until the new certificate is deployed: "new
/// certificate issued on DATE, install it before DATE" (the old one's end;
/// commands/deploy/text.rs). Emptied by a successful deployment.
pub const NEW_CERTIFICATE_PARAM: &str = "pmss_new_certificate";
/// The deploy hook's last outcome: "deployed on … (exit 0)" or why not
/// (commands/deploy/).
pub const DEPLOY_PARAM: &str = "pmss_deploy";
/// The service form's params, in the descriptor's order.
pub const FORM_PARAMS: [&str; 6] = [
    CERTIFICATE_PARAM,
    NEXT_ACTION_PARAM,
    UPSTREAM_EXPIRY_PARAM,
    VALIDATION_STATE_PARAM,
    NEW_CERTIFICATE_PARAM,
    DEPLOY_PARAM,
];

/// The form's params before it showed one param per certificate: one per
/// fact of the certificate, and the validation note on its own. No longer
/// written or shown; the end date is still read where an item has not been
/// looked at since (lifecycle/term.rs `cert_end`), and the next look at such
/// an item writes the params above in their place.
pub const LEGACY_CERT_NOT_AFTER_PARAM: &str = "pmss_cert_not_after";
pub const LEGACY_VALIDATION_PARAM: &str = "pmss_validation";

// --- BILLmanager's params ---

/// The certificate sub-status BILLmanager shows ([`super::ServiceStatus`]).
pub const SERVICE_STATUS_PARAM: &str = "service_status";

/// The order data (§12.3), read by `billing::order_data`; an import writes
/// the names it knows (`CN`, `altname`).
pub const CN_PARAM: &str = "CN";
pub const ALTNAME_PARAM: &str = "altname";
pub const OLD_ALTNAME_PARAM: &str = "old_altname";
pub const APPROVER_EMAIL_PARAM: &str = "approver_email";
pub const APPROVER_METHOD_PARAM: &str = "approver_method";
/// The validation data as ISPsystem's certificate modules keep it
/// (field-2026-12 §8): the DNS TXT value the CA looks for, and the names
/// still to verify (comma-separated). Copied from the upstream view
/// (lifecycle/validation.rs).
pub const AUTH_DNSTXT_VALUE_PARAM: &str = "auth_dnstxt_value";
pub const DOMAINS_LIST_PARAM: &str = "domains_list";
/// Fallback when the `certificate` row has no CSR.
pub const CSR_PARAM: &str = "csr";
/// Prefixes of contact params passed through to the upstream order.
pub const CONTACT_PREFIXES: &[&str] = &["adm_", "tech_", "org_"];
