//! Telling BILLmanager that a certificate was ordered or issued: the one place
//! of the post-open convention (P-U3, module-protocol.md §12.5, §18).
//!
//! Common to both known conventions: `service.postopen` at order time,
//! `certificate.save` + sub-status 5 at issuance. ISPsystem's BILLmanager 5
//! modules also call `certificate.open` at issuance; its BILLmanager 6 module
//! calls `certificate.open` at order time instead. `[lifecycle]
//! open_convention` chooses; the default is the common part only.

use crate::billing::Mgrctl;
use crate::config::OpenConvention;
use crate::protocol::error::Result;

/// The certificate was ordered upstream: finish the `open` operation.
pub fn report_ordered(mgrctl: &Mgrctl, item: u64, convention: OpenConvention) -> Result<()> {
    match convention {
        OpenConvention::Postopen | OpenConvention::Bm5 => mgrctl.postopen(item),
        OpenConvention::Bm6 => mgrctl.certificate_open(item),
    }
}

/// The certificate was issued for the first time (after `certificate.save`).
pub fn report_first_issue(mgrctl: &Mgrctl, item: u64, convention: OpenConvention) -> Result<()> {
    match convention {
        OpenConvention::Bm5 => mgrctl.certificate_open(item),
        OpenConvention::Postopen | OpenConvention::Bm6 => Ok(()),
    }
}
