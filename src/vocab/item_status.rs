//! The two status vocabularies of a BILLmanager service, each in one enum:
//! `item.status` ([`ItemStatus`], module-protocol.md §9.4) and the
//! certificate sub-status item param `service_status` ([`ServiceStatus`], §12.1).

/// `item.status`.
///
/// P-U7, module-protocol.md §9.4/§18: only 2 (active) and 3 (suspended) are
/// observed in ISPsystem's code. The names of 1, 4 and 5 (ordered / deleted /
/// processing) and the value after `service.postclose` (we assume 4) are
/// guesses; this enum is the one place that holds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemStatus {
    /// 1 — ordered, not yet opened (P-U7).
    Ordered,
    /// 2 — active.
    Active,
    /// 3 — suspended (import code also uses it for expired services).
    Suspended,
    /// 4 — deleted/closed; what `service.postclose` leaves (P-U7).
    Deleted,
    /// 5 — processing (P-U7).
    Processing,
    /// Any other value, kept as read.
    Other(i32),
}

impl ItemStatus {
    pub fn from_db(value: i32) -> ItemStatus {
        match value {
            1 => ItemStatus::Ordered,
            2 => ItemStatus::Active,
            3 => ItemStatus::Suspended,
            4 => ItemStatus::Deleted,
            5 => ItemStatus::Processing,
            other => ItemStatus::Other(other),
        }
    }

    pub fn to_db(self) -> i32 {
        match self {
            ItemStatus::Ordered => 1,
            ItemStatus::Active => 2,
            ItemStatus::Suspended => 3,
            ItemStatus::Deleted => 4,
            ItemStatus::Processing => 5,
            ItemStatus::Other(v) => v,
        }
    }
}

/// Certificate sub-status, item param `service_status`, set with
/// `service.setstatus` (module-protocol.md §12.1, L-SSLSTORE
/// `enum CertificateStatus`; confirmed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceStatus {
    /// 0 — unknown (unused in BM5).
    Unknown,
    /// 1 — ordered, unpaid (unused in BM5).
    Ordered,
    /// 2 — paid, unprocessed (unused in BM5).
    Paid,
    /// 3 — request sent to the CA (for us: to the upstream).
    Requested,
    /// 4 — enrolled, awaiting issuance (validation pending).
    Enrolled,
    /// 5 — issued: expiredate set, crt saved.
    Issued,
    /// 6 — failed (`certificate.failed` called).
    Failed,
}

impl ServiceStatus {
    pub const ALL: [ServiceStatus; 7] = [
        ServiceStatus::Unknown,
        ServiceStatus::Ordered,
        ServiceStatus::Paid,
        ServiceStatus::Requested,
        ServiceStatus::Enrolled,
        ServiceStatus::Issued,
        ServiceStatus::Failed,
    ];

    pub fn code(self) -> u8 {
        match self {
            ServiceStatus::Unknown => 0,
            ServiceStatus::Ordered => 1,
            ServiceStatus::Paid => 2,
            ServiceStatus::Requested => 3,
            ServiceStatus::Enrolled => 4,
            ServiceStatus::Issued => 5,
            ServiceStatus::Failed => 6,
        }
    }

    pub fn from_code(code: u8) -> Option<ServiceStatus> {
        ServiceStatus::ALL
            .iter()
            .copied()
            .find(|s| s.code() == code)
    }

    /// The item param as stored (`"5"`); `None` for anything else.
    pub fn from_param(value: &str) -> Option<ServiceStatus> {
        value
            .trim()
            .parse::<u8>()
            .ok()
            .and_then(ServiceStatus::from_code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_status_round_trip() {
        for v in -1..8 {
            assert_eq!(ItemStatus::from_db(v).to_db(), v);
        }
        assert_eq!(ItemStatus::from_db(2), ItemStatus::Active);
        assert_eq!(ItemStatus::from_db(9), ItemStatus::Other(9));
    }

    #[test]
    fn service_status_codes() {
        for s in ServiceStatus::ALL {
            assert_eq!(ServiceStatus::from_code(s.code()), Some(s));
        }
        assert_eq!(
            ServiceStatus::from_param(" 5 "),
            Some(ServiceStatus::Issued)
        );
        assert_eq!(ServiceStatus::from_param("7"), None);
        assert_eq!(ServiceStatus::from_param("x"), None);
    }
}
