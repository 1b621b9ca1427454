//! The words every layer shares: the module's name, the status numbers of a
//! BILLmanager service, what its period means, and the names of the item
//! params the module reads and writes.
//!
//! A leaf: nothing here names another module of the crate, so `protocol`,
//! `paths`, `upstream`, `billing` and `catalog` can all use these words
//! without depending on one another.

/// Module name: file name of the binary, `<plugin name>`, `processingmodule.module`.
pub const MODULE_NAME: &str = "pmsslreseller";

pub mod item_params;
pub mod item_status;
pub mod period;

pub use item_status::{ItemStatus, ServiceStatus};
pub use period::{OrderPeriod, Period};
