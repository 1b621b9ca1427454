//! The certificate lifecycle: open, sync_item, prolong, reopen, suspend,
//! resume, close, and the approver list — safe under retries and crashes.
//!
//! One file per command, each reading like the step it implements. Shared
//! pieces: the intent record and its state machine (`intent`), the per-item
//! lock (`lock`), the reconciliation strategy for lost answers (`reconcile`),
//! the upstream → local status table (`status`), the reissue-kind choice
//! (`reissue_kind`), failure reporting and retry caps (`failure`),
//! maintenance mode (`maintenance`).

pub mod approver;
pub mod failure;
pub mod intent;
pub mod lock;
pub mod maintenance;
pub mod reconcile;
pub mod reissue_kind;
pub mod status;
