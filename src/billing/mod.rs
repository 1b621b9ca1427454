//! Local BILLmanager access (module-protocol.md §9–§11): reads from its MySQL
//! database ([`Db`]), writes through `mgrctl` ([`Mgrctl`]), crypted values
//! ([`CryptKey`]), the one reader of certificate order data
//! ([`CertificateOrderData`]). The words it shares with the other layers
//! (status numbers, periods, item param names) are in [`crate::vocab`].

pub mod crypt;
pub mod csr;
pub mod db;
pub mod mgrctl;
pub mod order_data;

pub use crypt::CryptKey;
pub use db::{
    AccountRow, CertificateRow, Db, DbSettings, ItemRow, ModuleItems, ModuleParams, ModuleSettings,
    RunningOperation, Skipped,
};
pub use mgrctl::Mgrctl;
pub use order_data::{ApproverMethod, CertificateOrderData};
