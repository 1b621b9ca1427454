//! Upstream certificate state → the local certificate sub-status
//! (`service_status` item param, module-protocol.md §12.1).
//!
//! The one status-mapping table (A-U8, upstream-api.md §7.2/§10): the upstream's
//! `service_status` (3 requested, 4 enrolled, 5 issued, 6 failed, §7.3) wins when
//! the view shows it; otherwise the numeric `item_status` of the list/view
//! (2 active, 5 processing; 1 ordered, 3 suspended, 4 deleted are the usual
//! but unconfirmed codes) plus the presence of a certificate decide.

/// The local sub-status values we set (module-protocol.md §12.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertStatus {
    /// 3: request sent to the CA.
    Requested,
    /// 4: validation pending, awaiting issuance.
    AwaitingIssue,
    /// 5: issued (crt saved, expiry set).
    Issued,
    /// 6: failed (`certificate.failed` called).
    Failed,
}

impl CertStatus {
    /// The value written with `service.setstatus service_status=N`.
    pub fn code(self) -> u8 {
        match self {
            CertStatus::Requested => 3,
            CertStatus::AwaitingIssue => 4,
            CertStatus::Issued => 5,
            CertStatus::Failed => 6,
        }
    }

    /// The local param value read back (`service_status`).
    pub fn from_code(code: u8) -> Option<CertStatus> {
        Some(match code {
            3 => CertStatus::Requested,
            4 => CertStatus::AwaitingIssue,
            5 => CertStatus::Issued,
            6 => CertStatus::Failed,
            _ => return None,
        })
    }

    pub fn from_param(value: Option<&str>) -> Option<CertStatus> {
        value
            .and_then(|v| v.trim().parse::<u8>().ok())
            .and_then(CertStatus::from_code)
    }

    pub fn name(self) -> &'static str {
        match self {
            CertStatus::Requested => "requested",
            CertStatus::AwaitingIssue => "awaiting issue",
            CertStatus::Issued => "issued",
            CertStatus::Failed => "failed",
        }
    }

    /// Still moving: a sync may change it.
    pub fn pending(self) -> bool {
        matches!(self, CertStatus::Requested | CertStatus::AwaitingIssue)
    }
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
pub fn map_upstream(s: UpstreamState<'_>) -> Option<CertStatus> {
    if let Some(code) = s.service_status {
        match code {
            0..=3 => return Some(CertStatus::Requested),
            4 => return Some(CertStatus::AwaitingIssue),
            5 if s.has_crt => return Some(CertStatus::Issued),
            // "issued" without a certificate to save: not issued for us yet.
            5 => return Some(CertStatus::AwaitingIssue),
            6 => return Some(CertStatus::Failed),
            _ => {}
        }
    }
    match s.item_status.map(str::trim) {
        Some(UPSTREAM_ITEM_ACTIVE) | Some(UPSTREAM_ITEM_SUSPENDED) if s.has_crt => {
            Some(CertStatus::Issued)
        }
        Some(UPSTREAM_ITEM_ACTIVE) => Some(CertStatus::AwaitingIssue),
        Some(UPSTREAM_ITEM_ORDERED) | Some(UPSTREAM_ITEM_PROCESSING) => Some(CertStatus::Requested),
        Some(UPSTREAM_ITEM_DELETED) => Some(CertStatus::Failed),
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

    fn st(ss: Option<u8>, is: Option<&str>, crt: bool) -> Option<CertStatus> {
        map_upstream(UpstreamState {
            service_status: ss,
            item_status: is,
            has_crt: crt,
        })
    }

    #[test]
    fn service_status_wins() {
        assert_eq!(st(Some(3), Some("5"), false), Some(CertStatus::Requested));
        assert_eq!(
            st(Some(4), Some("5"), false),
            Some(CertStatus::AwaitingIssue)
        );
        assert_eq!(st(Some(5), Some("2"), true), Some(CertStatus::Issued));
        assert_eq!(
            st(Some(5), Some("2"), false),
            Some(CertStatus::AwaitingIssue)
        );
        assert_eq!(st(Some(6), Some("2"), false), Some(CertStatus::Failed));
    }

    #[test]
    fn item_status_fallback() {
        assert_eq!(st(None, Some("2"), true), Some(CertStatus::Issued));
        assert_eq!(st(None, Some("2"), false), Some(CertStatus::AwaitingIssue));
        assert_eq!(st(None, Some("5"), false), Some(CertStatus::Requested));
        assert_eq!(st(None, Some("4"), false), Some(CertStatus::Failed));
        assert_eq!(st(None, Some("Active"), true), None);
        assert_eq!(st(Some(9), None, false), None);
    }

    #[test]
    fn codes_round_trip() {
        for s in [
            CertStatus::Requested,
            CertStatus::AwaitingIssue,
            CertStatus::Issued,
            CertStatus::Failed,
        ] {
            assert_eq!(CertStatus::from_code(s.code()), Some(s));
            assert_eq!(CertStatus::from_param(Some(&s.code().to_string())), Some(s));
        }
        assert_eq!(CertStatus::from_param(Some("x")), None);
        assert!(CertStatus::Requested.pending() && !CertStatus::Issued.pending());
    }

    #[test]
    fn list_rows() {
        assert_eq!(list_row_is_active(Some("2")), Some(true));
        assert_eq!(list_row_is_active(Some("5")), Some(false));
        assert_eq!(list_row_is_active(Some("green")), None);
    }
}
