//! Upstream certificate state → the local certificate sub-status
//! (`service_status` item param, module-protocol.md §12.1).
//!
//! The one status-mapping table (A-U8, upstream-api.md §7.2/§10): the upstream's
//! `service_status` (3 requested, 4 enrolled, 5 issued, 6 failed, §7.3) wins when
//! the view shows it; otherwise the service status code of the list/view, read
//! into the local vocabulary [`ItemStatus`] by `upstream::wire::item_status_code`
//! (0 unknown, 1 ordered, 2 active, 3 stopped, 4 deleted, 5 processing), plus
//! the presence of a certificate decide.

pub use crate::vocab::{ItemStatus, ServiceStatus};

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

/// What the upstream shows about one certificate, from a view or a list row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpstreamState {
    pub service_status: Option<u8>,
    /// The service status code (`upstream::wire::item_status_code`), in the
    /// same vocabulary as the local `item.status` (evidence-2026-12 "Item
    /// status numbers").
    pub item_status: Option<ItemStatus>,
    pub has_crt: bool,
}

/// The mapping (A-U8). `None`: the upstream state says nothing we can map
/// (an unknown code, or only a label); callers then leave the local state
/// as it is.
pub fn map_upstream(s: UpstreamState) -> Option<ServiceStatus> {
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
    match s.item_status? {
        ItemStatus::Active | ItemStatus::Suspended if s.has_crt => Some(ServiceStatus::Issued),
        ItemStatus::Active => Some(ServiceStatus::Enrolled),
        ItemStatus::Ordered | ItemStatus::Processing => Some(ServiceStatus::Requested),
        ItemStatus::Deleted => Some(ServiceStatus::Failed),
        // Stopped without a certificate, or a code we do not know.
        ItemStatus::Suspended | ItemStatus::Other(_) => None,
    }
}

/// A list row (no `service_status`, no crt) — used by the bulk sync only to
/// decide whether a row may have changed: `Some(true)` = the row says the
/// certificate is live and usable, `Some(false)` = still in work or gone,
/// `None` = cannot tell (A-U8).
pub fn list_row_is_active(item_status: Option<ItemStatus>) -> Option<bool> {
    match item_status? {
        ItemStatus::Active | ItemStatus::Suspended => Some(true),
        ItemStatus::Ordered | ItemStatus::Processing | ItemStatus::Deleted => Some(false),
        ItemStatus::Other(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(ss: Option<u8>, is: Option<&str>, crt: bool) -> Option<ServiceStatus> {
        map_upstream(UpstreamState {
            service_status: ss,
            item_status: code(is),
            has_crt: crt,
        })
    }

    /// As `wire::item_status_code` reads a numeric field.
    fn code(is: Option<&str>) -> Option<ItemStatus> {
        is.and_then(|v| v.parse().ok()).map(ItemStatus::from_db)
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
        assert_eq!(list_row_is_active(code(Some("2"))), Some(true));
        assert_eq!(list_row_is_active(code(Some("5"))), Some(false));
        assert_eq!(list_row_is_active(code(Some("green"))), None);
        assert_eq!(list_row_is_active(code(Some("0"))), None);
    }
}
