//! Local BILLmanager access (module-protocol.md §9–§11): reads from its MySQL
//! database ([`Db`]), writes through `mgrctl` ([`Mgrctl`]), crypted values
//! ([`CryptKey`]), the one reader of certificate order data
//! ([`CertificateOrderData`]), the status vocabularies ([`ItemStatus`],
//! [`ServiceStatus`]) and what a service's period means ([`Period`]).

pub mod crypt;
pub mod csr;
pub mod db;
pub mod mgrctl;
pub mod order_data;
pub mod period;
pub mod status;

pub use crypt::CryptKey;
pub use db::{
    CertificateRow, Db, DbSettings, ItemRow, ModuleItems, ModuleParams, ModuleSettings,
    RunningOperation, Skipped,
};
pub use mgrctl::Mgrctl;
pub use order_data::{ApproverMethod, CertificateOrderData};
pub use period::{OrderPeriod, Period};
pub use status::{ItemStatus, ServiceStatus};
