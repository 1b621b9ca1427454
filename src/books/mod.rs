//! The reseller's books: the module's own record of every movement of
//! upstream money it causes (the ledger), kept beside BILLmanager, never in
//! its tables.
//!
//! Storage is one SQLite file under the state directory
//! (`var/pmsslreseller/books.sqlite`): it needs no server, changes none of
//! BILLmanager's tables, survives a package upgrade or reinstall with the
//! state directory, and in WAL mode stays consistent under the parallel,
//! killable processes BILLmanager starts (one writer at a time, readers never
//! blocked; a killed writer's transaction is rolled back at the next open).
//!
//! - [`store`]: opening the file, its pragmas and schema versions.
//! - [`ledger`]: the rows, keyed by the intent of the money movement.
//! - [`report`]: the sales and losses reports over the ledger (pure).
//! - [`readings`]: the upstream balance as the module read it.
//! - [`charges`]: what the upstream really took between two readings,
//!   against the ledger's posted costs.

pub mod charges;
pub mod ledger;
pub mod readings;
pub mod report;
pub mod store;

pub use store::{Books, BooksError};
