//! Making the local item agree with the upstream, shared by every lifecycle
//! step (they share it through here and `job`, never by importing each
//! other):
//! - finding an order whose answer was lost: the ONE reconciliation strategy
//!   (A-U10, upstream-api.md §4), the pure [`find_order`] (`order_match.rs`)
//!   and [`settle_lost_order`] that drives it for a job (`lost_order.rs`);
//! - applying an upstream view to the local item ([`apply_view`], one pass
//!   [`sync_once`]): sync_item, open, prolong and the bulk sync (`apply.rs`);
//! - recognising a reissue or renewal the upstream applied, and settling one
//!   the module sent itself ([`settle_module_owned`]): reopen, prolong and
//!   the automatic actions (`effect.rs`).
//!
//! Each part lives in its own file; all is re-exported here, so callers name
//! `reconcile::…` whichever file holds it.
//!
//! The order lookup:
//!
//! Nothing proves the upstream can filter lists by `remoteid`, shows it as a
//! list column, or shows it in the edit view; so the strategy uses what is
//! there and is strict about ambiguity:
//! 1. one `certificate` list call;
//! 2. rows whose `remoteid` column equals ours are exact matches;
//! 3. otherwise rows with our CN, our tariff (when the column is a number)
//!    and a creation date not before the intent's day (minus one day for time
//!    zones) are candidates; ids already linked to other local items are not;
//! 4. each candidate is viewed: a view `remoteid` equal to ours is exact, a
//!    different one excludes it, none keeps it as a weak match;
//! 5. one exact match, else one weak match, is adopted; more than one is
//!    ambiguous and goes to an admin; none means "not ordered".

mod apply;
mod effect;
mod lost_order;
mod order_match;

pub use apply::{apply_facts, apply_view, commit_status, sync_once, Applied, SyncOutcome};
pub use effect::{
    applied_upstream, reissue_request, reissue_visible, renewal_visible, renewed,
    settle_module_owned, upstream_state,
};
pub use lost_order::{
    adopt, lookup_lost_order, payment_evidence, settle_lost_order, unpaid, Adopted, Lost, Payment,
};
pub use order_match::{find_order, may_be_order, Found, ListRow, ViewIdentity};
