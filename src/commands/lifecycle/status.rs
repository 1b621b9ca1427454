//! Upstream certificate state → the local certificate sub-status
//! (`service_status` item param, module-protocol.md §12.1).
//!
//! The one status-mapping table (A-U8, upstream-api.md §7.2/§10): the upstream's
//! `service_status` (3 requested, 4 enrolled, 5 issued, 6 failed, §7.3) wins when
//! the view shows it; otherwise the numeric `item_status` of the list/view
//! (2 active, 5 processing; 1 ordered, 3 suspended, 4 deleted are the usual
//! but unconfirmed codes) plus the presence of a certificate decide.

pub use crate::billing::ServiceStatus;

/// Human name of a sub-status, for logs and summaries.
pub fn status_name(s: ServiceStatus) -> &'static str {
    match s {
        ServiceStatus::Unknown => "unknown",
        ServiceStatus::Ordered => "ordered",
        ServiceStatus::Paid => "paid",
        ServiceStatus::Requested => "requested",
        ServiceStatus::Enrolled => "awaiting issue",
        ServiceStatus::Issued => "issued",
        ServiceStatus::Failed => "failed",
    }
}

/// Still moving upstream: a sync may change it.
pub fn is_pending(s: ServiceStatus) -> bool {
    !matches!(s, ServiceStatus::Issued | ServiceStatus::Failed)
}

/// The local sub-status from the item param (`None`: not set or unreadable).
pub fn local_status(param: Option<&str>) -> Option<ServiceStatus> {
    param.and_then(ServiceStatus::from_param)
}

// A-U8, upstream-api.md §7.2: upstream item_status codes as we read them.
const UPSTREAM_ITEM_ORDERED: &str = "1";
const UPSTREAM_ITEM_ACTIVE: &str = "2";
const UPSTREAM_ITEM_SUSPENDED: &str = "3";
const UPSTREAM_ITEM_DELETED: &str = "4";
const UPSTREAM_ITEM_PROCESSING: &str = "5";

/// What the upstream shows about one certificate, from a view or a list row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpstreamState<'a> {
    pub service_status: Option<u8>,
    pub item_status: Option<&'a str>,
    pub has_crt: bool,
}

/// The mapping (A-U8). `None`: the upstream state says nothing we can map
/// (an unknown code, or a label instead of a number); callers then leave the
/// local state as it is.
pub fn map_upstream(s: UpstreamState<'_>) -> Option<ServiceStatus> {
    if let Some(code) = s.service_status {
        match code {
            0..=3 => return Some(ServiceStatus::Requested),
            4 => return Some(ServiceStatus::Enrolled),
            5 if s.has_crt => return Some(ServiceStatus::Issued),
            // "issued" without a certificate to save: not issued for us yet.
            5 => return Some(ServiceStatus::Enrolled),
            6 => return Some(ServiceStatus::Failed),
            _ => {}
        }
    }
    match s.item_status.map(str::trim) {
        Some(UPSTREAM_ITEM_ACTIVE) | Some(UPSTREAM_ITEM_SUSPENDED) if s.has_crt => {
            Some(ServiceStatus::Issued)
        }
        Some(UPSTREAM_ITEM_ACTIVE) => Some(ServiceStatus::Enrolled),
        Some(UPSTREAM_ITEM_ORDERED) | Some(UPSTREAM_ITEM_PROCESSING) => {
            Some(ServiceStatus::Requested)
        }
        Some(UPSTREAM_ITEM_DELETED) => Some(ServiceStatus::Failed),
        _ => None,
    }
}

/// A list row (no `service_status`, no crt) — used by the bulk sync only to
/// decide whether a row may have changed: `Some(true)` = the row says the
/// certificate is live and usable, `Some(false)` = still in work or gone,
/// `None` = cannot tell (A-U8).
pub fn list_row_is_active(item_status: Option<&str>) -> Option<bool> {
    match item_status.map(str::trim) {
        Some(UPSTREAM_ITEM_ACTIVE) | Some(UPSTREAM_ITEM_SUSPENDED) => Some(true),
        Some(UPSTREAM_ITEM_ORDERED)
        | Some(UPSTREAM_ITEM_PROCESSING)
        | Some(UPSTREAM_ITEM_DELETED) => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(ss: Option<u8>, is: Option<&str>, crt: bool) -> Option<ServiceStatus> {
        map_upstream(UpstreamState {
            service_status: ss,
            item_status: is,
            has_crt: crt,
        })
    }

    #[test]
    fn service_status_wins() {
        assert_eq!(
            st(Some(3), Some("5"), false),
            Some(ServiceStatus::Requested)
        );
        assert_eq!(st(Some(4), Some("5"), false), Some(ServiceStatus::Enrolled));
        assert_eq!(st(Some(5), Some("2"), true), Some(ServiceStatus::Issued));
        assert_eq!(st(Some(5), Some("2"), false), Some(ServiceStatus::Enrolled));
        assert_eq!(st(Some(6), Some("2"), false), Some(ServiceStatus::Failed));
    }

    #[test]
    fn item_status_fallback() {
        assert_eq!(st(None, Some("2"), true), Some(ServiceStatus::Issued));
        assert_eq!(st(None, Some("2"), false), Some(ServiceStatus::Enrolled));
        assert_eq!(st(None, Some("5"), false), Some(ServiceStatus::Requested));
        assert_eq!(st(None, Some("4"), false), Some(ServiceStatus::Failed));
        assert_eq!(st(None, Some("Active"), true), None);
        assert_eq!(st(Some(9), None, false), None);
    }

    #[test]
    fn pending_and_local() {
        assert!(is_pending(ServiceStatus::Requested) && is_pending(ServiceStatus::Enrolled));
        assert!(!is_pending(ServiceStatus::Issued) && !is_pending(ServiceStatus::Failed));
        assert_eq!(local_status(Some("5")), Some(ServiceStatus::Issued));
        assert_eq!(local_status(Some("x")), None);
        assert_eq!(local_status(None), None);
        assert_eq!(status_name(ServiceStatus::Enrolled), "awaiting issue");
    }

    #[test]
    fn list_rows() {
        assert_eq!(list_row_is_active(Some("2")), Some(true));
        assert_eq!(list_row_is_active(Some("5")), Some(false));
        assert_eq!(list_row_is_active(Some("green")), None);
    }
}
